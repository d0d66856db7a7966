"""ORM model of provider push channels (Google ``events.watch`` and the like).

One row per channel calsync opened on a remote calendar. The row is written
*before* the provider is asked to watch (``resource_id`` still None), so the
provider's immediate ``sync`` handshake already finds it. Only a SHA-256 of
the channel token is kept: a database leak cannot forge notifications.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class ProviderChannel(Base):
    __tablename__ = "provider_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The id we chose and the provider echoes in every notification.
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), index=True
    )
    #: The provider's id of the watched resource; None until `watch` answered.
    resource_id: Mapped[str | None] = mapped_column(String(255))
    #: SHA-256 (hex) of the channel token.
    token_hash: Mapped[str] = mapped_column(String(64))
    #: Where the provider POSTs; a changed ``[api] base_url`` makes the channel stale.
    address: Mapped[str] = mapped_column(Text)
    expiration: Mapped[datetime | None]
    created_at: Mapped[datetime]
