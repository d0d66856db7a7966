"""Invariant 5: a crash cannot lose a committed change's notification.

A relay process is killed with SIGKILL while a change notification is in
flight (its lease committed, the POST unanswered), and more changes commit
while it is down. After a restart every committed change is covered by a
delivered notification, and the interrupted one is re-sent with the same
``webhook-id``.

The relay runs here in its own process (the same `OutboxRelay` the daemon
runs), with a 1 s lease so the test does not wait out the 60 s default. The
second test does the same through ``calsync run``, whose relay thread
(`calsync.daemon.relay_thread`) picks the notification up after the restart.
The third kills ``calsync run`` on SQLite while a notification is in flight:
the restarted daemon owns the file, so it releases the dead run's lease at
start instead of leaving the channel silent until the lease expires.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync.notify.channels import create_channel
from calsync.store import Store
from tests.fixtures.api import make_settings
from tests.fixtures.store import content, new_calendar
from tests.integration.notify_receiver import Received, Receiver, running_receiver
from tests.system.harness import REPO_ROOT, wait_until

RELAY = """
import sys, threading
from datetime import timedelta
from calsync.notify.relay import OutboxRelay
from calsync.store import Store
from tests.fixtures.api import make_settings

url = sys.argv[1]
relay = OutboxRelay(
    Store(url), make_settings(url, "http://127.0.0.1:9", 9),
    lease=timedelta(seconds=1), poll_interval=0.02,
)
relay.run_forever(threading.Event())
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def start_relay(store_url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", RELAY, store_url], cwd=REPO_ROOT, stdout=out, stderr=out
        )


def covered_seqs(store: Store, channel_pk: int) -> set[int]:
    with store.read() as uow:
        done = uow.channels.list_deliveries(channel_pk, status="delivered")
    return {
        seq
        for d in done
        if d.kind == "change" and d.first_seq is not None and d.last_seq is not None
        for seq in range(d.first_seq, d.last_seq + 1)
    }


