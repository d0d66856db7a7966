"""Signals as messages: handlers only enqueue, the daemon's main loop acts.

A signal handler runs between two bytecodes of the main thread, possibly in the
middle of a log call or a lock; doing real work there invites deadlocks. So the
handler puts the signal number on a `queue.SimpleQueue` (whose ``put`` is
documented as reentrant) and the main loop takes it from there.
"""

from __future__ import annotations

import queue
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class SignalInbox:
    """Receives SIGTERM, SIGINT and SIGHUP for the main loop (main thread only)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._previous: dict[int, _Handler] = {}

    def install(self) -> None:
        for sig in HANDLED:
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def wait(self, timeout: float) -> int | None:
        """The next signal received, or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._queue.put(signum)
