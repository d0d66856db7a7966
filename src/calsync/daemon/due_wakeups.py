"""`DueWakeups`: sync at once what another replica asked this one to sync.

A provider push notification or an app's write can reach any replica; when it
concerns a calendar whose lease another replica holds, that replica only marks
the lease row due (`calsync.sync.ownership.owned`). Before this thread the
holder saw the mark at its next lease renewal, up to a third of
``[sync] lease_ttl`` later (20 s by default). Now the mark's transaction sends
a PostgreSQL notification (`calsync.store.due_signals`), and this thread,
listening on its own connection, runs a targeted sync (pull and push) of each
notified calendar this replica holds, through the same `CalendarRuns` queue
that provider pushes use: a run that finds the account busy is tried again a
second later, and several marks of one calendar fold into one run. The sync
records the calendar's next due time, so the next renewal does not sync it
again.

Why LISTEN/NOTIFY and not a shorter poll of the lease rows: a notification
arrives in milliseconds and costs nothing while nothing happens (one idle
connection per replica), where a poll costs a query per replica per period
and still waits up to that period (bench/RESULTS.md, "Waking a calendar's holder").
Notifications are not durable, so the renewal's look at the marks stays as
the fallback; after a reconnection the keeper looks at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from calsync.daemon.leases import LeaseKeeper
from calsync.notify.provider_push import PushTarget
from calsync.store import Store

log = logging.getLogger(__name__)

#: How long one wait for notifications lasts: the stop flag is checked this often.
WAIT = 1.0
#: Reconnection backoff after the listening connection broke.
RECONNECT_FIRST, RECONNECT_MAX = 1.0, 30.0


class DueWakeups:
    """The listening thread (PostgreSQL replicas only; see the module doc)."""

    def __init__(
        self, store: Store, keeper: LeaseKeeper, run: Callable[[PushTarget], None]
    ) -> None:
        self._store = store
        self._keeper = keeper
        self._run = run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Calendars woken so far (tests and logs).
        self.woken = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="calsync-due-wakeups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(WAIT + 5)
            self._thread = None

    def _loop(self) -> None:
        listener = self._store.due_listener()
        if listener is None:
            return
        pause = RECONNECT_FIRST
        try:
            while not self._stop.is_set():
                try:
                    signal = listener.wait(WAIT)
                except Exception as exc:
                    log.warning(
                        "listening for calendars marked due failed (%s); again in %.0f s",
                        type(exc).__name__,
                        pause,
                    )
                    self._stop.wait(pause)
                    pause = min(pause * 2, RECONNECT_MAX)
                    continue
                pause = RECONNECT_FIRST
                if signal.resumed:
                    # Marks made while not listening were not signalled: look now.
                    self._keeper.refresh()
                if signal.calendar_pks:
                    try:
                        self._wake(signal.calendar_pks)
                    except Exception:  # never the thread's end: the renewal is the fallback
                        log.exception("could not queue the sync of calendars marked due")
        finally:
            listener.close()

    def _wake(self, calendar_pks: Iterable[int]) -> None:
        mine = sorted(pk for pk in calendar_pks if self._keeper.owns(pk))
        if not mine:
            return
        try:
            with self._store.read() as uow:
                accounts = uow.sync_leases.account_names(mine)
                public = uow.sync_leases.public_ids(mine)
        except Exception:
            log.exception("could not look up calendars marked due; the renewal will")
            return
        for pk in mine:
            if pk in accounts and pk in public:
                log.info("calendar %s marked due by another replica: syncing it now", public[pk])
                self.woken += 1
                self._run(PushTarget(accounts[pk], pk, public[pk]))
