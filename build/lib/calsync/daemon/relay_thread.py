"""The notification relay (`calsync.notify.relay.OutboxRelay`) in a daemon thread.

The relay is durable by construction (outbox rows are committed with the
change; deliveries are leased before any POST), so stopping it is simple:
set the event, let the current pass finish its transactions, join. The daemon
does that before disposing of the store, and again on SIGHUP to start a relay
built from the new settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from calsync.config import Settings

if TYPE_CHECKING:
    from calsync.notify.relay import OutboxRelay
    from calsync.store import Store

log = logging.getLogger(__name__)

#: A pass posts with a 10 s timeout per delivery; leave room for one to finish.
STOP_TIMEOUT = 30.0


def reclaim_dead_leases(store: Store) -> int:
    """On SQLite, release the delivery leases a killed daemon left behind.

    Only one process may use a SQLite file, so at start every lease is a dead
    process's: without this its channels wait until the lease expires (a
    minute). PostgreSQL replicas share the store, so there a lease may be a
    live replica's, and it is left to expire.
    """
    if store.backend != "sqlite":
        return 0
    with store.write() as uow:
        released = uow.channels.reclaim_leases()
    if released:
        log.info("released %d notification lease(s) left by a previous run", released)
    return released


class RelayThread:
    """Runs one `OutboxRelay` until `stop`; `restart` swaps in one built from new settings."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.relay: OutboxRelay | None = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        from calsync.notify.relay import OutboxRelay

        if self.alive:
            raise RuntimeError("the notification relay is already running")
        self._stop = threading.Event()
        self.relay = OutboxRelay(self._store, self._settings)
        # A change committed by this process (an API write, a sync) wakes the relay
        # at once instead of at its next poll.
        self._unsubscribe = self._store.on_outbox(self.relay.wake)
        self._thread = threading.Thread(
            target=self.relay.run_forever,
            args=(self._stop,),
            name="calsync-notify-relay",
            daemon=True,
        )
        self._thread.start()
        log.info("notification relay started (worker %s)", self.relay.worker)

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> None:
        """Finish the current pass and stop; safe to call more than once."""
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.relay is not None:
            self.relay.wake()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            # Its leases expire and another worker re-sends: nothing is lost.
            log.warning("notification relay did not stop within %.0fs", timeout)
        else:
            log.info("notification relay stopped")

    def restart(self, settings: Settings) -> None:
        """Stop the running relay and start one that uses ``settings``."""
        self.stop()
        self._settings = settings
        self.start()
