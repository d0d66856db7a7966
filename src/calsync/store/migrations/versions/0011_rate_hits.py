"""API rate-limit log shared by PostgreSQL replicas.

Revision ID: 0011_rate_hits
Revises: 0010_profile_status
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_rate_hits"
down_revision: str | None = "0010_profile_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_hits",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_hits")),
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ["key", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("rate_hits")
