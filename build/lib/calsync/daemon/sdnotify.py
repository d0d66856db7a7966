"""A dependency-free ``sd_notify(3)`` client: READY, WATCHDOG, STOPPING, STATUS.

systemd (``Type=notify``) hands the service a datagram socket in
``$NOTIFY_SOCKET``; each message is newline-separated ``KEY=value``
assignments. A path starting with ``@`` names a Linux abstract socket. When the
variable is unset (run by hand, in a container, in tests) every call is a
no-op, so the daemon never needs to ask whether it runs under systemd.

Sending never raises: a lost notification is at worst a watchdog restart,
while an exception here would take down the daemon it is meant to report on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from types import TracebackType

log = logging.getLogger(__name__)


class SdNotifier:
    """Sends notifications to the service manager, or does nothing without one."""

    def __init__(
        self,
        socket_path: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self.socket_path = socket_path or None
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SdNotifier:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        return cls(
            env.get("NOTIFY_SOCKET"),
            watchdog_usec=_positive_int(env.get("WATCHDOG_USEC")),
            watchdog_pid=_positive_int(env.get("WATCHDOG_PID")),
        )

    #: The same, under the name the daemon's process module uses.
    from_environment = from_env

    @property
    def enabled(self) -> bool:
        return self.socket_path is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True when it was sent."""
        if self.socket_path is None or not assignments:
            return False
        address = _address(self.socket_path)
        payload = "\n".join(assignments).encode()
        try:
            with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, address)
        except OSError as exc:
            log.debug("sd_notify to %s failed: %s", self.socket_path, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *_status(status))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *_status(status))

    def reloading(self) -> bool:
        return self.notify("RELOADING=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(*_status(text))

    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half of ``WATCHDOG_USEC`` (the advice of
        ``sd_watchdog_enabled(3)``); None when no watchdog is set up for us."""
        if not self._watchdog_usec:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            # The variables were meant for another process (we are a child).
            return None
        return self._watchdog_usec / 1_000_000 / 2


class WatchdogPinger:
    """A daemon thread sending ``WATCHDOG=1`` every ``interval`` seconds.

    ``interval`` defaults to the notifier's `SdNotifier.watchdog_interval`;
    without a watchdog, `start` does nothing. Usable as a context manager.
    """

    def __init__(self, notifier: SdNotifier, interval: float | None = None) -> None:
        self.notifier = notifier
        self.interval = interval if interval is not None else notifier.watchdog_interval()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.interval is None or self.interval <= 0 or not self.notifier.enabled:
            return
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        assert self.interval is not None
        # Ping at once: a slow start-up may already have used part of the budget.
        while True:
            self.notifier.watchdog()
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> WatchdogPinger:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _address(path: str) -> str | bytes:
    if path.startswith("@"):
        # Abstract namespace: a leading NUL byte instead of the '@'.
        return b"\0" + path[1:].encode()
    return path


def _status(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    # A newline would start a new assignment; keep STATUS one line.
    return ("STATUS=" + " ".join(text.splitlines()),)


def _positive_int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    number = int(value)
    return number if number > 0 else None
