"""Schema versions: Alembic, run programmatically from the migrations shipped in the package.

Alembic (with Mako and Pygments) costs about as much to import as the rest of a
``calsync sync --once``, and only ``calsync db upgrade`` (and the daemon's start)
migrates. So it is imported inside the functions that run migrations, and
`ensure_current`, which every command that opens the store calls, reads the
shipped head from the migration files' text and the current revision with one
query (`shipped_head`; a test keeps it equal to Alembic's own answer).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from calsync.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import MetaData

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
#: Serializes concurrent `upgrade` calls of several replicas on PostgreSQL.
_PG_UPGRADE_LOCK_KEY = 0x63616C73  # "cals"
#: Alembic's default version table.
_VERSION_TABLE = "alembic_version"

# `revision: str = "0001"` and `down_revision: str | None = "0001"` (or a tuple of
# ids for a merge), as every migration file here writes them.
_REVISION = re.compile(r"^revision\s*(?::[^=\n]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=\n]*)?=\s*(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


#: Every module that maps tables. Each is imported by the repositories that use it,
#: so a command imports only the mapped classes it queries (mapping one costs about
#: a millisecond per column: issue #11); migrations and schema checks want them all.
MODEL_MODULES = (
    "calsync.store.models",
    "calsync.store.availability_models",
    "calsync.store.channels_models",
    "calsync.store.chronary_models",
    "calsync.store.connect_models",
    "calsync.store.lease_models",
    "calsync.store.provider_channels_models",
    "calsync.store.push_models",
    "calsync.store.rate_models",
)


def metadata() -> MetaData:
    """The metadata of every calsync table (imports all the model modules)."""
    from importlib import import_module

    for name in MODEL_MODULES:
        import_module(name)
    from calsync.store.models import Base

    return Base.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision, as Alembic finds it (imports Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def shipped_head() -> str:
    """The newest revision, read from the migration files without importing them.

    Falls back to `head_revision` when the files do not state one single head
    plainly (a branch, or an unusual way of writing the ids).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return head_revision()
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    if len(heads) != 1:
        return head_revision()
    return heads.pop()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    if len(rows) != 1:
        # Several heads (or none) in the table: not a state this calsync writes.
        return ",".join(sorted(str(row[0]) for row in rows)) or None
    return str(rows[0][0])


def upgrade(connection: Connection) -> tuple[str | None, str]:
    """Apply every pending migration inside the caller's transaction.

    Returns the revision before (None: an empty database) and after, so
    ``calsync db upgrade`` can say what it did.
    """
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_UPGRADE_LOCK_KEY})
    before = current_revision(connection)
    command.upgrade(alembic_config(connection), "head")
    after = current_revision(connection)
    assert after is not None
    return before, after


def ensure_current(connection: Connection) -> None:
    current, head = current_revision(connection), shipped_head()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise StoreError(f"the store schema is {state}; this calsync needs revision {head}")


def schema_diff(connection: Connection) -> list[Any]:
    """Differences between the models and the database (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata()))
