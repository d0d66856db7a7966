"""``calsync run`` as a real process: sd_notify, HTTP, SIGHUP reloads, SIGTERM drains."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync.store import Store
from tests.system.harness import (
    DaemonProcess,
    NotifySocket,
    free_port,
    get,
    wait_for_http,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def test_lifecycle_ready_watchdog_reload_and_stop(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    port = free_port()
    config = write_config(tmp_path / "calsync.toml", port=port, accounts=[("demo", "memory")])
    daemon = DaemonProcess(
        config,
        cwd=tmp_path,
        # 0.4 s watchdog: calsync must ping every 0.2 s.
        env={"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "400000"},
    )
    try:
        notify_socket.wait_for("READY=1")
        assert get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        wait_until(lambda: notify_socket.count("WATCHDOG=1") >= 2, 5, "two WATCHDOG=1 pings")
        daemon.wait_for_log("account 'demo': sync finished (ok)")

        # An invalid file: the reason is logged, the old config keeps serving.
        config.write_text(config.read_text() + '\n[api]\nlisten = "127.0.0.1:not-a-port"\n')
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("config reload failed, keeping the running config")
        assert str(config) in daemon.logs()
        assert get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert daemon.proc.poll() is None

        # A valid changed file: logging switches to debug, the job is rescheduled.
        mark = len(daemon.logs())
        write_config(
            config, port=port, accounts=[("demo", "memory")], level="debug", interval="30m"
        )
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("config reloaded: log level debug")
        daemon.wait_for_log("now every 0:30:00 (was 1:00:00)")
        wait_until(lambda: " DEBUG " in daemon.logs()[mark:], 5, "a DEBUG record after the reload")
        assert " DEBUG " not in daemon.logs()[:mark]
        assert get(f"http://127.0.0.1:{port}/healthz").status_code == 200

        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.logs()
        assert notify_socket.seen("STOPPING=1")
        assert "Traceback" not in daemon.logs()
    finally:
        daemon.stop()


# Registers provider "slow" in the daemon process: memory, but list_calendars
# announces itself in a marker file and then takes two seconds.
SLOW_PROVIDER = """
import time
from pathlib import Path
from calsync.providers import memory, registry

MARKER = Path({marker!r})

class SlowProvider(memory.MemoryProvider):
    def list_calendars(self):
        MARKER.write_text("started")
        time.sleep(2.0)
        calendars = super().list_calendars()
        MARKER.write_text("finished")
        return calendars

def create(account_name, options):
    return SlowProvider(memory.create_memory_provider(account_name, options).backend)

