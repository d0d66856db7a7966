"""Issue #12: ``ca_file`` reaches the Google provider's own transport, not only the connect flow.

The Google fake serves HTTPS under a throw-away CA (``GoogleCalendarFake(tls=True)``),
as a Google endpoint behind a TLS-intercepting proxy would. With ``ca_file`` (the
account's own, or inherited from ``[providers.google]``) an account syncs through
the registry and `SyncEngine`, and ``calsync sync --once``, including the token
refresh at the HTTPS token endpoint when the fake forgets its access tokens. An
account connected through /oauth/authorize lists and syncs its calendars over the
same CA. Without ``ca_file`` the pass fails with one line naming the rejected
certificate and ``ca_file``, and the events stored before are left as they were.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from calsync.cli.main import cli
from calsync.config import Settings
from calsync.config.render import toml_value
from calsync.daemon.bootstrap import load_settings
from calsync.store import Store
from calsync.sync import AccountSyncReport, SyncEngine
from calsync.sync.connections import connected_accounts
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.api import cronofy_client, run_api_server
from tests.integration.connect_world import APP_REDIRECT, Browser, connect_settings

CALENDAR = "team@example.com"
START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


def timed(summary: str, hours: int = 0) -> dict[str, object]:
    start = START + timedelta(hours=hours)
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
    }


@pytest.fixture
def fake() -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake(tls=True) as started:
        started.add_calendar("Team", calendar_id=CALENDAR, primary=True, time_zone="UTC")
        started.put_event(CALENDAR, timed("Standup"))
        yield started


def write_config(
    directory: Path,
    store_url: str,
    fake: GoogleCalendarFake,
    *,
    own_ca: bool = False,
    app_ca: bool = False,
) -> Path:
    """A config with one google account at the HTTPS fake; ``ca_file`` in the account
    table (``own_ca``) and/or in ``[providers.google]`` (``app_ca``)."""
    secret = directory / "google-client-secret"
    secret.write_text(fake.client_secret + "\n", encoding="utf-8")
    refresh = directory / "google-refresh-token"
    if not refresh.exists():
        refresh.write_text(fake.issue_refresh_token() + "\n", encoding="utf-8")
    lines = [
        "[store]",
        f"url = {toml_value(store_url)}",
        "[logging]",
        'level = "warning"',
        "[providers.google]",
        f"client_id = {toml_value(fake.client_id)}",
        f"client_secret_file = {toml_value(str(secret))}",
        f"token_uri = {toml_value(fake.token_uri)}",
        f"api_endpoint = {toml_value(fake.api_endpoint)}",
    ]
    if app_ca:
        lines.append(f"ca_file = {toml_value(str(fake.ca_file))}")
    lines += [
        "[[accounts]]",
        'name = "gmail"',
        'provider = "google"',
        f"client_id = {toml_value(fake.client_id)}",
        f"client_secret_file = {toml_value(str(secret))}",
        f"refresh_token_file = {toml_value(str(refresh))}",
        f"token_uri = {toml_value(fake.token_uri)}",
        f"api_endpoint = {toml_value(fake.api_endpoint)}",
        f"calendars = [{toml_value(CALENDAR)}]",
    ]
    if own_ca:
        lines.append(f"ca_file = {toml_value(str(fake.ca_file))}")
    path = directory / "calsync.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sync(store: Store, settings: Settings) -> AccountSyncReport:
    [account] = settings.accounts
    return SyncEngine(store, settings).sync_account(account)


def stored_summaries(store: Store) -> dict[str, str]:
    """Summary -> etag of every live event the store holds for the account."""
    with store.read() as uow:
        account = uow.accounts.find_by_name("gmail")
        assert account is not None
        [calendar] = [c for c in uow.calendars.list(account.pk) if c.remote_id == CALENDAR]
        return {
            e.content.summary or "": e.etag or "" for e in uow.events.list_calendar(calendar.pk)
        }


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.mark.parametrize("where", ["account", "providers.google"])
def test_an_account_syncs_over_https_with_ca_file_including_token_refresh(
    fake: GoogleCalendarFake, store: Store, store_url: str, tmp_path: Path, where: str
) -> None:
    config = write_config(
        tmp_path, store_url, fake, own_ca=where == "account", app_ca=where == "providers.google"
    )
    settings = load_settings(config)
    [account] = settings.accounts
    assert str(account.options["ca_file"]) == str(fake.ca_file)

    first = sync(store, settings)
    assert first.ok, first.describe_failures()
    assert set(stored_summaries(store)) == {"Standup"}
    assert fake.count("POST", "/token") == 1

    # The fake forgets its access tokens: the next request meets 401, google-auth
    # refreshes at the HTTPS token endpoint through the same transport, and retries.
    fake.expire_access_tokens()
    fake.put_event(CALENDAR, timed("Review", hours=3))
    second = sync(store, settings)
    assert second.ok, second.describe_failures()
    assert set(stored_summaries(store)) == {"Standup", "Review"}
    assert fake.count("POST", "/token") == 2
    assert any(r.status == 401 for r in fake.requests), "the refresh followed a 401"


def test_without_ca_file_the_pass_names_the_certificate_and_keeps_the_store(
    fake: GoogleCalendarFake, store: Store, store_url: str, tmp_path: Path
) -> None:
    trusted = load_settings(write_config(tmp_path, store_url, fake, app_ca=True))
    assert sync(store, trusted).ok
    before = stored_summaries(store)
    [standup] = [i for i, e in fake.calendars[CALENDAR].events.items() if e["summary"] == "Standup"]
    fake.cancel_event(CALENDAR, standup)
    fake.put_event(CALENDAR, timed("Retro", hours=5))
    requests_before = len(fake.requests)

    untrusted = load_settings(write_config(tmp_path, store_url, fake))
    failed = sync(store, untrusted)
    assert not failed.ok
    [line] = failed.describe_failures()
    assert "TLS certificate of 127.0.0.1 was rejected" in line, line
    assert "ca_file" in line and "Traceback" not in line and "object at 0x" not in line
    assert len(fake.requests) == requests_before, "no request got past the handshake"
    assert stored_summaries(store) == before, "a failed pass changes nothing stored"

    # Trusted again, the same store catches up: nothing was left half-written.
    recovered = sync(store, trusted)
    assert recovered.ok, recovered.describe_failures()
    assert set(stored_summaries(store)) == {"Retro"}


def test_sync_once_over_https_with_and_without_ca_file(
    fake: GoogleCalendarFake, store_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, store_url, fake)
    failed = CliRunner().invoke(cli, ["--config", str(config), "sync", "--once"])
    output = failed.stdout + failed.stderr
    assert failed.exit_code == 1, output
    [error] = [line for line in output.splitlines() if line.startswith("error: gmail")]
    assert "certificate" in error and "ca_file" in error, output

    config = write_config(tmp_path, store_url, fake, app_ca=True)
    synced = CliRunner().invoke(cli, ["--config", str(config), "sync", "--once"])
    assert synced.exit_code == 0, synced.stdout + synced.stderr
    assert fake.count("GET", "/events") >= 1
    store = Store(store_url)
    try:
        assert set(stored_summaries(store)) == {"Standup"}
    finally:
        store.dispose()


def test_a_connected_account_lists_and_syncs_over_https_with_providers_google_ca_file(
    fake: GoogleCalendarFake, store_url: str
) -> None:
    def adjust(settings: Settings) -> Settings:
        connected = connect_settings(settings, fake)
        assert connected.providers.google is not None
        google = replace(connected.providers.google, ca_file=fake.ca_file)
        return replace(connected, providers=replace(connected.providers, google=google))

    with run_api_server(store_url, adjust=adjust) as server:
        client = cronofy_client(server.base_url)
        browser = Browser(verify=ssl.create_default_context(cafile=str(fake.ca_file)))
        try:
            link = client.user_auth_link(APP_REDIRECT, provider_name="google")
            arrival = browser.go(link)
        finally:
            browser.close()
        assert arrival.at_app, arrival.text
        client.get_authorization_from_code(arrival.query["code"], redirect_uri=APP_REDIRECT)
        # The calendars were listed at connect time, by the provider over the CA.
        assert [c["calendar_name"] for c in client.list_calendars()] == ["Team"]

        settings = server.settings
        [account] = connected_accounts(settings, server.store)
        assert str(account.options["ca_file"]) == str(fake.ca_file)
        report = SyncEngine(server.store, settings).sync_account(account)
        assert report.ok, report.describe_failures()
        events = client.read_events(
            from_date=START.date().isoformat(),
            to_date=(START + timedelta(days=2)).date().isoformat(),
            tzid="Etc/UTC",
        ).all()
        assert [e["summary"] for e in events] == ["Standup"]
        # httpx's default trust store cannot reach the fake: only ca_file does.
        with pytest.raises(httpx.ConnectError):
            httpx.get(fake.token_uri, trust_env=False)
