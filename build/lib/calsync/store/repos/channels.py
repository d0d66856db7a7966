"""Notification channels and their deliveries: create/list/delete, fan-out, claim, outcomes.

The semantics (which channel wants which change, the retry schedule, what
the body says) live in `calsync.notify`; this repository only moves rows,
transactionally:

* `fan_out` turns pending ``notification_outbox`` rows into per-channel
  deliveries and marks the outbox rows done, in the caller's transaction: a
  crash before commit leaves the outbox rows pending, so fan-out is
  idempotent. A change folds into the channel's pending change delivery when
  there is one that is not in flight (its ``changes_since`` becomes the
  earlier of the two), which is how a burst collapses into one notification.
  The debounce has a leading edge: the first change after a quiet period is
  due at once; only a change within ``debounce`` of the channel's last
  successful POST (or of a change notification still in flight) waits for
  the window to end, and the changes that follow fold into it. A channel
  therefore gets at most one change notification per window, and an
  isolated change is not held back at all.
* `claim`, `release` and `record_outcomes` live in
  `calsync.store.repos.channel_leases` (`DeliveryLeases`, a base class).
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from calsync.errors import NotFound, ValidationError
from calsync.ids import new_id
from calsync.store.channel_records import (
    ChannelRecord,
    DeliveryRecord,
    OutboxItem,
)
from calsync.store.channels_models import Channel, Delivery
from calsync.store.journal import Journal
from calsync.store.models import OutboxEntry
from calsync.store.repos.channel_leases import (
    CHANGE,
    DELIVERED,
    DELIVERY_TABLE,
    FAILED,
    PENDING,
    DeliveryLeases,
    channel_record,
    delivery_record,
)
from calsync.store.sql import chunks, utcnow

__all__ = ["CHANGE", "DELIVERED", "FAILED", "PENDING", "ChannelRepo", "Matcher", "new_webhook_id"]

OUTBOX_TABLE = cast(Table, OutboxEntry.__table__)

#: Decides whether a channel gets a notification for an outbox row.
Matcher = Callable[[ChannelRecord, OutboxItem], bool]


def new_webhook_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


class ChannelRepo(DeliveryLeases):
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    # -- channels ---------------------------------------------------------------

    def create(
        self,
        account_pk: int,
        callback_url: str,
        filters: dict[str, Any],
        *,
        fingerprint: str,
        max_channels: int,
    ) -> tuple[ChannelRecord, bool]:
        """The channel with this fingerprint, created (True) or existing (False).

        An identical channel that was disabled is enabled again and counts as
        created (it deserves a fresh verification). The account row is locked
        so concurrent creations cannot exceed ``max_channels``.
        """
        self._journal.lock_account(account_pk)
        existing = self._session.execute(
            select(Channel)
            .where(Channel.account_id == account_pk, Channel.fingerprint == fingerprint)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if existing is not None:
            if existing.disabled_at is None:
                return channel_record(existing), False
            existing.disabled_at = existing.disabled_reason = existing.failing_since = None
            existing.failure_count = 0
            self._session.flush()
            return channel_record(existing), True
        count = self._session.execute(
            select(func.count()).select_from(Channel).where(Channel.account_id == account_pk)
        ).scalar_one()
        if count >= max_channels:
            raise ValidationError.single(
                "callback_url",
                "errors.too_many_channels",
                f"an account may have at most {max_channels} channels",
            )
        row = Channel(
            public_id=new_id("chn"),
            account_id=account_pk,
            callback_url=callback_url,
            filters=filters,
            fingerprint=fingerprint,
            created_at=utcnow(),
            failure_count=0,
        )
        self._session.add(row)
        self._session.flush()
        return channel_record(row), True

    def get(self, account_pk: int, channel_id: str) -> ChannelRecord:
        row = self._session.execute(
            select(Channel).where(Channel.public_id == channel_id, Channel.account_id == account_pk)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no channel {channel_id!r}")
        return self._with_next_attempts([row])[0]

    def list(self, account_pk: int | None = None) -> builtins.list[ChannelRecord]:
        """The account's channels (every channel when None), oldest first, with status."""
        stmt = select(Channel).order_by(Channel.id).execution_options(populate_existing=True)
        if account_pk is not None:
            stmt = stmt.where(Channel.account_id == account_pk)
        return self._with_next_attempts(list(self._session.execute(stmt).scalars()))

    def delete(self, account_pk: int, channel_id: str) -> None:
        """Close the channel; its undelivered notifications go with it."""
        self._journal.require_writable()
        result = self._session.execute(
            delete(Channel).where(Channel.public_id == channel_id, Channel.account_id == account_pk)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"no channel {channel_id!r}")

    def _with_next_attempts(self, rows: Sequence[Channel]) -> builtins.list[ChannelRecord]:
        if not rows:
            return []
        # A channel sends its deliveries in order (`claim`), so its next attempt is
        # that of its oldest pending delivery. The earliest due time of any pending
        # delivery would be wrong: a change queued behind a delivery that is backing
        # off is "due" since it was queued, a time that then lies ever further back.
        nexts: dict[int, datetime] = {}
        for part in chunks([r.id for r in rows]):
            heads = (
                select(func.min(Delivery.id))
                .where(Delivery.channel_id.in_(part), Delivery.status == PENDING)
                .group_by(Delivery.channel_id)
            )
            stmt = select(Delivery.channel_id, Delivery.next_attempt_at).where(
                Delivery.id.in_(heads)
            )
            for channel_pk, at in self._session.execute(stmt):
                nexts[channel_pk] = at
        return [channel_record(r, nexts.get(r.id)) for r in rows]

    # -- deliveries -------------------------------------------------------------

    def add_delivery(
        self,
        channel_pk: int,
        kind: str,
        *,
        payload: dict[str, Any] | None = None,
        available_at: datetime | None = None,
    ) -> DeliveryRecord:
        self._journal.require_writable()
        now = utcnow()
        row = Delivery(**self._new_delivery_values(channel_pk, kind, payload, now, available_at))
        self._session.add(row)
        self._session.flush()
        return delivery_record(row)

    @staticmethod
    def _new_delivery_values(
        channel_pk: int,
        kind: str,
        payload: dict[str, Any] | None,
        now: datetime,
        available_at: datetime | None = None,
    ) -> dict[str, Any]:
        return {
            "webhook_id": new_webhook_id(),
            "channel_id": channel_pk,
            "kind": kind,
            "payload": payload,
            "status": PENDING,
            "attempts": 0,
            "change_count": 0,
            "next_attempt_at": available_at or now,
            "created_at": now,
        }

    def get_delivery(self, webhook_id: str) -> DeliveryRecord | None:
        row = self._session.execute(
            select(Delivery)
            .where(Delivery.webhook_id == webhook_id)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        return None if row is None else delivery_record(row)

    def list_deliveries(
        self, channel_pk: int | None = None, *, status: str | None = None
    ) -> builtins.list[DeliveryRecord]:
        stmt = select(Delivery).order_by(Delivery.id).execution_options(populate_existing=True)
        if channel_pk is not None:
            stmt = stmt.where(Delivery.channel_id == channel_pk)
        if status is not None:
            stmt = stmt.where(Delivery.status == status)
        return [delivery_record(r) for r in self._session.execute(stmt).scalars()]

    def fan_out(self, matches: Matcher, *, debounce: timedelta, limit: int = 500) -> int:
        """Expand up to ``limit`` pending outbox rows into deliveries; returns rows consumed."""
        self._journal.require_writable()
        now = utcnow()
        # Plain rows and set-based writes: this runs for every outbox row, and
        # ORM objects cost more than the SQL (one INSERT/UPDATE per row).
        entries = self._session.execute(
            select(
                OutboxEntry.id, OutboxEntry.account_id, OutboxEntry.kind, OutboxEntry.payload,
                OutboxEntry.created_at,
            )
            .where(OutboxEntry.status == PENDING, OutboxEntry.available_at <= now)
            .order_by(OutboxEntry.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()  # fmt: skip
        channels = self._active_channels(sorted({entry.account_id for entry in entries}))
        wanted: builtins.list[tuple[Row[Any], OutboxItem, ChannelRecord]] = []
        for entry in entries:
            item = OutboxItem(entry.account_id, entry.kind, dict(entry.payload or {}))
            wanted.extend(
                (entry, item, channel)
                for channel in channels.get(entry.account_id, [])
                if matches(channel, item)
            )
        # One locked query for every channel's open change delivery, not one per channel.
        changed = sorted({channel.pk for entry, _, channel in wanted if entry.kind == CHANGE})
        open_changes = self._open_change_deliveries(changed)
        windows = self._windows(
            [c for _, _, c in wanted if c.pk in changed and c.pk not in open_changes], debounce, now
        )
        new_rows: builtins.list[dict[str, Any]] = []
        for entry, item, channel in wanted:
            if entry.kind == CHANGE:
                self._fold_change(
                    channel.pk,
                    item.payload,
                    entry.created_at,
                    open_changes,
                    windows.get(channel.pk, now),
                )
            else:
                new_rows.append(
                    self._new_delivery_values(channel.pk, entry.kind, item.payload, now)
                )
        if new_rows:
            self._session.execute(insert(DELIVERY_TABLE), new_rows)
        for part in chunks([entry.id for entry in entries]):
            self._session.execute(
                update(OUTBOX_TABLE)
                .where(OUTBOX_TABLE.c.id.in_(part))
                .values(status=DELIVERED, delivered_at=now, lease_until=None, leased_by=None)
            )
        self._session.flush()
        return len(entries)

    def _active_channels(
        self, account_pks: Sequence[int]
    ) -> dict[int, builtins.list[ChannelRecord]]:
        """The enabled channels of each account."""
        found: dict[int, builtins.list[ChannelRecord]] = {}
        for part in chunks(account_pks):
            stmt = (
                select(Channel)
                .where(Channel.account_id.in_(part), Channel.disabled_at.is_(None))
                .order_by(Channel.id)
            )
            for row in self._session.execute(stmt).scalars():
                found.setdefault(row.account_id, []).append(channel_record(row))
        return found

    def _windows(
        self, channels: Sequence[ChannelRecord], debounce: timedelta, now: datetime
    ) -> dict[int, datetime]:
        """When a new change delivery of each channel is due: at the end of the window
        its last POST opened (see the module doc); channels not in the result: now."""
        if debounce <= timedelta(0) or not channels:
            return {}
        last: dict[int, datetime] = {
            c.pk: c.last_success_at for c in channels if c.last_success_at is not None
        }
        in_flight = (
            Delivery.status == PENDING,
            Delivery.kind == CHANGE,
            Delivery.lease_until > now,
        )
        for part in chunks(sorted({c.pk for c in channels})):
            stmt = (
                select(Delivery.channel_id, func.max(Delivery.next_attempt_at))
                .where(Delivery.channel_id.in_(part), *in_flight)
                .group_by(Delivery.channel_id)
            )
            for channel_pk, sent_at in self._session.execute(stmt):
                last[channel_pk] = max(last.get(channel_pk, sent_at), sent_at)
        return {pk: at + debounce for pk, at in last.items() if at + debounce > now}

    def _fold_change(
        self,
        channel_pk: int,
        payload: dict[str, Any],
        created_at: datetime,
        open_changes: dict[int, Delivery],
        due: datetime,
    ) -> None:
        since = datetime.fromisoformat(payload["changes_since"])
        first, last = int(payload.get("first_seq", 0)), int(payload.get("last_seq", 0))
        count = int(payload.get("change_count", 1))
        row = open_changes.get(channel_pk)
        if row is None:
            row = Delivery(
                webhook_id=new_webhook_id(),
                channel_id=channel_pk,
                kind=CHANGE,
                changes_since=since,
                first_seq=first,
                last_seq=last,
                change_count=count,
                status=PENDING,
                attempts=0,
                # Now, or at the end of the channel's window; changes arriving
                # before it is claimed fold into this row.
                next_attempt_at=due,
                created_at=created_at,
            )
            self._session.add(row)
        else:
            assert row.changes_since is not None
            row.changes_since = min(row.changes_since, since)
            row.first_seq = min(row.first_seq or first, first)
            row.last_seq = max(row.last_seq or last, last)
            row.change_count += count
            row.created_at = min(row.created_at, created_at)
        open_changes[channel_pk] = row

    def _open_change_deliveries(self, channel_pks: Sequence[int]) -> dict[int, Delivery]:
        """Each channel's oldest pending change delivery that is not in flight, locked."""
        now = utcnow()
        is_open = (
            Delivery.status == PENDING,
            Delivery.kind == CHANGE,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
        )
        found: dict[int, Delivery] = {}
        for part in chunks(channel_pks):
            rank = (
                func.row_number()
                .over(partition_by=Delivery.channel_id, order_by=Delivery.id)
                .label("rank")
            )
            ranked = select(Delivery.id, rank).where(Delivery.channel_id.in_(part), *is_open)
            oldest = ranked.subquery()
            stmt = (
                select(Delivery)
                # The conditions again: PostgreSQL re-checks them on a row that
                # changed while we waited for its lock (claimed meanwhile).
                .where(Delivery.id.in_(select(oldest.c.id).where(oldest.c.rank == 1)), *is_open)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            found.update((row.channel_id, row) for row in self._session.execute(stmt).scalars())
        return found
