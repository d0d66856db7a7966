"""Leave room on notification_deliveries pages so lease updates are HOT (PostgreSQL).

A delivery is inserted once, then updated twice (leased, then delivered).
The lease update changes no indexed column; with free space on the row's page
PostgreSQL updates it in place (HOT) instead of writing a new entry into all
four indexes. The default fillfactor (100) packs pages full, so every such
update had to move the row. SQLite has no equivalent: nothing to do there.

Revision ID: 0004_delivery_fillfactor
Revises: 0003_provider_channels
Create Date: 2026-11-21 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_delivery_fillfactor"
down_revision: str | None = "0003_provider_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Keep in step with ``Delivery.__table_args__`` in ``store/channels_models.py``.
DELIVERY_FILLFACTOR = 70


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Applies to pages written from now on; existing rows keep their pages.
        op.execute(f"ALTER TABLE notification_deliveries SET (fillfactor = {DELIVERY_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE notification_deliveries RESET (fillfactor)")
