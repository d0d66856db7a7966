"""Events are indexed by account and ``change_seq``.

After a write, an availability question reads only the member's events written
since the version it kept (`calsync.store.repos.busy.busy_changes`:
``account_id = ? AND change_seq > ?``). Without this index that read walked
every event of the account: 17-19 ms for an account of 100,000 events (SQLite
and PostgreSQL), against 0.2-0.6 ms with it (bench/RESULTS.md, "Availability
after a write on large accounts").

Revision ID: 0014_event_change_seq
Revises: 0013_event_base
Create Date: 2026-12-08 00:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_event_change_seq"
down_revision: str | None = "0013_event_base"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_events_account_id_change_seq"), "events", ["account_id", "change_seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_events_account_id_change_seq"), table_name="events")
