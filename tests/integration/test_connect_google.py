"""Issue #12: Cronofy's authorization-code flow with Google, through pycronofy and real HTTP.

calsync's API runs under uvicorn over SQLite and PostgreSQL; Google is the fake
(authorization endpoint with PKCE S256, authorization_code grant, /revoke); the
browser is an httpx client with cookies (`connect_world.Browser`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pycronofy
import pytest
from click.testing import CliRunner, Result

from calsync.cli.main import cli
from calsync.store.repos.connect import digest
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.integration.connect_world import (
    APP_REDIRECT,
    VAULT_KEY,
    Browser,
    ConnectWorld,
    connect_world,
)

PRIMARY = "alice@example.com"


@pytest.fixture(autouse=True)
def _insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake is plain http on loopback


@pytest.fixture
def fake() -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake() as started:
        started.add_calendar("Alice", calendar_id=PRIMARY, primary=True, time_zone="Europe/Berlin")
        started.add_calendar("Team", calendar_id="team@group.example.com")
        yield started


@pytest.fixture
def world(store_url: str, fake: GoogleCalendarFake) -> Iterator[ConnectWorld]:
    with connect_world(store_url, fake) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def connect(world: ConnectWorld, browser: Browser, **params: object) -> dict[str, str]:
    """Run the flow with provider_name=google; the query the app's redirect URI got."""
    client = world.cronofy()
    arrival = browser.go(world.auth_link(client, provider_name="google", **params))
    assert arrival.at_app, arrival.text
    return arrival.query


def test_connect_google_through_pycronofy(world: ConnectWorld, browser: Browser) -> None:
    client = world.cronofy()
    # Without provider_name: the chooser page, which links to Google.
    chooser = browser.go(world.auth_link(client, state="s-1"))
    assert chooser.status == 200
    assert "Connect Google Calendar" in chooser.text and "<script" not in chooser.text
    link = chooser.text.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    arrival = browser.go(world.base_url + link)
    assert arrival.at_app, arrival.text
    assert arrival.query["state"] == "s-1"
    code = arrival.query["code"]

    # Google saw PKCE S256, offline access and a fresh consent, and our callback.
    authorize = next(r for r in world.fake.requests if r.path == "/authorize")
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["access_type"] == "offline"
    assert authorize.query["prompt"] == "consent"
    assert authorize.query["redirect_uri"] == f"{world.base_url}/oauth/callback/google"

    tokens = client.get_authorization_from_code(code, redirect_uri=APP_REDIRECT)
    assert tokens["access_token"].startswith("csa_")
    # The raw answer has Cronofy's shape (pycronofy keeps only the tokens).
    calendars = client.list_calendars()
    assert sorted(c["calendar_name"] for c in calendars) == ["Alice", "Team"]
    (profile,) = client.list_profiles()
    assert profile["provider_name"] == "google"
    assert profile["profile_name"] == PRIMARY
    assert profile["profile_connected"] is True

    # Credentials are stored encrypted, never in plain text.
    with world.server.store.read() as uow:
        (connection,) = uow.connections.list()
    assert connection.credentials is not None and connection.credentials.startswith("fernet:")
    assert all(token not in connection.credentials for token in world.fake.refresh_tokens)


def test_token_answer_shape_and_single_use_code(world: ConnectWorld, browser: Browser) -> None:
    code = connect(world, browser, state="xyz")["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": "calsync-test-client",
        "client_secret": "calsync-test-secret",
        "code": code,
        "redirect_uri": APP_REDIRECT,
    }
    first = httpx.post(f"{world.base_url}/oauth/token", json=form)
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) >= {
        "token_type",
        "access_token",
        "expires_in",
        "refresh_token",
        "scope",
        "account_id",
        "sub",
        "linking_profile",
    }
    assert body["account_id"] == body["sub"] and body["sub"].startswith("acc_")
    assert body["linking_profile"]["provider_name"] == "google"
    assert body["linking_profile"]["profile_name"] == PRIMARY
    assert body["linking_profile"]["profile_id"].startswith("pro_")
    assert body["scope"] == " ".join(pycronofy.settings.DEFAULT_OAUTH_SCOPE)
    again = httpx.post(f"{world.base_url}/oauth/token", json=form)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    ("change", "value"),
    [("redirect_uri", "http://127.0.0.1:9/elsewhere"), ("code", "made-up")],
)
def test_a_code_with_another_redirect_uri_or_unknown_is_invalid_grant(
    world: ConnectWorld, browser: Browser, change: str, value: str
) -> None:
    code = connect(world, browser)["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": "calsync-test-client",
        "client_secret": "calsync-test-secret",
        "code": code,
        "redirect_uri": APP_REDIRECT,
        change: value,
    }
    refused = httpx.post(f"{world.base_url}/oauth/token", data=form)
    assert refused.status_code == 400 and refused.json() == {"error": "invalid_grant"}
    # A mismatched presentation burns the code: the right one is refused afterwards too.
    form.update(code=code, redirect_uri=APP_REDIRECT)
    if change == "redirect_uri":
        assert httpx.post(f"{world.base_url}/oauth/token", data=form).status_code == 400


