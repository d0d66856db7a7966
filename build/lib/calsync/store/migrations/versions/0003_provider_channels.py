"""Provider push channels (Google events.watch).

Revision ID: 0003_provider_channels
Revises: 0002
Create Date: 2026-11-22 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_provider_channels"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("expiration", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_provider_channels_calendar_id_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_channels")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_provider_channels_channel_id")),
    )
    op.create_index(
        op.f("ix_provider_channels_calendar_id"),
        "provider_channels",
        ["calendar_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("provider_channels")
