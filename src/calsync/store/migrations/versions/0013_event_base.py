"""Events remember the provider's version a local change is based on.

``base_fingerprint`` is the fingerprint of the last version of the event known
to be on the provider: set whenever a pull stores the provider's version, and
when a push is confirmed or the provider's version adopted; an API write leaves
it alone. It tells an etag that moved without the content moving (servers
re-tag versions nobody edited) from a real concurrent edit, so a pending local
change on top of an unchanged remote version is pushed, not reverted as a
conflict (`calsync.sync.bases`).

Existing rows with nothing pending hold what the provider last held, so they
start with that as their base; the others stay unknown (NULL), which the
planner treats as it did before this column existed.

Revision ID: 0013_event_base
Revises: 0012_profile_discovery
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_event_base"
down_revision: str | None = "0012_profile_discovery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = sa.table(
    "events",
    sa.column("base_fingerprint", sa.String),
    sa.column("fingerprint", sa.String),
    sa.column("push_state", sa.String),
    sa.column("deleted", sa.Boolean),
    sa.column("remote_id", sa.String),
)


# Plain ADD COLUMN on both backends (as in 0010: a batch copy-and-rename on
# SQLite would drop the events table, and nothing is gained by rebuilding it).
def upgrade() -> None:
    op.add_column("events", sa.Column("base_fingerprint", sa.String(length=80), nullable=True))
    op.execute(
        _EVENTS.update()
        .where(
            _EVENTS.c.push_state == "none",
            _EVENTS.c.deleted.is_(False),
            _EVENTS.c.remote_id.is_not(None),
        )
        .values(base_fingerprint=_EVENTS.c.fingerprint)
    )


def downgrade() -> None:
    op.drop_column("events", "base_fingerprint")
