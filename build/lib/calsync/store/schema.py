"""Schema versions: Alembic, run programmatically from the migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from calsync.errors import StoreError
from calsync.store import (
    channels_models,  # noqa: F401  (registers its tables on Base)
    provider_channels_models,  # noqa: F401  (registers its table)
    push_models,  # noqa: F401  (registers its table)
)
from calsync.store.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Serializes concurrent `upgrade` calls of several replicas on PostgreSQL.
_PG_UPGRADE_LOCK_KEY = 0x63616C73  # "cals"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection) -> tuple[str | None, str]:
    """Apply every pending migration inside the caller's transaction.

    Returns the revision before (None: an empty database) and after, so
    ``calsync db upgrade`` can say what it did.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_UPGRADE_LOCK_KEY})
    before = current_revision(connection)
    command.upgrade(alembic_config(connection), "head")
    after = current_revision(connection)
    assert after is not None
    return before, after


def ensure_current(connection: Connection) -> None:
    current, head = current_revision(connection), head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise StoreError(f"the store schema is {state}; this calsync needs revision {head}")


def schema_diff(connection: Connection) -> list[Any]:
    """Differences between the models and the database (empty when they agree)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))
