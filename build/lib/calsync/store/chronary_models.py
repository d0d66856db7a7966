"""ORM models behind the Chronary dialect of the API (`calsync.api.chronary`).

Nothing here is a second copy of calendars or events: an agent is a row
beside its account (1:1), event extras sit beside their event row, and the
calendars and events themselves are the ones every other part of calsync
reads and writes.

* ``api_keys``: organization API keys; only a SHA-256 of each is kept.
* ``idempotency_keys``: the first answer to each ``Idempotency-Key``, kept a day.
* ``agents``: what Chronary says about an account (type, status, metadata).
* ``event_extras``: an event's Chronary metadata and reminders. They are not
  event content: no provider stores them, so they stay out of the fingerprint
  and out of pushes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of method, path, query and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: None while the first request is still running.
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Agent(Base):
    __tablename__ = "agents"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: The organization the agent belongs to (the first one whose dialect saw the account).
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(16))  # ai | human | resource
    status: Mapped[str] = mapped_column(String(16))  # active | paused | decommissioned
    description: Mapped[str | None] = mapped_column(Text)
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EventExtra(Base):
    __tablename__ = "event_extras"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    reminders: Mapped[Any | None] = mapped_column(JSON)
    updated_at: Mapped[datetime]
