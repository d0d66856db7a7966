"""A real ``calsync run`` process synced against a real (or faithfully faked) provider.

`DaemonWorld` writes an operator's TOML file (the API on a free 127.0.0.1
port, SQLite beside the file, one or more ``[[accounts]]`` tables, a short
sync interval), starts the daemon as a subprocess, issues an API token with
``calsync token issue`` in a second process (the token is the last word it
prints) and then talks to the daemon only over HTTP. The provider side is
whatever the accounts point at: the Google fake or a Radicale server.

Progress is observed, never slept on: the daemon logs one
``account 'NAME': sync finished (ok)`` line per successful scheduled pass,
which `wait_for_passes` counts, and every wait is bounded.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from calsync.config.render import toml_value
from tests.fixtures.api import bearer
from tests.fixtures.e2e import read_all_events
from tests.system.harness import DaemonProcess, free_port, wait_for_http, wait_until

#: Generous bounds for one convergence; a healthy run needs a few passes of ``1s``.
CONVERGE_TIMEOUT = 12.0


def write_daemon_config(
    path: Path,
    *,
    port: int,
    interval: str,
    accounts: Sequence[Mapping[str, object]],
    extra: str = "",
) -> Path:
    """The daemon's config: SQLite next to the file, the API on ``127.0.0.1:port``;
    ``extra`` is more TOML (whole tables), put before the accounts."""
    lines = [
        "[store]",
        'url = "sqlite:///state/calsync.db"',
        "[api]",
        f'listen = "127.0.0.1:{port}"',
        "[sync]",
        f"interval = {toml_value(interval)}",
        "[logging]",
        'level = "info"',
        extra,
    ]
    for account in accounts:
        lines.append("[[accounts]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in account.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def issue_token(config: Path, account_name: str, *, cwd: Path) -> str:
    """``calsync --config F token issue --account NAME`` as a process; its last word."""
    argv = [sys.executable, "-m", "calsync.cli.main", "--config", str(config)]
    done = subprocess.run(
        [*argv, "token", "issue", "--account", account_name],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"token issue failed ({done.returncode}):\n{done.stderr}"
    words = done.stdout.split()
    assert words, f"token issue printed nothing:\n{done.stderr}"
    return words[-1]


class DaemonWorld:
    """One running daemon, its API token and an HTTP client for its API."""

    def __init__(self, directory: Path, account_name: str, daemon: DaemonProcess, port: int):
        self.directory = directory
        self.account_name = account_name
        self.daemon = daemon
        self.base_url = f"http://127.0.0.1:{port}"
        self.token = ""
        self.http = httpx.Client(base_url=self.base_url, timeout=10, trust_env=False)

    # -- the daemon's API -----------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def calendars(self) -> list[dict[str, Any]]:
        response = self.http.request("GET", "/v1/calendars", headers=self.headers, json={})
        assert response.status_code == 200, response.text
        calendars: list[dict[str, Any]] = response.json()["calendars"]
        return calendars

    def provider_calendar_id(self, provider: str) -> str:
        """The one calendar of ``provider`` the daemon has discovered (waits for discovery)."""
        found: list[str] = []

        def discovered() -> bool:
            found[:] = [
                c["calendar_id"] for c in self.calendars() if c["provider_name"] == provider
            ]
            return bool(found)

        self.wait(discovered, f"a {provider} calendar in GET /v1/calendars")
        assert len(found) == 1, f"expected one {provider} calendar, got {found}"
        return found[0]

    def read(self, **params: Any) -> list[dict[str, Any]]:
        """Every page of ``GET /v1/events`` over a wide window, in UTC."""
        return read_all_events(self.http, self.headers, **params)

    def summaries(self, **params: Any) -> list[str]:
        """Every event's summary, sorted, duplicates kept (so a duplicate shows)."""
        return sorted(str(e.get("summary")) for e in self.read(**params))

    def upsert(self, calendar_id: str, event_id: str, **body: Any) -> None:
        response = self.http.post(
            f"/v1/calendars/{calendar_id}/events",
            json={"event_id": event_id, **body},
            headers=self.headers,
        )
        assert response.status_code == 202, response.text

    # -- waiting ------------------------------------------------------------------------

    def wait(
        self, condition: Callable[[], bool], what: str, timeout: float = CONVERGE_TIMEOUT
    ) -> None:
        def alive_and(condition_met: Callable[[], bool]) -> bool:
            if self.daemon.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited ({self.daemon.proc.returncode}):\n{self.daemon.logs()}"
                )
            return condition_met()

        try:
            wait_until(lambda: alive_and(condition), timeout, what, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- daemon log ---\n{self.daemon.logs()}") from None

    def wait_for_summaries(self, expected: Sequence[str], **params: Any) -> None:
        want = sorted(expected)
        self.wait(lambda: self.summaries(**params) == want, f"GET /v1/events to show {want}")

    def passes_ok(self) -> int:
        """How many scheduled passes of the account have finished ok so far."""
        return self.daemon.logs().count(f"account {self.account_name!r}: sync finished (ok)")

    def wait_for_passes(self, count: int) -> None:
        """Wait until ``count`` more passes have finished ok (so a late duplicate would show)."""
        target = self.passes_ok() + count
        self.wait(lambda: self.passes_ok() >= target, f"{count} more successful sync passes")

    # -- the process --------------------------------------------------------------------

    def terminate(self) -> int:
        """SIGTERM, then the exit status (the daemon drains and must exit 0)."""
        self.daemon.signal(signal.SIGTERM)
        return self.daemon.wait(20)

    def close(self) -> None:
        self.http.close()
        self.daemon.stop()


@contextmanager
def running_daemon(
    directory: Path, account: Mapping[str, object], *, interval: str = "1s", extra: str = ""
) -> Iterator[DaemonWorld]:
    """Start ``calsync run`` for one account, wait for its API, issue a token for it."""
    port = free_port()
    config = write_daemon_config(
        directory / "calsync.toml", port=port, interval=interval, accounts=[account], extra=extra
    )
    daemon = DaemonProcess(config, cwd=directory)
    world = DaemonWorld(directory, str(account["name"]), daemon, port)
    try:
        response = wait_for_http(f"{world.base_url}/healthz", daemon)
        assert response.status_code == 200, response.text
        world.token = issue_token(config, world.account_name, cwd=directory)
        yield world
    finally:
        world.close()
