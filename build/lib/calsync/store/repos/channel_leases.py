"""Leasing, sending order and outcomes of notification deliveries (`ChannelRepo`'s half).

* `claim` leases the oldest pending deliveries of a channel (one by default,
  up to ``per_channel``), if they are due and nothing of that channel is in
  flight. The caller sends one channel's deliveries in order, one at a time,
  and gives back (`release`) those after a failure. On PostgreSQL the
  channel rows are taken ``FOR UPDATE SKIP LOCKED``, so replicas never send
  two notifications of one channel at once; SQLite's ``BEGIN IMMEDIATE``
  serializes writers anyway. Commit before any network call.
* `record_outcomes` applies results with set-based UPDATEs: a backlog drains
  at hundreds of deliveries per second only if the database work per
  delivery is a fraction of a millisecond.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from calsync.store.channel_records import (
    ChannelRecord,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryRecord,
)
from calsync.store.channels_models import Channel, Delivery
from calsync.store.journal import Journal
from calsync.store.sql import chunks, utcnow

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
CHANGE = "change"

# The tables themselves, for set-based statements that skip the ORM's per-row work.
DELIVERY_TABLE = cast(Table, Delivery.__table__)


def channel_record(row: Channel, next_attempt_at: datetime | None = None) -> ChannelRecord:
    return ChannelRecord(
        pk=row.id,
        channel_id=row.public_id,
        account_pk=row.account_id,
        callback_url=row.callback_url,
        filters=dict(row.filters or {}),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
        failure_count=row.failure_count,
        failing_since=row.failing_since,
        last_error=row.last_error,
        next_attempt_at=next_attempt_at,
    )


def delivery_record(row: Delivery | Row[Any]) -> DeliveryRecord:
    """From an ORM object or a plain row of the table (same names)."""
    return DeliveryRecord(
        pk=row.id,
        webhook_id=row.webhook_id,
        channel_pk=row.channel_id,
        kind=row.kind,
        changes_since=row.changes_since,
        first_seq=row.first_seq,
        last_seq=row.last_seq,
        change_count=row.change_count,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_until=row.lease_until,
        leased_by=row.leased_by,
        last_error=row.last_error,
        last_status=row.last_status,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class DeliveryLeases:
    """Claims and outcomes; `ChannelRepo` provides the session and journal."""

    _session: Session
    _journal: Journal

    def claim(
        self,
        worker: str,
        *,
        lease: timedelta,
        limit: int = 100,
        webhook_id: str | None = None,
        per_channel: int = 1,
    ) -> builtins.list[ClaimedDelivery]:
        """Lease the next due deliveries of up to ``limit`` channels (see the module doc).

        Per channel, the oldest ``per_channel`` pending deliveries are leased
        when they are all due and none is in flight (stopping at the first
        that is not), and are returned oldest first: the caller sends them in
        that order, one at a time, so a channel still never has two requests
        in flight. With ``webhook_id``, only that delivery is considered (the
        API's immediate verification attempt).
        """
        self._journal.require_writable()
        now = utcnow()
        due = (
            select(Delivery.channel_id)
            .where(
                Delivery.status == PENDING,
                Delivery.next_attempt_at <= now,
                or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
            )
            .distinct()
            .limit(limit)
        )
        if webhook_id is not None:
            due = due.where(Delivery.webhook_id == webhook_id)
            per_channel = 1
        channel_pks = list(self._session.execute(due).scalars())
        if not channel_pks:
            return []
        locked = self._session.execute(
            select(Channel)
            .where(Channel.id.in_(channel_pks), Channel.disabled_at.is_(None))
            .order_by(Channel.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).scalars()
        by_pk = {row.id: row for row in locked}
        if not by_pk:
            return []
        claimed: builtins.list[ClaimedDelivery] = []
        runs: dict[int, builtins.list[Row[Any]]] = {}
        for row in self._session.execute(self._heads(builtins.list(by_pk), per_channel)):
            runs.setdefault(row.channel_id, []).append(row)
        until = now + lease
        for channel_pk, rows in runs.items():
            channel = channel_record(by_pk[channel_pk])
            for index, row in enumerate(rows):
                in_flight = row.lease_until is not None and row.lease_until > now
                if in_flight or row.next_attempt_at > now:
                    break  # order within a channel is kept: nothing overtakes this one
                if webhook_id is not None and (index or row.webhook_id != webhook_id):
                    break
                record = replace(
                    delivery_record(row),
                    lease_until=until,
                    leased_by=worker,
                    attempts=row.attempts + 1,
                )
                claimed.append(ClaimedDelivery(record, channel))
        for part in chunks([c.delivery.pk for c in claimed]):
            self._session.execute(
                update(DELIVERY_TABLE)
                .where(DELIVERY_TABLE.c.id.in_(part))
                .values(lease_until=until, leased_by=worker, attempts=DELIVERY_TABLE.c.attempts + 1)
            )
        return claimed

    @staticmethod
    def _heads(channel_pks: builtins.list[int], per_channel: int) -> Any:
        """The oldest ``per_channel`` pending deliveries of each channel, locked."""
        rank = (
            func.row_number()
            .over(partition_by=Delivery.channel_id, order_by=Delivery.id)
            .label("rank")
        )
        ranked = (
            select(Delivery.id, rank)
            .where(Delivery.channel_id.in_(channel_pks), Delivery.status == PENDING)
            .subquery()
        )
        return (
            select(DELIVERY_TABLE)
            .where(DELIVERY_TABLE.c.id.in_(select(ranked.c.id).where(ranked.c.rank <= per_channel)))
            .order_by(DELIVERY_TABLE.c.channel_id, DELIVERY_TABLE.c.id)
            .with_for_update()
        )

    def release(self, delivery_pks: Iterable[int], worker: str) -> None:
        """Give back leased deliveries that were never attempted (an earlier one of
        their channel failed): pending again at once, the attempt not counted."""
        self._journal.require_writable()
        for part in chunks(builtins.list(delivery_pks)):
            self._session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(part),
                    Delivery.status == PENDING,
                    Delivery.leased_by == worker,
                )
                .values(lease_until=None, leased_by=None, attempts=Delivery.attempts - 1)
                .execution_options(synchronize_session=False)
            )

    def reclaim_leases(self) -> int:
        """Release every delivery lease, whoever holds it; returns how many.

        Only for a process that knows no other relay can be running: on SQLite
        the daemon owns the file, so at its start the leases are a dead
        process's (a crash) and would otherwise hold their channels until
        they expire. Each is sent again (same ``webhook-id``): at least once.
        """
        self._journal.require_writable()
        result = self._session.execute(
            update(DELIVERY_TABLE)
            .where(DELIVERY_TABLE.c.status == PENDING, DELIVERY_TABLE.c.leased_by.is_not(None))
            .values(lease_until=None, leased_by=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def record_outcomes(self, outcomes: Iterable[DeliveryOutcome]) -> None:
        """Apply delivery results: release leases, update channel status, disable.

        Successes are applied before failures (the relay stops a channel's run
        at its first failure, so that is their order within a channel too):
        one UPDATE per status code for the bulk, then the rare failures row by
        row, since one may disable its channel and fail what is pending.
        """
        self._journal.require_writable()
        now = utcnow()
        delivered: dict[int | None, builtins.list[int]] = {}
        failed: builtins.list[DeliveryOutcome] = []
        for outcome in outcomes:
            if outcome.delivered:
                delivered.setdefault(outcome.status_code, []).append(outcome.delivery_pk)
            else:
                failed.append(outcome)
        succeeded: set[int] = set()
        for status_code, pks in delivered.items():
            for part in chunks(pks):
                # Only what is still pending: the channel may have been closed,
                # or another worker finished it.
                stmt = (
                    update(DELIVERY_TABLE)
                    .where(DELIVERY_TABLE.c.id.in_(part), DELIVERY_TABLE.c.status == PENDING)
                    .values(
                        status=DELIVERED,
                        delivered_at=now,
                        last_error=None,
                        lease_until=None,
                        leased_by=None,
                        last_status=status_code,
                    )
                    .returning(DELIVERY_TABLE.c.channel_id)
                )
                succeeded.update(self._session.execute(stmt).scalars())
        for channel in self._load(Channel, sorted(succeeded)).values():
            channel.last_success_at = now
            channel.failure_count = 0
            channel.failing_since = channel.last_error = None
        for outcome in failed:
            self._record_failure(outcome, now)
        self._session.flush()

    def _record_failure(self, outcome: DeliveryOutcome, now: datetime) -> None:
        row = self._session.get(Delivery, outcome.delivery_pk, populate_existing=True)
        if row is None or row.status != PENDING:
            return  # the channel was closed, or another worker finished it
        if row.leased_by != outcome.worker:
            return  # our lease ran out and another worker owns it now
        channel = self._session.get(Channel, row.channel_id)
        row.lease_until = row.leased_by = None
        row.last_status = outcome.status_code
        row.last_error = outcome.error
        if outcome.retry_at is None:
            row.status = FAILED
        else:
            row.next_attempt_at = outcome.retry_at
        if channel is not None:
            channel.failure_count += 1
            channel.last_failure_at = now
            channel.failing_since = channel.failing_since or now
            channel.last_error = outcome.error
            if outcome.disable_reason is not None:
                self._disable(channel, outcome.disable_reason, now)

    def _load(self, model: type[Any], pks: Sequence[int]) -> dict[int, Any]:
        """Rows by primary key, a few IN queries instead of one query per row."""
        found: dict[int, Any] = {}
        for part in chunks(pks):
            stmt = (
                select(model)
                .where(model.id.in_(part))
                .order_by(model.id)
                .execution_options(populate_existing=True)
            )
            found.update((row.id, row) for row in self._session.execute(stmt).scalars())
        return found

    def _disable(self, channel: Channel, reason: str, now: datetime) -> None:
        channel.disabled_at, channel.disabled_reason = now, reason
        self._session.execute(
            update(Delivery)
            .where(Delivery.channel_id == channel.id, Delivery.status == PENDING)
            .values(status=FAILED, lease_until=None, leased_by=None, last_error="channel disabled")
        )
