"""sd_notify against a real unix datagram socket, from a real subprocess."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync.daemon.sdnotify import SdNotifier, WatchdogPinger

CHILD = textwrap.dedent(
    """
    import sys, time
    from calsync.daemon.sdnotify import SdNotifier, WatchdogPinger

    notifier = SdNotifier.from_env()
    print(notifier.watchdog_interval())
    notifier.ready("serving")
    with WatchdogPinger(notifier):
        time.sleep(float(sys.argv[1]))
    notifier.stopping()
    """
)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def run_child(env_extra: dict[str, str], sleep: float = 0.55) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(sleep)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


def drain(sock: socket.socket) -> list[str]:
    """Every datagram queued on ``sock`` (the child has exited, so all are there)."""
    messages = []
    sock.settimeout(0.2)
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            return messages


def test_ready_watchdogs_stopping_arrive_in_order(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    child = run_child({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    assert child.stdout.strip() == "0.1", "half of WATCHDOG_USEC, in seconds"
    messages = drain(sock)
    assert messages[0] == "READY=1\nSTATUS=serving"
    assert messages[-1] == "STOPPING=1"
    pings = messages[1:-1]
    assert set(pings) == {"WATCHDOG=1"}
    # 0.55 s at 0.1 s intervals, plus the ping at start: about 6; allow for a busy machine.
    assert 3 <= len(pings) <= 8


def test_watchdog_meant_for_another_pid_is_ignored(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    child = run_child(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}, sleep=0.3
    )
    assert child.stdout.strip() == "None"
    assert drain(sock) == ["READY=1\nSTATUS=serving", "STOPPING=1"]


def test_without_notify_socket_everything_is_a_silent_no_op() -> None:
    child = run_child({"WATCHDOG_USEC": "200000"}, sleep=0.2)
    assert child.returncode == 0 and not child.stderr
    notifier = SdNotifier.from_env({})
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.watchdog() is False
    assert notifier.watchdog_interval() is None


def test_abstract_socket() -> None:
    name = f"calsync-test-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        notifier = SdNotifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("syncing 3 accounts\nsecond line")
        assert sock.recv(4096) == b"STATUS=syncing 3 accounts second line"


def test_send_failure_does_not_raise(tmp_path: Path) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert notifier.enabled
    assert notifier.ready() is False
    pinger = WatchdogPinger(notifier, interval=0.01)
    pinger.start()
    time.sleep(0.05)
    assert pinger.running, "a failing ping does not kill the pinger"
    pinger.stop()
    assert not pinger.running


def test_pinger_without_watchdog_starts_no_thread(listener: tuple[socket.socket, str]) -> None:
    _, path = listener
    with WatchdogPinger(SdNotifier.from_env({"NOTIFY_SOCKET": path})) as pinger:
        assert pinger.interval is None and not pinger.running
