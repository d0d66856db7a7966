"""Availability: rules per account, and the indexes of the busy read.

Revision ID: 0009_availability
Revises: 0008_sync_leases
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_availability"
down_revision: str | None = "0008_sync_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "availability_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("tzid", sa.String(length=64), nullable=False),
        sa.Column("calendar_ids", sa.JSON(), nullable=True),
        sa.Column("weekly_periods", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_availability_rules_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_rules")),
        sa.UniqueConstraint(
            "account_id", "rule_id", name=op.f("uq_availability_rules_account_id_rule_id")
        ),
    )
    op.create_index(op.f("ix_events_account_id_end_at"), "events", ["account_id", "end_at"])
    op.create_index(op.f("ix_events_account_id_recurring"), "events", ["account_id", "recurring"])
    op.create_index(
        op.f("ix_events_account_id_recurring_event_uid"),
        "events",
        ["account_id", "recurring_event_uid"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_events_account_id_recurring_event_uid"), table_name="events")
    op.drop_index(op.f("ix_events_account_id_recurring"), table_name="events")
    op.drop_index(op.f("ix_events_account_id_end_at"), table_name="events")
    op.drop_table("availability_rules")
