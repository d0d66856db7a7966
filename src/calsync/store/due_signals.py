"""Waking a calendar's holder across replicas: PostgreSQL ``LISTEN``/``NOTIFY``.

A replica that does not hold a calendar's lease and gets a reason to sync it
now (a provider push notification or an app's write reached it) marks the
lease row due (`SyncLeaseRepo.mark_due`). That transaction also sends
``NOTIFY calsync_sync_due, '<pk>,<pk>,…'``; PostgreSQL delivers it when the
transaction commits (never before, never for a rolled-back one) to every
session listening on the channel. `DueListener` is such a session, one per
replica, so the holder learns within milliseconds instead of at its next lease
renewal (a third of ``[sync] lease_ttl``, 20 s by default).

Notifications are not durable: one sent while a listener is reconnecting is
lost. The due mark on the lease row stays, so the holder's renewal still finds
it; `DueListener.wait` also says when it has just (re)connected, so the
daemon can look at the rows at once instead.

SQLite has no listener: one process owns the file and wakes itself in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from calsync.store.sql import chunks

log = logging.getLogger(__name__)

CHANNEL = "calsync_sync_due"
#: Calendar keys per notification: PostgreSQL caps a payload at 8,000 bytes.
PER_NOTIFY = 500


def notify_due(session: Session, calendar_pks: Iterable[int]) -> None:
    """Queue the notification in the session's transaction (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for part in chunks(sorted(set(calendar_pks)), PER_NOTIFY):
        payload = ",".join(str(pk) for pk in part)
        session.execute(select(func.pg_notify(CHANNEL, payload)))


@dataclass(frozen=True, slots=True)
class DueSignal:
    #: Calendars some replica marked due since the last `wait`.
    calendar_pks: frozenset[int]
    #: The listener has just (re)connected: marks made meanwhile were not signalled.
    resumed: bool = False


class DueListener:
    """One dedicated connection (outside the pool) listening on `CHANNEL`.

    Not thread-safe: one thread calls `wait` in a loop, and `close` at the end.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None  # a psycopg.Connection while connected

    def _connect(self) -> None:
        proxied = self._engine.raw_connection()
        connection = proxied.driver_connection
        if connection is None:
            raise RuntimeError("the store's engine gave no driver connection")
        # Out of the pool for good: LISTEN belongs to this session, which must
        # neither be reset on return nor handed to a request.
        proxied.detach()
        connection.rollback()
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        self._connection = connection
        log.debug("listening for due calendars on %s", CHANNEL)

    def wait(self, timeout: float) -> DueSignal:
        """Block up to ``timeout`` seconds for notifications; returns what arrived
        (nothing on a timeout). Raises the driver's error when the connection
        breaks; the next call connects again and reports ``resumed``."""
        resumed = False
        if self._connection is None:
            self._connect()
            resumed = True
        pks: set[int] = set()
        try:
            # The first notification ends the wait; whatever else is already
            # there is drained without waiting.
            for notify in self._connection.notifies(timeout=timeout, stop_after=1):
                pks.update(_parse(notify.payload))
            if pks:
                for notify in self._connection.notifies(timeout=0):
                    pks.update(_parse(notify.payload))
        except Exception:
            self.close()
            raise
        return DueSignal(frozenset(pks), resumed)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.debug("closing the due listener failed", exc_info=True)


def _parse(payload: str) -> set[int]:
    found = set()
    for part in payload.split(","):
        try:
            found.add(int(part))
        except ValueError:
            log.warning("ignored a malformed %s payload: %r", CHANNEL, payload[:80])
    return found
