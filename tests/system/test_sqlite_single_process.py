"""SQLite stays single-process (issue #16): a second ``calsync run`` on the same
file refuses to start and the first keeps serving; ``sync --once`` refuses
beside a daemon, saying why, and waits for another ``sync --once`` to finish."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from calsync.store import Store
from calsync.store.sole_process import SYNC_ONCE, sole_process
from tests.system.harness import DaemonProcess, free_port, get, wait_for_http, wait_until

pytestmark = pytest.mark.slow


def _config(directory: Path, database: Path, port: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "calsync.toml"
    path.write_text(
        "\n".join(
            [
                "[store]",
                f'url = "sqlite:///{database}"',
                "[api]",
                f'listen = "127.0.0.1:{port}"',
                "[sync]",
                'interval = "1h"',
                "[logging]",
                'level = "info"',
                "[[accounts]]",
                'name = "demo"',
                'provider = "memory"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def _cli(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "calsync.cli.main", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_daemon_refuses_and_the_first_keeps_serving(tmp_path: Path) -> None:
    database = tmp_path / "state" / "calsync.db"
    port_a, port_b = free_port(), free_port()
    config_a = _config(tmp_path / "a", database, port_a)
    config_b = _config(tmp_path / "b", database, port_b)
    first = DaemonProcess(config_a, cwd=tmp_path / "a")
    try:
        wait_for_http(f"http://127.0.0.1:{port_a}/healthz", first)
        first.wait_for_log("calsync ready")
        second = DaemonProcess(config_b, cwd=tmp_path / "b")
        try:
            assert second.wait(30) == 1
            logs = second.logs()
            assert "this SQLite store is in use by `calsync run`" in logs
            assert f"pid {first.proc.pid}" in logs
            assert "SQLite allows one syncing process" in logs
        finally:
            second.stop()
        assert first.proc.poll() is None
        assert get(f"http://127.0.0.1:{port_a}/healthz").status_code == 200

        once = _cli(config_b, "sync", "--once")
        _, err = once.communicate(timeout=60)
        assert once.returncode == 1
        assert f"`calsync run` (pid {first.proc.pid}" in err
        assert "cannot run beside it" in err
        assert first.proc.poll() is None
    finally:
        first.stop()
    once = _cli(config_b, "sync", "--once")
    out, err = once.communicate(timeout=60)
    assert once.returncode == 0, err
    assert "demo: ok" in out


def test_sync_once_waits_for_another_sync_once(tmp_path: Path) -> None:
    database = tmp_path / "state" / "calsync.db"
    config = _config(tmp_path, database, free_port())
    store = Store(f"sqlite:///{database}")
    store.upgrade()
    store.dispose()
    with sole_process(database, SYNC_ONCE):  # this test process is the other `sync --once`
        once = _cli(config, "sync", "--once")
        assert once.stderr is not None
        waiting = once.stderr.readline()
        assert waiting.startswith("waiting for `calsync sync --once`"), waiting
        assert "pid" in waiting
        with pytest.raises(subprocess.TimeoutExpired):
            once.wait(1.0)  # still waiting for its turn (a guard, not a measure)
    out, err = once.communicate(timeout=60)
    assert once.returncode == 0, err
    assert "demo: ok" in out
    wait_until(lambda: once.poll() is not None, 5, "sync --once to exit")
