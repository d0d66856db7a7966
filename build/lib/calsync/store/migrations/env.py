"""Alembic environment: runs on the connection `calsync.store.schema.upgrade` passes in.

There is no alembic.ini: use ``calsync db upgrade`` (or `Store.upgrade`).
"""

from __future__ import annotations

from alembic import context

from calsync.store import (
    availability_models,  # noqa: F401  (registers its table)
    channels_models,  # noqa: F401  (registers its tables on Base)
    connect_models,  # noqa: F401  (registers its tables)
    provider_channels_models,  # noqa: F401  (registers its table)
    push_models,  # noqa: F401  (registers its table)
)
from calsync.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `calsync db upgrade` (Store.upgrade())")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: let ops rebuild tables in batch mode.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
