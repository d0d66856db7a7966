"""ORM models of push notifications: channels and their per-channel deliveries.

The store's write path folds event changes into ``notification_outbox`` rows
(one per account and calendar per transaction). The relay in `calsync.notify`
expands those rows into ``notification_deliveries``: one row per channel and
notification, whose ``webhook_id`` stays the same on every retry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class Channel(Base):
    __tablename__ = "notification_channels"
    # Creating a channel identical to an existing one returns that one.
    __table_args__ = (UniqueConstraint("account_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    callback_url: Mapped[str] = mapped_column(Text)
    filters: Mapped[Any] = mapped_column(JSON)
    #: SHA-256 of the canonical (callback_url, filters).
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    #: Consecutive failed attempts; reset by a success.
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    #: First failure since the last success: the channel is disabled 3 days after it.
    failing_since: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        Index(None, "channel_id", "status"),
        # PostgreSQL keeps room on each page (fillfactor 70) so the lease update
        # (no indexed column changes) stays on the row's page: a HOT update, no new
        # index entries. Migration 0004 sets it, and migrations are the only way
        # tables are made. Not declared here as ``postgresql_with``: a dialect
        # option makes SQLAlchemy import its PostgreSQL dialect (~40 ms) in every
        # process that imports the models, SQLite ones included (issue #11).
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The Standard Webhooks ``webhook-id``: stable across retries.
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    #: Earliest ``updated`` covered (change notifications only).
    changes_since: Mapped[datetime | None]
    first_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    change_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Extra body fields (profile notifications).
    payload: Mapped[Any | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    #: Commit time of the oldest change covered (for latency figures).
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
