"""Sync ownership between replicas: lease rows per calendar (`lease_models`).

* `acquire` grants free or expired leases, next due first, taking the rows
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two replicas never grant the
  same row and never wait for each other; each grant bumps the fencing token.
* `renew` extends the leases a replica still holds (heartbeat); a lease that
  was granted to another replica meanwhile is not renewed and is reported lost.
* `check` is the fence: every write transaction of a calendar's sync calls it
  first. It locks the lease row ``FOR KEY SHARE`` (PostgreSQL), which only a
  grant's ``FOR UPDATE`` conflicts with: another replica cannot be granted the
  row until the commit is done (it skips it), while the holder's own renewal
  (an ``UPDATE`` of non-key columns, ``FOR NO KEY UPDATE``) never waits for a
  sync's transaction. With ``FOR SHARE`` it did, and the sync's next
  transaction then waited for the renewal, which held the replica's other
  lease rows (seen in bench/replicas.py, "Several replicas"). It raises
  `LeaseLost` unless the row still names this replica, with this token,
  unexpired. On SQLite ``BEGIN IMMEDIATE`` serializes the writers anyway.

Times are the replicas' clocks (NTP-synchronised hosts); a TTL is tens of
seconds, far above any sane clock skew.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from calsync.errors import LeaseLost
from calsync.store.due_signals import notify_due
from calsync.store.journal import Journal
from calsync.store.lease_models import Replica, SyncLease
from calsync.store.models import Account, Calendar
from calsync.store.sql import chunks, insert_ignore, upsert, utcnow


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    calendar_pk: int
    token: int
    due_at: datetime | None
    #: Taken from another replica whose lease had expired (a takeover).
    taken_over: bool


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    calendar_pk: int
    holder: str | None
    token: int
    lease_until: datetime | None
    due_at: datetime | None
    synced_at: datetime | None
    synced_by: str | None


@dataclass(frozen=True, slots=True)
class ReplicaRecord:
    replica_id: str
    listen: str
    accounts_digest: str
    accounts: tuple[str, ...]
    started_at: datetime
    heartbeat_at: datetime


def _table(model: type[object]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def _lease(row: SyncLease) -> LeaseRecord:
    return LeaseRecord(
        row.calendar_id,
        row.holder,
        row.token,
        row.lease_until,
        row.due_at,
        row.synced_at,
        row.synced_by,
    )


class SyncLeaseRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    # -- replicas --------------------------------------------------------------------

    def beat(
        self,
        replica: str,
        *,
        listen: str,
        accounts_digest: str,
        accounts: Sequence[str],
        started_at: datetime,
    ) -> None:
        """Record that ``replica`` is alive now, with its ``[[accounts]]`` digest."""
        self._journal.require_writable()
        values = {
            "id": replica,
            "listen": listen,
            "accounts_digest": accounts_digest,
            "accounts": json.dumps(sorted(accounts)),
            "started_at": started_at,
            "heartbeat_at": utcnow(),
        }
        update_names = [name for name in values if name not in ("id", "started_at")]
        upsert(self._session, _table(Replica), values, ["id"], update_names)

    def live_replicas(self, since: datetime) -> builtins.list[ReplicaRecord]:
        """Replicas that beat at or after ``since``, oldest first."""
        rows = self._session.execute(
            select(Replica).where(Replica.heartbeat_at >= since).order_by(Replica.started_at)
        ).scalars()
        return [
            ReplicaRecord(
                r.id,
                r.listen,
                r.accounts_digest,
                tuple(json.loads(r.accounts)),
                r.started_at,
                r.heartbeat_at,
            )
            for r in rows
        ]

    def forget_replica(self, replica: str, *, dead_before: datetime | None = None) -> None:
        """Drop ``replica``'s row (a clean stop), and rows silent since ``dead_before``."""
        self._journal.require_writable()
        condition = Replica.id == replica
        if dead_before is not None:
            condition = or_(condition, Replica.heartbeat_at < dead_before)
        self._session.execute(delete(Replica).where(condition))

    # -- leases ----------------------------------------------------------------------

    def ensure(self, account_names: Iterable[str]) -> int:
        """Create lease rows (due at once) for the syncable calendars of these
        accounts that have none; returns how many such calendars there are."""
        self._journal.require_writable()
        eligible = self._eligible(account_names)
        missing = list(
            self._session.execute(
                select(eligible.c.id).where(
                    ~select(SyncLease.calendar_id)
                    .where(SyncLease.calendar_id == eligible.c.id)
                    .exists()
                )
            ).scalars()
        )
        for pk in missing:
            insert_ignore(
                self._session, _table(SyncLease), {"calendar_id": pk, "token": 0}, ["calendar_id"]
            )
        count = self._session.execute(select(func.count()).select_from(eligible)).scalar_one()
        return int(count)

    def _eligible(self, account_names: Iterable[str]) -> Subquery:
        return (
            select(Calendar.id)
            .join(Account, Account.id == Calendar.account_id)
            .where(
                Account.name.in_(sorted(set(account_names))),
                Calendar.deleted.is_(False),
                Calendar.remote_id.is_not(None),
            )
            .subquery()
        )

    def acquire(
        self, replica: str, account_names: Iterable[str], *, limit: int, until: datetime
    ) -> builtins.list[LeaseGrant]:
        """Grant up to ``limit`` free or expired leases to ``replica``, next due first."""
        self._journal.require_writable()
        if limit <= 0:
            return []
        now = utcnow()
        eligible = self._eligible(account_names)
        rows = self._session.execute(
            select(SyncLease)
            .where(
                SyncLease.calendar_id.in_(select(eligible.c.id)),
                or_(SyncLease.holder.is_(None), SyncLease.lease_until <= now),
            )
            .order_by(SyncLease.due_at.asc().nulls_first(), SyncLease.calendar_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).scalars()
        grants = []
        for row in rows:
            taken_over = row.holder is not None and row.holder != replica
            row.holder, row.token, row.lease_until = replica, row.token + 1, until
            grants.append(LeaseGrant(row.calendar_id, row.token, row.due_at, taken_over))
        self._session.flush()
        return grants

    def renew(self, replica: str, held: dict[int, int], until: datetime) -> set[int]:
        """Extend the leases ``replica`` still holds with the same token; returns
        their calendars (the others were lost to another replica)."""
        self._journal.require_writable()
        kept: set[int] = set()
        for part in chunks(sorted(held)):
            rows = self._session.execute(
                select(SyncLease.calendar_id, SyncLease.token).where(
                    SyncLease.calendar_id.in_(part), SyncLease.holder == replica
                )
            ).all()
            kept |= {pk for pk, token in rows if held.get(pk) == token}
        for part in chunks(sorted(kept)):
            self._session.execute(
                update(SyncLease)
                .where(SyncLease.calendar_id.in_(part), SyncLease.holder == replica)
                .values(lease_until=until)
            )
        return kept

    def release(self, replica: str, calendar_pks: Iterable[int]) -> None:
        """Give leases back (a clean stop, or more than a fair share): free at once."""
        self._journal.require_writable()
        for part in chunks(sorted(calendar_pks)):
            self._session.execute(
                update(SyncLease)
                .where(SyncLease.calendar_id.in_(part), SyncLease.holder == replica)
                .values(holder=None, lease_until=None)
            )

    def check(self, calendar_pk: int, replica: str, token: int) -> None:
        """The fence (see the module doc): `LeaseLost` unless still ours."""
        row = self._session.execute(
            select(SyncLease.holder, SyncLease.token, SyncLease.lease_until)
            .where(SyncLease.calendar_id == calendar_pk)
            .with_for_update(read=True, key_share=True)
        ).one_or_none()
        now = utcnow()
        if row is None or row.holder != replica or row.token != token:
            raise LeaseLost(f"calendar {calendar_pk}: its sync lease went to another replica")
        if row.lease_until is None or row.lease_until <= now:
            raise LeaseLost(f"calendar {calendar_pk}: its sync lease expired")

    def synced(self, calendar_pk: int, replica: str, token: int, due_at: datetime) -> None:
        """Record a sync of the calendar by its holder and when the next one is due."""
        self._journal.require_writable()
        self._session.execute(
            update(SyncLease)
            .where(
                and_(
                    SyncLease.calendar_id == calendar_pk,
                    SyncLease.holder == replica,
                    SyncLease.token == token,
                )
            )
            .values(due_at=due_at, synced_at=utcnow(), synced_by=replica)
        )

    def get(self, calendar_pk: int) -> LeaseRecord | None:
        row = self._session.get(SyncLease, calendar_pk, populate_existing=True)
        return None if row is None else _lease(row)

    def list(self, holder: str | None = None) -> builtins.list[LeaseRecord]:
        stmt = select(SyncLease).order_by(SyncLease.calendar_id)
        if holder is not None:
            stmt = stmt.where(SyncLease.holder == holder)
        return [_lease(r) for r in self._session.execute(stmt).scalars()]

    def mark_due(self, calendar_pks: Iterable[int]) -> None:
        """Ask the calendars' holders to sync them now: on PostgreSQL a notification
        at commit wakes them (`calsync.store.due_signals`); the mark itself is what
        every renewal looks at, should the notification be missed."""
        self._journal.require_writable()
        pks = sorted(set(calendar_pks))
        for part in chunks(pks):
            self._session.execute(
                update(SyncLease).where(SyncLease.calendar_id.in_(part)).values(due_at=utcnow())
            )
        notify_due(self._session, pks)

    def account_names(self, calendar_pks: Iterable[int]) -> dict[int, str]:
        """Calendar key -> its account's name."""
        found: dict[int, str] = {}
        for part in chunks(sorted(set(calendar_pks))):
            rows = self._session.execute(
                select(Calendar.id, Account.name)
                .join(Account, Account.id == Calendar.account_id)
                .where(Calendar.id.in_(part))
            ).all()
            found.update((pk, name) for pk, name in rows if name is not None)
        return found

    def public_ids(self, calendar_pks: Iterable[int]) -> dict[int, str]:
        """Calendar key -> its public ``calendar_id``."""
        found: dict[int, str] = {}
        for part in chunks(sorted(set(calendar_pks))):
            rows = self._session.execute(
                select(Calendar.id, Calendar.public_id).where(Calendar.id.in_(part))
            ).all()
            found.update((pk, public) for pk, public in rows)
        return found

    def held_elsewhere(self, replica: str, account_names: Iterable[str]) -> builtins.list[str]:
        """Public ids of these accounts' calendars whose unexpired lease another
        replica holds."""
        eligible = self._eligible(account_names)
        rows = self._session.execute(
            select(Calendar.public_id)
            .join(SyncLease, SyncLease.calendar_id == Calendar.id)
            .where(
                Calendar.id.in_(select(eligible.c.id)),
                SyncLease.holder.is_not(None),
                SyncLease.holder != replica,
                SyncLease.lease_until > utcnow(),
            )
            .order_by(Calendar.public_id)
        ).scalars()
        return list(rows)