def test_another_clients_credentials_cannot_redeem_a_code(
    world: ConnectWorld, browser: Browser
) -> None:
    code = connect(world, browser)["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": "another-client",
        "client_secret": "calsync-test-secret",
        "code": code,
        "redirect_uri": APP_REDIRECT,
    }
    refused = httpx.post(f"{world.base_url}/oauth/token", data=form)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_denial_sends_access_denied_with_the_state(world: ConnectWorld, browser: Browser) -> None:
    world.fake.deny_consent = True
    answer = connect(world, browser, state="keep-me")
    assert answer == {"error": "access_denied", "state": "keep-me"}
    with world.server.store.read() as uow:
        assert uow.connections.list() == []


def test_unknown_client_or_redirect_gets_a_page_not_a_redirect(world: ConnectWorld) -> None:
    base = f"{world.base_url}/oauth/authorize"
    good = {
        "response_type": "code",
        "client_id": "calsync-test-client",
        "redirect_uri": APP_REDIRECT,
        "scope": "read_events",
        "state": "s",
    }
    for bad in ({"client_id": "nobody"}, {"redirect_uri": "https://evil.example/cb"}):
        reply = httpx.get(base, params={**good, **bad})
        assert reply.status_code == 400
        assert "location" not in reply.headers
        assert reply.headers["content-type"].startswith("text/html")
    # Other errors go back to the (now trusted) app, with its state.
    for bad, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "read_events launch_rockets"}, "invalid_scope"),
        ({"provider_name": "myspace"}, "invalid_request"),
    ):
        reply = httpx.get(base, params={**good, **bad})
        assert reply.status_code == 302
        assert reply.headers["location"] == f"{APP_REDIRECT}?error={error}&state=s"


def test_tampered_replayed_or_foreign_state_is_refused(
    world: ConnectWorld, browser: Browser
) -> None:
    client = world.cronofy()
    start = browser.http.get(world.auth_link(client, provider_name="google"))
    consent_url = start.headers["location"]
    to_callback = browser.http.get(consent_url).headers["location"]
    state = httpx.URL(to_callback).params["state"]
    code = httpx.URL(to_callback).params["code"]
    callback = f"{world.base_url}/oauth/callback/google"

    tampered = browser.http.get(callback, params={"state": state[:-2] + "xx", "code": code})
    assert tampered.status_code == 400 and "location" not in tampered.headers

    stranger = Browser()  # the same answer in another browser (no cookie)
    try:
        foreign = stranger.http.get(callback, params={"state": state, "code": code})
    finally:
        stranger.close()
    assert foreign.status_code == 403 and "location" not in foreign.headers

    done = browser.http.get(callback, params={"state": state, "code": code})
    assert done.status_code == 302 and done.headers["location"].startswith(APP_REDIRECT)
    replayed = browser.http.get(callback, params={"state": state, "code": code})
    assert replayed.status_code == 400 and "already been used" in replayed.text
    # The state is stored only as a hash.
    with world.server.store.read() as uow:
        assert uow.auth_requests.get(state) is not None
    assert digest(state) != state


