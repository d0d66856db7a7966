"""The one way into a sync of an account: its backoff, and one run at a time.

Every path that syncs an account goes through `AccountGate.admitted`: the
scheduled pass and ``calsync sync --once`` (`SyncEngine.sync_account`), a
provider push notification (`SyncEngine.sync_calendars`) and an app's write
through the API (`SyncEngine.push_calendar`). So

* while an account backs off after a rate limit or a transient fault, nothing
  reaches its provider, whatever asked for the run; the refusal carries the
  time the backoff ends, and a later run picks up what was asked for;
* two runs of one account never overlap (each pulls, plans and pushes against
  the same rows). A full pass waits for a targeted run to finish (they are
  short); a targeted run finds the account ``busy`` instead of holding a
  worker thread for a whole pass, and its caller tries again shortly.

The gate is per process, like the backoff it keeps: on SQLite one process
owns the store, and PostgreSQL replicas each keep their own.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from calsync.sync.backoff import Backoff


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the gate did not let a run in."""

    message: str
    #: When the account's backoff ends (None when it is only busy).
    retry_at: datetime | None = None
    #: Another run of the account holds the gate; try again shortly.
    busy: bool = False


class AccountGate:
    """Per-account backoff and mutual exclusion (see the module doc). Thread-safe."""

    def __init__(
        self, clock: Callable[[], datetime], *, rng: Callable[[], float] = random.random
    ) -> None:
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._backoffs: dict[str, Backoff] = {}
        self._running: dict[str, threading.Lock] = {}

    def backoff(self, account_name: str) -> Backoff:
        with self._lock:
            backoff = self._backoffs.get(account_name)
            if backoff is None:
                backoff = self._backoffs[account_name] = Backoff(rng=self._rng)
            return backoff

    @contextmanager
    def admitted(self, account_name: str, *, wait: bool) -> Iterator[Refusal | None]:
        """Yields None while the run may go on (the account is held), else a `Refusal`.

        ``wait``: wait for a run in progress (a full pass) instead of refusing
        with ``busy`` (a targeted run).
        """
        backoff = self.backoff(account_name)
        refusal = self._backing_off(backoff)
        if refusal is not None:
            yield refusal
            return
        with self._lock:
            running = self._running.setdefault(account_name, threading.Lock())
        if not running.acquire(blocking=wait):
            yield Refusal("another sync of this account is running", busy=True)
            return
        try:
            # The run we waited for may have ended in a backoff.
            yield self._backing_off(backoff)
        finally:
            running.release()

    def _backing_off(self, backoff: Backoff) -> Refusal | None:
        if backoff.ready(self._clock()):
            return None
        until = backoff.not_before
        assert until is not None
        return Refusal(f"backing off after failures until {until:%H:%M:%S}", retry_at=until)
