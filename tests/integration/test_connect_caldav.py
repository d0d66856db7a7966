"""Issue #12: the chooser's CalDAV form, checked by a PROPFIND against a real Radicale.

A wrong password gets the form back with a clear message and stores nothing; the
right one stores the account (password encrypted) with its calendars found at
once, and the app gets its code. The same login connected again is the same
account and profile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest

from calsync.config import Settings
from calsync.sync import SyncEngine
from calsync.sync.connections import with_connections
from tests.fixtures.api import run_api_server
from tests.fixtures.radicale import RadicaleServer, vevent_ics
from tests.integration.connect_world import (
    APP_REDIRECT,
    Browser,
    ConnectWorld,
    connect_settings,
)


@pytest.fixture
def world(store_url: str) -> Iterator[ConnectWorld]:
    # No [providers.*] table: the chooser offers the CalDAV form only.
    with run_api_server(store_url, adjust=lambda s: connect_settings(s, None)) as server:
        yield ConnectWorld(server, None)  # type: ignore[arg-type]


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def form_of(page: str) -> dict[str, str]:
    fields = dict(re.findall(r'name="([a-z]+)"[^>]*?value="([^"]*)"', page))
    return {k: unescape(v) for k, v in fields.items()}


def code_form(code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "client_id": "calsync-test-client",
        "client_secret": "calsync-test-secret",
        "code": code,
        "redirect_uri": APP_REDIRECT,
    }


def test_caldav_form_wrong_password_then_connected(
    world: ConnectWorld,
    browser: Browser,
    radicale_server: RadicaleServer,
) -> None:
    calendar = radicale_server.new_calendar("Connected by form")
    now = datetime.now(UTC)
    stamp = (now + timedelta(days=2)).strftime("%Y%m%dT100000Z")
    calendar.put(
        "form.ics",
        vevent_ics("form-1", f"DTSTAMP:{stamp}\nDTSTART:{stamp}\nDURATION:PT1H\nSUMMARY:Typed in"),
    )
    client = world.cronofy()
    chooser = browser.go(world.auth_link(client, state="cd"))
    assert chooser.status == 200
    assert "/oauth/connect/google" not in chooser.text  # no [providers.google]: not offered
    assert 'action="/oauth/connect/caldav"' in chooser.text
    handle = form_of(chooser.text)["request"]
    submit = f"{world.base_url}/oauth/connect/caldav"
    form = {
        "request": handle,
        "url": radicale_server.base_url + "/",
        "username": radicale_server.username,
        "password": "not-the-password",
    }

    refused = browser.go(submit, method="POST", data=form)
    assert refused.status == 400
    assert "refused that user name and password" in refused.text
    assert 'role="alert"' in refused.text
    assert "not-the-password" not in refused.text  # never echoed
    assert form_of(refused.text)["username"] == radicale_server.username
    with world.server.store.read() as uow:
        assert uow.connections.list() == []

    arrival = browser.go(submit, method="POST", data={**form, "password": radicale_server.password})
    assert arrival.at_app, arrival.text
    assert arrival.query["state"] == "cd"
    tokens = httpx.post(f"{world.base_url}/oauth/token", data=code_form(arrival.query["code"]))
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["linking_profile"]["provider_name"] == "caldav"
    assert body["linking_profile"]["profile_name"] == "alice@127.0.0.1"

    client.auth.update(access_token=body["access_token"], refresh_token=body["refresh_token"])
    names = {c["calendar_name"] for c in client.list_calendars()}
    assert "Connected by form" in names
    with world.server.store.read() as uow:
        (connection,) = uow.connections.list()
    assert connection.credentials is not None
    assert radicale_server.password not in connection.credentials

    # The stored connection is an account the engine syncs (the password from the vault).
    merged = with_connections(world.server.settings, world.server.store)
    (account,) = merged.accounts
    assert account.provider == "caldav" and account.name == "alice@127.0.0.1"
    assert SyncEngine(world.server.store, merged).sync_account(account).ok
    assert "Typed in" in [e["summary"] for e in client.read_events(tzid="Etc/UTC")]

    # The same login again (a new flow): the same account and profile.
    again_page = browser.go(world.auth_link(client, state="cd2"))
    again = browser.go(
        submit,
        method="POST",
        data={
            **form,
            "request": form_of(again_page.text)["request"],
            "password": radicale_server.password,
        },
    )
    assert again.at_app
    second = httpx.post(f"{world.base_url}/oauth/token", data=code_form(again.query["code"])).json()
    assert second["sub"] == body["sub"]
    assert second["linking_profile"] == body["linking_profile"]


def test_the_form_is_refused_without_the_browser_that_started_it(
    world: ConnectWorld, browser: Browser, radicale_server: RadicaleServer
) -> None:
    chooser = browser.go(world.auth_link(world.cronofy()))
    handle = form_of(chooser.text)["request"]
    other = Browser()
    try:
        reply = other.http.post(
            f"{world.base_url}/oauth/connect/caldav",
            data={
                "request": handle,
                "url": radicale_server.base_url + "/",
                "username": radicale_server.username,
                "password": radicale_server.password,
            },
        )
    finally:
        other.close()
    assert reply.status_code == 403 and "location" not in reply.headers
    with world.server.store.read() as uow:
        assert uow.connections.list() == []


def test_a_private_server_address_is_refused_unless_allowed(
    store_url: str, browser: Browser, radicale_server: RadicaleServer
) -> None:
    def strict(settings: Settings) -> Settings:
        settings = connect_settings(settings, None)
        return replace(settings, notify=replace(settings.notify, allow_private_callbacks=False))

    with run_api_server(store_url, adjust=strict) as server:
        world = ConnectWorld(server, None)  # type: ignore[arg-type]
        chooser = browser.go(world.auth_link(world.cronofy()))
        refused = browser.go(
            f"{world.base_url}/oauth/connect/caldav",
            method="POST",
            data={
                "request": form_of(chooser.text)["request"],
                "url": radicale_server.base_url + "/",
                "username": radicale_server.username,
                "password": radicale_server.password,
            },
        )
        assert refused.status == 400
        assert "cannot be used from here" in refused.text
        with server.store.read() as uow:
            assert uow.connections.list() == []