def test_relinking_the_same_google_account_keeps_account_and_profile(
    world: ConnectWorld, browser: Browser
) -> None:
    client = world.cronofy()
    first = httpx.post(
        f"{world.base_url}/oauth/token",
        data=_code_form(connect(world, browser)["code"]),
    ).json()
    second = httpx.post(
        f"{world.base_url}/oauth/token",
        data=_code_form(connect(world, browser)["code"]),
    ).json()
    assert second["sub"] == first["sub"]
    assert second["linking_profile"] == first["linking_profile"]
    separate = httpx.post(
        f"{world.base_url}/oauth/token",
        data=_code_form(connect(world, browser, avoid_linking=True)["code"]),
    ).json()
    assert separate["sub"] != first["sub"]
    assert separate["linking_profile"]["profile_id"] != first["linking_profile"]["profile_id"]
    assert isinstance(client, pycronofy.Client)


def test_revoke_then_relink_brings_back_the_same_profile_and_calendars(
    world: ConnectWorld, browser: Browser
) -> None:
    client = world.cronofy()
    client.get_authorization_from_code(connect(world, browser)["code"], redirect_uri=APP_REDIRECT)
    before = {c["calendar_id"] for c in client.list_calendars()}
    (profile,) = client.list_profiles()
    refresh_token = next(iter(world.fake.refresh_tokens))

    client.revoke_profile(profile["profile_id"])
    assert world.fake.revoked == [refresh_token]  # revoked at Google too
    (revoked,) = client.list_profiles()
    assert revoked["profile_connected"] is False
    relink = revoked["profile_relink_url"]
    assert relink.startswith(f"{world.base_url}/oauth/authorize?")
    assert all(c["calendar_deleted"] for c in client.list_calendars())
    with world.server.store.read() as uow:
        (connection,) = uow.connections.list()
    assert connection.credentials is None

    arrival = browser.go(relink)
    assert arrival.at_app, arrival.text
    tokens = httpx.post(
        f"{world.base_url}/oauth/token", data=_code_form(arrival.query["code"])
    ).json()
    assert tokens["linking_profile"]["profile_id"] == profile["profile_id"]
    (back,) = client.list_profiles()
    assert back["profile_connected"] is True and "profile_relink_url" not in back
    calendars = client.list_calendars()
    assert {c["calendar_id"] for c in calendars} == before
    assert not any(c["calendar_deleted"] for c in calendars)


def _code_form(code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "client_id": "calsync-test-client",
        "client_secret": "calsync-test-secret",
        "code": code,
        "redirect_uri": APP_REDIRECT,
    }


def test_account_list_and_remove_by_sub(
    world: ConnectWorld, browser: Browser, store_url: str, tmp_path: Path
) -> None:
    client = world.cronofy()
    tokens = httpx.post(
        f"{world.base_url}/oauth/token", data=_code_form(connect(world, browser)["code"])
    ).json()
    config = tmp_path / "calsync.toml"
    (tmp_path / "vault-key").write_text(VAULT_KEY + "\n", encoding="utf-8")
    (tmp_path / "google-secret").write_text(world.fake.client_secret + "\n", encoding="utf-8")
    config.write_text(
        f'[store]\nurl = "{store_url}"\nvault_key_file = "vault-key"\n'
        f'[providers.google]\nclient_id = "{world.fake.client_id}"\n'
        'client_secret_file = "google-secret"\n'
        f'token_uri = "{world.fake.token_uri}"\napi_endpoint = "{world.fake.api_endpoint}"\n',
        encoding="utf-8",
    )

    def calsync(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)

    listed = calsync("account", "list")
    assert listed.exit_code == 0, listed.output
    (row,) = listed.output.splitlines()[1:]
    assert row.split()[:5] == [PRIMARY, "connected", "google", "yes", tokens["sub"]]

    synced = calsync("sync", "--once", "--account", PRIMARY)
    assert synced.exit_code == 0, synced.output
    assert synced.stdout.strip() == f"{PRIMARY}: ok, 2 calendar(s)"

    status = calsync("status")
    assert status.exit_code == 0, status.output
    assert PRIMARY in status.output and "account remove" not in status.output

    removed = calsync("account", "remove", tokens["sub"], "--yes")
    assert removed.exit_code == 0, removed.output
    assert f"removed account {PRIMARY} (sub {tokens['sub']})" in removed.output
    assert calsync("account", "list").output.startswith("no accounts")
    with world.server.store.read() as uow:
        assert uow.connections.list() == []
    client.auth.update(access_token=tokens["access_token"])
    with pytest.raises(pycronofy.exceptions.PyCronofyRequestError):
        client.list_calendars()