registry.register(registry.ProviderSpec(name="slow", factory=create))
"""


def test_sigterm_lets_a_running_sync_job_finish(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    port = free_port()
    marker = tmp_path / "slow-marker"
    config = write_config(tmp_path / "calsync.toml", port=port, accounts=[("slowpoke", "slow")])
    daemon = DaemonProcess(
        config,
        cwd=tmp_path,
        env={"NOTIFY_SOCKET": notify_socket.path},
        python_prelude=SLOW_PROVIDER.format(marker=str(marker)),
    )
    try:
        notify_socket.wait_for("READY=1")
        wait_until(lambda: marker.exists(), 20, "the slow sync job to start")
        assert marker.read_text() == "started"
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.logs()
    finally:
        daemon.stop()

    assert marker.read_text() == "finished"
    logs = daemon.logs()
    assert logs.index("received SIGTERM") < logs.index("account 'slowpoke': sync finished (ok)")
    assert notify_socket.seen("STOPPING=1")
    # The pass committed: the discovered calendar is in the store, marked synced.
    store = Store(f"sqlite:///{tmp_path / 'state' / 'calsync.db'}")
    try:
        with store.read() as uow:
            account = uow.accounts.find_by_name("slowpoke")
            assert account is not None
            calendars = uow.calendars.list(account.pk)
        assert [c.name for c in calendars] == ["Calendar"]
        assert calendars[0].last_sync_at is not None
    finally:
        store.dispose()


def test_port_in_use_fails_cleanly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "calsync.toml", port=port)
        daemon = DaemonProcess(config, cwd=tmp_path)
        try:
            code = daemon.wait()
        finally:
            daemon.stop()
    assert code == 1
    logs = daemon.logs()
    assert f"the API could not listen on 127.0.0.1:{port}" in logs
    assert "Traceback" not in logs


def test_healthz_answers_before_ready_is_sent(tmp_path: Path, notify_socket: NotifySocket) -> None:
    port = free_port()
    config = write_config(tmp_path / "calsync.toml", port=port)
    daemon = DaemonProcess(config, cwd=tmp_path, env={"NOTIFY_SOCKET": notify_socket.path})
    try:
        response = wait_for_http(f"http://127.0.0.1:{port}/healthz", daemon)
        assert response.status_code == 200
        notify_socket.wait_for("READY=1")
        # No watchdog was configured, so none is sent.
        assert notify_socket.count("WATCHDOG=1") == 0
        daemon.signal(signal.SIGINT)
        assert daemon.wait() == 0
    finally:
        daemon.stop()


def _statuses(url: str, count: int) -> list[int]:
    import httpx

    with httpx.Client(trust_env=False, timeout=5) as http:
        return [http.get(url).status_code for _ in range(count)]


CHANNEL_CLIENT = "daemon-client"


def _channel_to_nowhere(port: int) -> tuple[str, int]:
    """Create, through the API, a channel whose callback port has no listener.

    Returns its id and the failure count `GET /v1/channels` shows for it."""
    import httpx

    nowhere = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=15) as http:
        grant = http.post(
            "/v1/application_calendars",
            json={
                "client_id": CHANNEL_CLIENT,
                "client_secret": "daemon-secret",
                "application_calendar_id": "metrics",
            },
        )
        assert grant.status_code == 200, grant.text
        headers = {"Authorization": f"Bearer {grant.json()['access_token']}"}
        created = http.post("/v1/channels", json={"callback_url": nowhere}, headers=headers)
        assert created.status_code == 200, created.text
        channel_id = created.json()["channel"]["channel_id"]
        # The daemon's own relay may claim the verification before the API's
        # immediate attempt does; then its failure is recorded a moment later.
        deadline = time.monotonic() + 15
        while True:
            (listed,) = http.get("/v1/channels", headers=headers).json()["channels"]
            failures = int(listed["status"]["failure_count"])
            if failures >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert listed["channel_id"] == channel_id
    return channel_id, failures


def _scrape(port: int) -> str:
    """``/metrics``, authorised as Prometheus is: the client secret as bearer token."""
    import httpx

    headers = {"Authorization": "Bearer daemon-secret"}
    with httpx.Client(trust_env=False, timeout=10) as http:
        response = http.get(f"http://127.0.0.1:{port}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return response.text


def _metric(exposition: str, sample: str) -> float:
    """The value of one sample (``name{labels}``) in a Prometheus text exposition."""
    for line in exposition.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    name = sample.partition("{")[0]
    found = [line for line in exposition.splitlines() if line.startswith(name)]
    raise AssertionError(f"{sample} is not in /metrics: {found}")


def test_sighup_applies_rate_limits_new_accounts_settings_and_restarts_the_relay(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    port = free_port()
    config = tmp_path / "calsync.toml"
    base = write_config(config, port=port, accounts=[("demo", "memory")]).read_text("utf-8")
    (tmp_path / "api-secret").write_text("daemon-secret\n", encoding="utf-8")
    base = base.replace(
        "[sync]\n",
        f'client_id = "{CHANNEL_CLIENT}"\nclient_secret_file = "api-secret"\n'
        "[notify]\nallow_private_callbacks = true\n[sync]\n",
    )
    config.write_text(base, encoding="utf-8")
    daemon = DaemonProcess(config, cwd=tmp_path, env={"NOTIFY_SOCKET": notify_socket.path})
    url = f"http://127.0.0.1:{port}/v1/account"
    try:
        notify_socket.wait_for("READY=1")
        daemon.wait_for_log("account 'demo': sync finished (ok): 1 calendar(s)")
        daemon.wait_for_log("notification relay started")
        assert 429 not in _statuses(url, 8)  # the default limit is 50/s
        # A channel whose callback refuses connections: its verification failed once,
        # and ChannelCollector reports exactly that channel's status.
        channel_id, listed_failures = _channel_to_nowhere(port)
        assert listed_failures >= 1
        metrics = _scrape(port)
        failures = _metric(metrics, f'calsync_notify_channel_failures{{channel_id="{channel_id}"}}')
        assert failures >= listed_failures  # a relay retry may have failed since
        disabled = _metric(metrics, f'calsync_notify_channel_disabled{{channel_id="{channel_id}"}}')
        assert disabled == 0.0

        # Lower the rate limit, add a calendar, sync every second, change a restart-only key.
        mark = len(daemon.logs())
        config.write_text(
            base.replace('interval = "1h"', 'interval = "1s"').replace(
                f'listen = "127.0.0.1:{port}"',
                f'listen = "127.0.0.1:{port}"\nrate_limit_per_second = 3\npage_size = 7',
            )
            + 'calendars = ["Calendar", "Second"]\n',
            encoding="utf-8",
        )
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("config reloaded")
        logs = daemon.logs()[mark:]
        assert "API rate limits now 3/s" in logs
        assert "api.page_size changed; restart calsync to apply it" in logs
        assert "api.rate_limit_per_second" not in logs  # applied live, no restart warning
        assert logs.index("notification relay stopped") < logs.index("notification relay started")
        assert 429 in _statuses(url, 8)

        # The new engine rediscovers at once (the old one would wait rediscover_interval).
        daemon.wait_for_log("sync finished (ok): 2 calendar(s)", timeout=15)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.logs()
    finally:
        daemon.stop()
    logs = daemon.logs()
    assert logs.rindex("notification relay stopped") < logs.index("calsync stopped")
    assert "Traceback" not in logs


# Registers provider "quota": every listing is refused with a one-hour Retry-After.
QUOTA_PROVIDER = """
from calsync.errors import RateLimited
from calsync.providers import memory, registry

class QuotaProvider(memory.MemoryProvider):
    def list_calendars(self):
        raise RateLimited("quota exceeded", retry_after=3600)

def create(account_name, options):
    return QuotaProvider(memory.create_memory_provider(account_name, options).backend)

registry.register(registry.ProviderSpec(name="quota", factory=create))
"""


def test_a_backing_off_account_is_not_synced_before_retry_at(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "calsync.toml", port=port, accounts=[("limited", "quota")], interval="1s"
    )
    daemon = DaemonProcess(
        config,
        cwd=tmp_path,
        env={"NOTIFY_SOCKET": notify_socket.path},
        python_prelude=QUOTA_PROVIDER,
    )
    try:
        notify_socket.wait_for("READY=1")
        daemon.wait_for_log("account 'limited' backs off: next sync at")
        time.sleep(2.5)  # with a 1 s interval, a scheduler ignoring the backoff runs twice more
        assert daemon.logs().count("account 'limited': sync started") == 1
        assert "account 'limited': sync finished (failed): limited: quota exceeded" in daemon.logs()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.logs()
    finally:
        daemon.stop()
