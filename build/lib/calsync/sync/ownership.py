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

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Protocol

from calsync.store import Store, UnitOfWork


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
