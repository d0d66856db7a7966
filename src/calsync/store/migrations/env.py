"""Alembic environment: runs on the connection `calsync.store.schema.upgrade` passes in.

There is no alembic.ini: use ``calsync db upgrade`` (or `Store.upgrade`).
"""

from __future__ import annotations

from alembic import context

from calsync.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `calsync db upgrade` (Store.upgrade())")

context.configure(
    connection=connection,
    target_metadata=metadata(),
    # SQLite cannot ALTER most things: let ops rebuild tables in batch mode.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
