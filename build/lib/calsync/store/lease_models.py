"""ORM models of sync ownership between replicas sharing one PostgreSQL store.

`SyncLease`: one row per synced calendar. The replica named in ``holder`` owns
the calendar's sync until ``lease_until``; it renews the lease by heartbeat.
``token`` grows by one each time the lease changes hands: every commit of a
sync checks it (fencing), so a replica that lost its lease (a pause longer
than the TTL, a partition) cannot commit a stale cursor or plan.

`Replica`: one row per running ``calsync run``, beaten with the leases: the
live replicas share the calendars among themselves, and each reports its
``[[accounts]]`` digest so that a disagreement is visible.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class SyncLease(Base):
    __tablename__ = "sync_leases"
    __table_args__ = (Index("ix_sync_leases_holder", "holder"),)

    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str | None] = mapped_column(String(128))
    #: The fencing token: +1 whenever the lease is granted.
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_until: Mapped[datetime | None]
    #: When the calendar should next be synced (None: at once).
    due_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    synced_by: Mapped[str | None] = mapped_column(String(128))


class Replica(Base):
    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    listen: Mapped[str] = mapped_column(String(255))
    #: A hash of the replica's ``[[accounts]]``, and their names (JSON list).
    accounts_digest: Mapped[str] = mapped_column(String(64))
    accounts: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
