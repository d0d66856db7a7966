"""The change log, the notification outbox and the per-calendar sync cursors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from calsync.store.journal import Journal
from calsync.store.models import ChangeLogEntry, OutboxEntry, SyncCursor
from calsync.store.records import ChangeRecord, CursorRecord, OutboxRecord
from calsync.store.sql import upsert, utcnow

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def _change_record(row: ChangeLogEntry) -> ChangeRecord:
    return ChangeRecord(
        pk=row.id,
        account_pk=row.account_id,
        calendar_pk=row.calendar_id,
        event_uid=row.event_uid,
        seq=row.seq,
        op=row.op,
        source=row.source,
        updated=row.updated,
        previous=row.previous,
    )


def _outbox_record(row: OutboxEntry) -> OutboxRecord:
    return OutboxRecord(
        pk=row.id,
        account_pk=row.account_id,
        calendar_pk=row.calendar_id,
        kind=row.kind,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        available_at=row.available_at,
        lease_until=row.lease_until,
        leased_by=row.leased_by,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class ChangeLogRepo:
    def __init__(self, session: Session) -> None:
        self._session = session

    def list_since(
        self, account_pk: int, after_seq: int = 0, *, limit: int = 1000
    ) -> list[ChangeRecord]:
        """The account's changes with ``seq > after_seq``, oldest first."""
        stmt = (
            select(ChangeLogEntry)
            .where(ChangeLogEntry.account_id == account_pk, ChangeLogEntry.seq > after_seq)
            .order_by(ChangeLogEntry.seq, ChangeLogEntry.id)
            .limit(limit)
        )
        return [_change_record(r) for r in self._session.execute(stmt).scalars()]

    def count(self, account_pk: int | None = None) -> int:
        stmt = select(func.count()).select_from(ChangeLogEntry)
        if account_pk is not None:
            stmt = stmt.where(ChangeLogEntry.account_id == account_pk)
        return int(self._session.execute(stmt).scalar_one())


class OutboxRepo:
    """Notifications waiting to be delivered. Event changes are added by the
    write path; other kinds (e.g. ``profile_disconnected``) through `add`."""

    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def add(
        self,
        account_pk: int,
        kind: str,
        payload: dict[str, Any],
        *,
        calendar_pk: int | None = None,
        available_at: datetime | None = None,
    ) -> int:
        self._journal.require_writable()
        self._journal.outbox_rows += 1
        now = utcnow()
        row = OutboxEntry(
            account_id=account_pk,
            calendar_id=calendar_pk,
            kind=kind,
            payload=payload,
            status=PENDING,
            attempts=0,
            available_at=available_at or now,
            created_at=now,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def claim(self, worker: str, *, limit: int = 100, lease: timedelta) -> list[OutboxRecord]:
        """Lease up to ``limit`` due rows to ``worker`` (``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL). Commit the unit of work before delivering: the lease holds."""
        self._journal.require_writable()
        now = utcnow()
        stmt = (
            select(OutboxEntry)
            .where(
                OutboxEntry.status == PENDING,
                OutboxEntry.available_at <= now,
                or_(OutboxEntry.lease_until.is_(None), OutboxEntry.lease_until <= now),
            )
            .order_by(OutboxEntry.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        rows = list(self._session.execute(stmt).scalars())
        for row in rows:
            row.lease_until = now + lease
            row.leased_by = worker
            row.attempts += 1
        self._session.flush()
        return [_outbox_record(r) for r in rows]

    def mark_delivered(self, outbox_pk: int) -> None:
        self._journal.require_writable()
        row = self._session.get(OutboxEntry, outbox_pk)
        if row is not None:
            row.status, row.delivered_at = DELIVERED, utcnow()
            row.lease_until = row.leased_by = row.last_error = None

    def mark_failed(self, outbox_pk: int, error: str, *, retry_at: datetime | None) -> None:
        """Release the lease; retry at ``retry_at``, or give up when it is None."""
        self._journal.require_writable()
        row = self._session.get(OutboxEntry, outbox_pk)
        if row is not None:
            row.last_error = error
            row.lease_until = row.leased_by = None
            if retry_at is None:
                row.status = FAILED
            else:
                row.available_at = retry_at

    def list(self, *, status: str | None = None, limit: int = 1000) -> list[OutboxRecord]:
        stmt = select(OutboxEntry).order_by(OutboxEntry.id).limit(limit)
        if status is not None:
            stmt = stmt.where(OutboxEntry.status == status)
        return [_outbox_record(r) for r in self._session.execute(stmt).scalars()]

    def count(self, *, status: str | None = None) -> int:
        stmt = select(func.count()).select_from(OutboxEntry)
        if status is not None:
            stmt = stmt.where(OutboxEntry.status == status)
        return int(self._session.execute(stmt).scalar_one())


class SyncCursorRepo:
    """Per-calendar cursors. `set` belongs in the same unit of work as the data
    the cursor covers, so a cursor never runs ahead of committed events."""

    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def get(self, calendar_pk: int) -> CursorRecord | None:
        row = self._session.get(SyncCursor, calendar_pk, populate_existing=True)
        if row is None:
            return None
        return CursorRecord(row.calendar_id, row.cursor, row.full_sync_completed_at, row.updated_at)

    def set(
        self, calendar_pk: int, cursor: str | None, *, full_sync_completed: bool = False
    ) -> None:
        """Store the cursor; ``full_sync_completed`` also stamps a finished full listing."""
        self._journal.require_writable()
        now = utcnow()
        values: dict[str, Any] = {"calendar_id": calendar_pk, "cursor": cursor, "updated_at": now}
        update_cols: Sequence[str] = ["cursor", "updated_at"]
        if full_sync_completed:
            values["full_sync_completed_at"] = now
            update_cols = [*update_cols, "full_sync_completed_at"]
        upsert(self._session, SyncCursor.__table__, values, ["calendar_id"], update_cols)  # type: ignore[arg-type]

    def clear(self, calendar_pk: int) -> None:
        """Forget the cursor (it expired): the next sync is a full listing."""
        self.set(calendar_pk, None)
