"""When a profile's calendars were last discovered, and with which account options.

``calsync sync --once`` is a fresh process each time: without this it discovered
the calendars (two or three requests, and a write) on every run, where the daemon
does it every ``[sync] rediscover_interval``. ``discovery_key`` is the fingerprint
of the account's options (`calsync.sync.credentials.fingerprint`): a changed
``url`` or ``calendars`` filter makes the next pass discover again.

Revision ID: 0012_profile_discovery
Revises: 0011_rate_hits
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_profile_discovery"
down_revision: str | None = "0011_rate_hits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD COLUMN on both backends (see 0010: a batch rebuild on SQLite would
# cascade-delete the calendars).
def upgrade() -> None:
    op.add_column("profiles", sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("profiles", sa.Column("discovery_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("profiles", "discovery_key")
    op.drop_column("profiles", "discovered_at")
