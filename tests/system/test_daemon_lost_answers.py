"""``kill -9`` of the daemon after Radicale applied its push: no acknowledged edit is lost.

The daemon talks to a real Radicale through `FaultProxy`. The proxy lets the
daemon's PUT (a create or an update) or DELETE reach Radicale, and at the
moment Radicale has applied it, before the answer travels back, it kills the
daemon with SIGKILL. The daemon is started again on the same store; the app
writes the event again through the API (202); the last acknowledged version
must end up on Radicale (read by an independent WebDAV client) and in the API,
with no conflict logged.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fixtures.e2e import caldav_account, radicale_summaries
from tests.fixtures.fault_proxy import FaultProxy, fault_proxy
from tests.fixtures.radicale import RadicaleCalendar
from tests.integration.lost_answers import body
from tests.system.harness import DaemonProcess, free_port, wait_for_http
from tests.system.provider_worlds import DaemonWorld, issue_token, write_daemon_config

pytestmark = pytest.mark.slow


class Restartable:
    """One daemon configuration, started again on the same store after a kill."""

    def __init__(self, directory: Path, account: dict[str, object]) -> None:
        self.directory = directory
        self.port = free_port()
        self.config = write_daemon_config(
            directory / "calsync.toml", port=self.port, interval="1s", accounts=[account]
        )
        self.token = ""
        self.logs: list[str] = []

    @contextmanager
    def run(self) -> Iterator[DaemonWorld]:
        daemon = DaemonProcess(self.config, cwd=self.directory)
        world = DaemonWorld(self.directory, "dav", daemon, self.port)
        try:
            assert wait_for_http(f"{world.base_url}/healthz", daemon).status_code == 200
            if not self.token:
                self.token = issue_token(self.config, "dav", cwd=self.directory)
            world.token = self.token
            yield world
        finally:
            self.logs.append(daemon.logs())
            world.close()


def delete(world: DaemonWorld, calendar_id: str, event_id: str) -> None:
    response = world.http.request(
        "DELETE",
        f"/v1/calendars/{calendar_id}/events",
        json={"event_id": event_id},
        headers=world.headers,
    )
    assert response.status_code == 202, response.text


def kill_on_the_answer(proxy: FaultProxy, world: DaemonWorld, method: str) -> None:
    pid = world.daemon.proc.pid
    proxy.lose_answer(
        method, path_contains=".ics", before_drop=lambda: os.kill(pid, signal.SIGKILL)
    )


@pytest.mark.parametrize("op", ["create", "update", "delete"])
def test_killed_after_radicale_applied_the_push_then_written_again(
    op: str, radicale_calendar: RadicaleCalendar, tmp_path: Path
) -> None:
    with fault_proxy(radicale_calendar.server.base_url) as proxy:
        account = caldav_account(
            radicale_calendar,
            url=proxy.base_url + f"/{radicale_calendar.server.username}/",
            calendars=[proxy.base_url + radicale_calendar.path],
        )
        daemon = Restartable(tmp_path, account)
        with daemon.run() as world:
            calendar_id = world.provider_calendar_id("caldav")
            if op != "create":
                world.upsert(calendar_id, "app-1", **body("v1"))
                world.wait(lambda: radicale_summaries(radicale_calendar) == ["v1"], "v1 pushed")
                world.wait_for_passes(2)  # its echo pulled: nothing in flight
            kill_on_the_answer(proxy, world, "DELETE" if op == "delete" else "PUT")
            if op == "delete":
                delete(world, calendar_id, "app-1")
                applied: list[str] = []
            else:
                world.upsert(calendar_id, "app-1", **body("v2" if op == "update" else "v1"))
                applied = ["v2" if op == "update" else "v1"]
            assert world.daemon.wait(60) == -signal.SIGKILL, "killed on the lost answer"
        assert proxy.lost, "the push reached Radicale"
        assert radicale_summaries(radicale_calendar) == applied, "Radicale applied it"

        final = "v3" if op == "update" else "v2"
        with daemon.run() as world:
            world.upsert(calendar_id, "app-1", **body(final))
            world.wait(
                lambda: radicale_summaries(radicale_calendar) == [final],
                f"Radicale to hold {final}",
            )
            world.wait_for_summaries([final], include_managed=True)
            world.wait_for_passes(2)  # later passes neither revert nor duplicate it
            assert radicale_summaries(radicale_calendar) == [final]
            assert world.summaries(include_managed=True) == [final]
            assert world.terminate() == 0
        logs = "\n".join(daemon.logs)
        assert "conflict" not in logs, logs
