"""Which calendars this process may sync, and the fence on each sync's commits.

On PostgreSQL several replicas share the store; each calendar's sync is owned
by one of them through a lease row (`calsync.store.repos.sync_leases`, kept by
`calsync.daemon.leases.LeaseKeeper`). The engine asks an `Ownership` for the
calendar's fencing token before syncing it, and every write transaction of
that sync goes through a `FencedStore`, which checks the token first: a
replica that lost the lease (a pause past the TTL, a partition) cannot commit
a stale cursor or plan; its transaction raises `LeaseLost` and rolls back.

Without an ownership (SQLite: one process owns the file; ``sync --once``)
the engine writes through the plain store, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Protocol

from calsync.store import CalendarRecord, Store, UnitOfWork

log = logging.getLogger(__name__)


class StoreView(Protocol):
    """What a sync needs of the store: `Store` itself, or a `FencedStore`."""

    def read(self) -> AbstractContextManager[UnitOfWork]: ...

    def write(self) -> AbstractContextManager[UnitOfWork]: ...


class Ownership(Protocol):
    """This replica's leases (see the module doc). Thread-safe."""

    @property
    def replica(self) -> str: ...

    def token(self, calendar_pk: int) -> int | None:
        """The fencing token while this replica holds the calendar, else None."""

    def due(self, calendar_pk: int) -> datetime | None:
        """When the calendar's next sync is due (None: now)."""

    def syncing(self, calendar_pk: int) -> AbstractContextManager[None]:
        """Marks a sync in progress: its lease is not given back meanwhile."""

    def synced(self, calendar_pk: int, due_at: datetime) -> None:
        """A sync by this replica ended; the next one is due at ``due_at``."""

    def lost(self, calendar_pk: int) -> None:
        """A fenced commit found the lease gone: forget it."""

    def refresh(self) -> None:
        """Calendars were discovered: take the leases of this replica's share now."""


class FencedStore:
    """The store, with every write transaction checking a calendar's lease first."""

    def __init__(self, store: Store, calendar_pk: int, replica: str, token: int) -> None:
        self._store = store
        self.calendar_pk = calendar_pk
        self.replica = replica
        self.token = token

    def read(self) -> AbstractContextManager[UnitOfWork]:
        return self._store.read()

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        with self._store.write() as uow:
            uow.sync_leases.check(self.calendar_pk, self.replica, self.token)
            yield uow


# -- what the engine asks (each a no-op without an ownership) ---------------------


def owned(
    ownership: Ownership | None,
    store: Store,
    calendars: Sequence[CalendarRecord],
    *,
    now: datetime,
    interval: timedelta,
    full_pass: bool,
) -> list[CalendarRecord]:
    """The calendars this replica holds; for a full pass, only those due (a lease
    that moved keeps its due time, so no calendar is synced twice in an interval).
    A calendar another replica holds is marked due now for a targeted run (a
    provider push or an app write reached this replica), so its holder runs it."""
    if ownership is None:
        return list(calendars)
    slack = min(interval * 0.05, timedelta(seconds=2))
    mine: list[CalendarRecord] = []
    others: list[int] = []
    for calendar in calendars:
        if ownership.token(calendar.pk) is None:
            others.append(calendar.pk)
            continue
        due = ownership.due(calendar.pk)
        if full_pass and due is not None and due > now + slack:
            continue
        mine.append(calendar)
    if others and not full_pass:
        with store.write() as uow:
            uow.sync_leases.mark_due(others)
    return sorted(mine, key=lambda c: (ownership.due(c.pk) or now, c.pk))


def view(ownership: Ownership | None, store: Store, calendar_pk: int) -> StoreView | None:
    """The store a calendar's sync writes through (fenced), None when not held."""
    if ownership is None:
        return store
    token = ownership.token(calendar_pk)
    if token is None:
        return None
    return FencedStore(store, calendar_pk, ownership.replica, token)


def syncing(ownership: Ownership | None, calendar_pk: int) -> AbstractContextManager[None]:
    return nullcontext() if ownership is None else ownership.syncing(calendar_pk)


def record_sync(
    ownership: Ownership | None,
    store: Store,
    fenced: StoreView,
    pass_started: datetime,
    interval: timedelta,
) -> None:
    """Record a sync on the lease row: by whom, and when the next one is due."""
    if ownership is None or not isinstance(fenced, FencedStore):
        return
    due_at = pass_started + interval
    try:
        with store.write() as uow:
            uow.sync_leases.synced(fenced.calendar_pk, fenced.replica, fenced.token, due_at)
    except Exception:
        log.exception("calendar %s: could not record its sync on the lease", fenced.calendar_pk)
    ownership.synced(fenced.calendar_pk, due_at)
    log.info(
        "calendar %d synced by replica %s (token %d, pass of %s)",
        fenced.calendar_pk,
        fenced.replica,
        fenced.token,
        pass_started.isoformat(),
    )