def test_kill_9_between_commit_and_delivery_loses_nothing(
    store: Store, store_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    settings = make_settings(store_url, "http://127.0.0.1:9", 9)
    calendar = new_calendar(store)
    with store.read() as uow:
        account = uow.accounts.get(calendar.account_pk)
    channel, _ = create_channel(store, settings, account, receiver.url, None)

    hang = True

    def respond(item: Received) -> tuple[int, dict[str, str]]:
        if hang and item.kind == "change":
            time.sleep(3)  # the relay is killed while waiting for this answer
        return 200, {}

    receiver.respond = respond
    log = tmp_path / "relay.log"
    relay = start_relay(store_url, log)
    try:
        assert receiver.wait_for(lambda got: any(r.kind == "verification" for r in got))
        for i in range(10):
            with store.write() as uow:
                uow.events.upsert_managed(calendar.pk, f"before-{i}", content(f"B{i}"))
        wait_until(
            lambda: any(a.kind == "change" for a in receiver.all_attempts) or False,
            10,
            "a change notification in flight",
        )
        in_flight_id = next(a.webhook_id for a in receiver.all_attempts if a.kind == "change")
        os.kill(relay.pid, signal.SIGKILL)
        relay.wait(10)
        for i in range(10):  # committed while nothing relays
            with store.write() as uow:
                uow.events.upsert_managed(calendar.pk, f"during-{i}", content(f"D{i}"))
        hang = False
        relay = start_relay(store_url, log)
        with store.read() as uow:
            committed = {c.seq for c in uow.changes.list_since(account.pk)}
        assert len(committed) == 20
        wait_until(
            lambda: committed <= covered_seqs(store, channel.pk),
            20,
            f"every change notified (relay log: {log})",
        )
    finally:
        relay.kill()
        relay.wait(10)
    received_ids = {r.webhook_id for r in receiver.received}
    assert in_flight_id in received_ids  # re-sent after the crash under the same id
    with store.read() as uow:
        delivered = uow.channels.list_deliveries(channel.pk, status="delivered")
        assert uow.channels.list_deliveries(channel.pk, status="pending") == []
    assert {d.webhook_id for d in delivered} <= received_ids


def test_kill_9_the_daemon_after_a_commit(tmp_path: Path, receiver: Receiver) -> None:
    import httpx

    from tests.system.harness import DaemonProcess, free_port, wait_for_http

    port = free_port()
    (tmp_path / "secret").write_text("crash-secret\n", encoding="utf-8")
    config = tmp_path / "calsync.toml"
    config.write_text(
        "[store]\n"
        'url = "sqlite:///state/calsync.db"\n'
        "[api]\n"
        f'listen = "127.0.0.1:{port}"\n'
        'client_id = "crash-client"\n'
        'client_secret_file = "secret"\n'
        "[notify]\n"
        "allow_private_callbacks = true\n"
        'debounce = "0s"\n',
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    daemon = DaemonProcess(config, cwd=tmp_path)
    try:
        wait_for_http(f"{base}/healthz", daemon)
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as http:
            auth = http.post(
                "/v1/application_calendars",
                json={
                    "client_id": "crash-client",
                    "client_secret": "crash-secret",
                    "application_calendar_id": "crash",
                },
            ).json()
            headers = {"Authorization": f"Bearer {auth['access_token']}"}
            (calendar,) = http.request("GET", "/v1/calendars", headers=headers, json={}).json()[
                "calendars"
            ]
            http.post("/v1/channels", json={"callback_url": receiver.url}, headers=headers)
            receiver.respond = lambda _r: (503, {})  # nothing gets through before the kill
            upsert = http.post(
                f"/v1/calendars/{calendar['calendar_id']}/events",
                json={
                    "event_id": "crash-1",
                    "summary": "Crash",
                    "start": "2026-12-01T09:00:00Z",
                    "end": "2026-12-01T10:00:00Z",
                },
                headers=headers,
            )
            assert upsert.status_code == 202
        os.kill(daemon.proc.pid, signal.SIGKILL)
        daemon.proc.wait(10)
        receiver.respond = lambda _r: (200, {})
        daemon.stop()
        daemon = DaemonProcess(config, cwd=tmp_path)
        wait_for_http(f"{base}/healthz", daemon)
        assert receiver.wait_for(lambda got: any(r.kind == "change" for r in got), timeout=90)
    finally:
        daemon.stop()


def test_a_restarted_daemon_on_sqlite_does_not_wait_out_a_dead_lease(
    tmp_path: Path, receiver: Receiver
) -> None:
    import threading

    import httpx

    from tests.system.harness import DaemonProcess, free_port, wait_for_http

    port = free_port()
    (tmp_path / "secret").write_text("crash-secret\n", encoding="utf-8")
    config = tmp_path / "calsync.toml"
    config.write_text(
        "[store]\n"
        'url = "sqlite:///state/calsync.db"\n'
        "[api]\n"
        f'listen = "127.0.0.1:{port}"\n'
        'client_id = "crash-client"\n'
        'client_secret_file = "secret"\n'
        "[notify]\n"
        "allow_private_callbacks = true\n",
        encoding="utf-8",
    )
    in_flight, release = threading.Event(), threading.Event()

    def hang_on_the_first_change(item: Received) -> tuple[int, dict[str, str]]:
        if item.kind == "change" and not release.is_set():
            in_flight.set()
            release.wait(60)  # the daemon is killed while this POST waits
        return 200, {}

    receiver.respond = hang_on_the_first_change
    base = f"http://127.0.0.1:{port}"
    daemon = DaemonProcess(config, cwd=tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'state' / 'calsync.db'}")
    try:
        wait_for_http(f"{base}/healthz", daemon)
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as http:
            auth = http.post(
                "/v1/application_calendars",
                json={
                    "client_id": "crash-client",
                    "client_secret": "crash-secret",
                    "application_calendar_id": "crash",
                },
            ).json()
            headers = {"Authorization": f"Bearer {auth['access_token']}"}
            (calendar,) = http.request("GET", "/v1/calendars", headers=headers, json={}).json()[
                "calendars"
            ]
            created = http.post(
                "/v1/channels", json={"callback_url": receiver.url}, headers=headers
            )
            assert created.status_code == 200, created.text
            upsert = http.post(
                f"/v1/calendars/{calendar['calendar_id']}/events",
                json={
                    "event_id": "crash-1",
                    "summary": "Crash",
                    "start": "2026-12-01T09:00:00Z",
                    "end": "2026-12-01T10:00:00Z",
                },
                headers=headers,
            )
            assert upsert.status_code == 202
        assert in_flight.wait(30), "the change notification was never sent"
        with store.read() as uow:
            (leased,) = [
                d for d in uow.channels.list_deliveries(status="pending") if d.kind == "change"
            ]
        assert leased.leased_by is not None
        os.kill(daemon.proc.pid, signal.SIGKILL)
        daemon.proc.wait(10)
        release.set()
        daemon.stop()

        daemon = DaemonProcess(config, cwd=tmp_path)
        wait_for_http(f"{base}/healthz", daemon)
        # Released before the restarted daemon answers: not held by the dead process.
        with store.read() as uow:
            now = uow.channels.get_delivery(leased.webhook_id)
        assert now is not None
        assert now.status == "delivered" or now.leased_by != leased.leased_by
        assert receiver.wait_for(
            lambda got: any(r.webhook_id == leased.webhook_id for r in got), timeout=90
        ), daemon.logs()
        assert "released 1 notification lease(s) left by a previous run" in daemon.logs()
    finally:
        release.set()
        store.dispose()
        daemon.stop()
