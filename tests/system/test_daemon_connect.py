"""Issue #12 through ``calsync run``: a user connects Google, the daemon syncs at once,
the account survives a restart, a revoked grant disconnects it with a relink URL in
``/v1/profiles`` and in the ``profile_disconnected`` notification, and following that
URL reconnects the same profile. SQLite and PostgreSQL; the daemon is a subprocess.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from calsync.cli.main import cli
from calsync.providers import secrets_vault
from calsync.store import Store
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.api import CLIENT_ID, CLIENT_SECRET, cronofy_client
from tests.integration.connect_world import APP_REDIRECT, Browser
from tests.integration.notify_receiver import Receiver, running_receiver
from tests.system.harness import DaemonProcess, free_port, wait_for_http, wait_until

pytestmark = pytest.mark.slow

PRIMARY = "bob@example.com"


@pytest.fixture
def fake() -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake() as started:
        started.add_calendar("Bob", calendar_id=PRIMARY, primary=True, time_zone="UTC")
        yield started


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def write_config(tmp_path: Path, store_url: str, port: int, fake: GoogleCalendarFake) -> Path:
    (tmp_path / "api-secret").write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    (tmp_path / "google-secret").write_text(fake.client_secret + "\n", encoding="utf-8")
    (tmp_path / "vault-key").write_text(secrets_vault.generate_key() + "\n", encoding="utf-8")
    config = tmp_path / "calsync.toml"
    config.write_text(
        f'[store]\nurl = "{store_url}"\nvault_key_file = "vault-key"\n'
        f'[api]\nlisten = "127.0.0.1:{port}"\nclient_id = "{CLIENT_ID}"\n'
        'client_secret_file = "api-secret"\n'
        '[sync]\ninterval = "2s"\n'
        '[notify]\nallow_private_callbacks = true\ndebounce = "0s"\n'
        '[logging]\nlevel = "info"\n'
        f'[providers.google]\nclient_id = "{fake.client_id}"\n'
        'client_secret_file = "google-secret"\n'
        f'auth_uri = "{fake.auth_uri}"\ntoken_uri = "{fake.token_uri}"\n'
        f'api_endpoint = "{fake.api_endpoint}"\n',
        encoding="utf-8",
    )
    return config


def start(config: Path, tmp_path: Path, base_url: str) -> DaemonProcess:
    daemon = DaemonProcess(config, cwd=tmp_path, env={"OAUTHLIB_INSECURE_TRANSPORT": "1"})
    wait_for_http(f"{base_url}/healthz", daemon)
    return daemon


def test_connected_account_syncs_survives_a_restart_and_relinks(
    store_url: str, tmp_path: Path, fake: GoogleCalendarFake, receiver: Receiver
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path, store_url, port, fake)
    fake.put_event(
        PRIMARY,
        {
            "summary": "Before connecting",
            "start": {"dateTime": "2030-01-02T10:00:00Z"},
            "end": {"dateTime": "2030-01-02T11:00:00Z"},
        },
    )
    client = cronofy_client(base_url)
    browser = Browser()
    daemon = start(config, tmp_path, base_url)
    try:
        arrival = browser.go(client.user_auth_link(APP_REDIRECT, provider_name="google"))
        assert arrival.at_app, arrival.text
        client.get_authorization_from_code(arrival.query["code"], redirect_uri=APP_REDIRECT)
        (calendar,) = client.list_calendars()

        def synced() -> bool:
            events = list(
                client.read_events(
                    calendar_ids=(calendar["calendar_id"],),
                    from_date="2029-12-01",
                    to_date="2030-02-01",
                    tzid="Etc/UTC",
                )
            )
            return [e["summary"] for e in events] == ["Before connecting"]

        # Scheduled at once by the connect (the interval alone would also get there;
        # the initial-sync notification below is what proves a first sync completed).
        wait_until(synced, 30, "the first sync of the connected account")

        # A first listing commits page by page and stamps its cursor (with the
        # milestone) last, so the events can be readable a moment before it.
        def initial_sync_announced() -> bool:
            store = Store(store_url)
            try:
                with store.read() as uow:
                    kinds = [r.kind for r in uow.outbox.list()]
            finally:
                store.dispose()
            return "profile_initial_sync_completed" in kinds

        wait_until(initial_sync_announced, 30, "profile_initial_sync_completed")

        channel = client.create_notification_channel(receiver.url)
        assert channel["channel_id"].startswith("chn_")

        # A restart: the connected account is still there and still syncing.
        daemon.stop()
        daemon = start(config, tmp_path, base_url)
        listed = CliRunner().invoke(cli, ["--config", str(config), "account", "list"])
        assert listed.exit_code == 0, listed.output
        (row,) = listed.output.splitlines()[1:]
        assert row.split()[:4] == [PRIMARY, "connected", "google", "yes"]

        # Google revokes the grant: the profile is disconnected, with a relink URL.
        fake.revoke_refresh_tokens()

        def disconnected() -> bool:
            return [p["profile_connected"] for p in client.list_profiles()] == [False]

        wait_until(disconnected, 30, "the profile to be disconnected")
        (profile,) = client.list_profiles()
        relink = profile["profile_relink_url"]
        assert receiver.wait_for(
            lambda got: any(r.kind == "profile_disconnected" for r in got), timeout=30
        )
        notice = next(r for r in receiver.received if r.kind == "profile_disconnected")
        assert notice.json["notification"]["profile"]["profile_relink_url"] == relink

        again = browser.go(relink)
        assert again.at_app, again.text
        answer = httpx.post(
            f"{base_url}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "code": again.query["code"],
                "redirect_uri": APP_REDIRECT,
            },
        ).json()
        assert answer["linking_profile"]["profile_id"] == profile["profile_id"]
        assert [c["calendar_id"] for c in client.list_calendars()] == [calendar["calendar_id"]]
        wait_until(
            lambda: [p["profile_connected"] for p in client.list_profiles()] == [True],
            30,
            "the profile to be connected again",
        )
        assert synced()
        logs = daemon.logs()
        first_code = arrival.query["code"]
        for secret in (CLIENT_SECRET, fake.client_secret, first_code, *fake.refresh_tokens):
            assert secret not in logs
    finally:
        browser.close()
        daemon.stop()
