"""Drive a real ``calsync run`` process: config file, notify socket, HTTP, signals.

Nothing here is mocked: the daemon is a subprocess, systemd's notify socket is
a real unix datagram socket, and HTTP goes over a real TCP connection.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, *, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def write_config(
    path: Path,
    *,
    port: int,
    level: str = "info",
    accounts: Sequence[tuple[str, str]] = (),
    interval: str = "1h",
    extra: str = "",
) -> Path:
    """A minimal valid config: SQLite next to the file, the API on ``127.0.0.1:port``."""
    lines = [
        "[store]",
        'url = "sqlite:///state/calsync.db"',
        "[api]",
        f'listen = "127.0.0.1:{port}"',
        "[sync]",
        f'interval = "{interval}"',
        "[logging]",
        f'level = "{level}"',
    ]
    for name, provider in accounts:
        lines += ["[[accounts]]", f'name = "{name}"', f'provider = "{provider}"']
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


class NotifySocket:
    """A stand-in for systemd's ``$NOTIFY_SOCKET``: records every datagram received."""

    def __init__(self) -> None:
        # A short directory: unix socket paths are limited to ~100 bytes.
        self._dir = tempfile.mkdtemp(prefix="csn-", dir="/tmp")
        self.path = os.path.join(self._dir, "notify")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.2)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.extend(data.decode("utf-8", "replace").splitlines())

    def seen(self, assignment: str) -> bool:
        with self._lock:
            return assignment in self.messages

    def count(self, assignment: str) -> int:
        with self._lock:
            return self.messages.count(assignment)

    def wait_for(self, assignment: str, timeout: float = STARTUP_TIMEOUT) -> None:
        wait_until(lambda: self.seen(assignment), timeout, f"{assignment} on NOTIFY_SOCKET")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class DaemonProcess:
    """``calsync --config FILE run`` as a child process, its stderr captured to a file."""

    def __init__(
        self,
        config: Path,
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        python_prelude: str | None = None,
        global_args: Sequence[str] = (),
    ) -> None:
        self.log_path = cwd / "daemon.log"
        self._log = self.log_path.open("wb")
        if python_prelude is None:
            argv = [sys.executable, "-m", "calsync.cli.main"]
        else:
            # Lets a test register a provider in the daemon process, then run the real CLI.
            argv = [
                sys.executable,
                "-c",
                python_prelude + "\nfrom calsync.cli.main import main\nmain()",
            ]
        argv += ["--config", str(config), *global_args, "run"]
        child_env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
        }
        child_env.update(env or {})
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=child_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = STARTUP_TIMEOUT) -> None:
        def found() -> bool:
            if self.proc.poll() is not None and text not in self.logs():
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.logs()}")
            return text in self.logs()

        wait_until(found, timeout, f"{text!r} in the daemon log")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = STARTUP_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"daemon did not exit within {timeout}s:\n{self.logs()}") from None

    def stop(self) -> None:
        """Cleanup: make sure the child is gone whatever the test did."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=5.0, trust_env=False, **kwargs)  # type: ignore[arg-type]


def wait_for_http(
    url: str, daemon: DaemonProcess, timeout: float = STARTUP_TIMEOUT
) -> httpx.Response:
    last: list[httpx.Response] = []

    def answered() -> bool:
        if daemon.proc.poll() is not None:
            raise AssertionError(f"daemon exited ({daemon.proc.returncode}):\n{daemon.logs()}")
        try:
            last[:] = [get(url)]
        except httpx.TransportError:
            return False
        return True

    wait_until(answered, timeout, f"an HTTP answer from {url}", interval=0.1)
    return last[0]
