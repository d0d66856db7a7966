"""The push journal: a write-ahead record of each push to a provider.

Revision ID: 0005_push_attempts
Revises: 0004_delivery_fillfactor
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_push_attempts"
down_revision: str | None = "0004_delivery_fillfactor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("event_uid", sa.String(length=64), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("content_key", sa.String(length=64), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_push_attempts_calendar_id_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_attempts")),
    )
    op.create_index(
        op.f("ix_push_attempts_calendar_id"), "push_attempts", ["calendar_id"], unique=False
    )
    op.create_index(
        op.f("ix_push_attempts_event_uid"), "push_attempts", ["event_uid"], unique=False
    )


def downgrade() -> None:
    op.drop_table("push_attempts")
