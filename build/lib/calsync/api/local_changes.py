"""Who hears that an app changed a synced calendar: the daemon, to push it at once.

The API writes only to the store; the change then waits, pending, for a
sync of its calendar. Without a listener that is the account's next
scheduled pass (up to ``interval``). The daemon subscribes a callback that
queues a push-only run of the calendar (`calsync.daemon.process`), so the
API needs nothing from the sync engine or the scheduler.

Listeners are called after the write committed, on the request's thread:
they must only queue work. A listener that fails is logged and ignored; the
change is still pending in the store and the next pass pushes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from calsync.store.records import CalendarRecord

log = logging.getLogger(__name__)

Listener = Callable[[CalendarRecord], None]


class LocalChanges:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Listener, ...] = ()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def changed(self, calendars: Iterable[CalendarRecord]) -> None:
        """The app changed events of ``calendars`` (committed); application calendars
        live only in the store and are skipped."""
        listeners = self._listeners
        if not listeners:
            return
        for calendar in {c.pk: c for c in calendars if c.remote_id is not None}.values():
            for listener in listeners:
                try:
                    listener(calendar)
                except Exception:
                    log.exception("calendar %s: could not queue its push", calendar.calendar_id)


class AccountChanges:
    """Who hears that an account was connected, relinked or revoked through the API.

    The daemon subscribes: it re-reads the connected accounts and (re)schedules
    them, so a new account's first sync starts at once rather than at the next
    poll. Listeners only queue work; one that fails is logged and ignored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[], None], ...] = ()

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("could not announce a change of the connected accounts")
