"""Profile status: the last account-level error, and the credentials a provider refused.

``last_error`` keeps what stopped a profile's sync before any calendar could
record it (an unreachable server on the very first attempt, a calendar filter
that matches nothing). ``refused_credentials`` is a fingerprint of the
credentials a provider refused: the engine does not send the same ones again.

Revision ID: 0010_profile_status
Revises: 0009_availability
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_profile_status"
down_revision: str | None = "0009_availability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE ... ADD COLUMN on both backends: a batch (copy-and-rename) on
# SQLite would drop the profiles table, and its ON DELETE CASCADE the calendars with it.
def upgrade() -> None:
    op.add_column("profiles", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("profiles", sa.Column("refused_credentials", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("profiles", "refused_credentials")
    op.drop_column("profiles", "last_error")
