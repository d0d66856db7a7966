"""Issue #12: connecting a Microsoft 365 account through msal's auth-code flow, against
the strict Graph + identity fake over HTTPS (its own CA through ``ca_file``).

The account is stored with provider ``microsoft``, its calendars found at once
through the Microsoft provider; the same user again is the same account; a
refusal at the consent screen is ``error=access_denied``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from calsync.config import MicrosoftAppSettings, Secret
from calsync.sync import SyncEngine
from calsync.sync.connections import with_connections
from tests.fakes.graph_testing import event_body, graph_fake, soon
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fixtures.api import run_api_server
from tests.integration.connect_world import APP_REDIRECT, Browser, ConnectWorld, connect_settings

__all__ = ["graph_fake"]


def microsoft_app(fake: MicrosoftGraphFake) -> MicrosoftAppSettings:
    return MicrosoftAppSettings(
        client_id=fake.client_id,
        client_secret_file=Secret(fake.client_secret),
        authority=fake.authority,
        graph_endpoint=fake.graph_endpoint,
        ca_file=fake.ca_file,
    )


@pytest.fixture
def world(store_url: str, graph_fake: MicrosoftGraphFake) -> Iterator[ConnectWorld]:
    graph_fake.add_calendar("Projects")
    adjust = lambda s: connect_settings(s, None, microsoft_app(graph_fake))  # noqa: E731
    with run_api_server(store_url, adjust=adjust) as server:
        yield ConnectWorld(server, None)  # type: ignore[arg-type]


@pytest.fixture
def browser(graph_fake: MicrosoftGraphFake) -> Iterator[Browser]:
    b = Browser(verify=graph_fake.ssl_context())
    yield b
    b.close()


def exchange(world: ConnectWorld, code: str) -> dict[str, object]:
    reply = httpx.post(
        f"{world.base_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": "calsync-test-client",
            "client_secret": "calsync-test-secret",
            "code": code,
            "redirect_uri": APP_REDIRECT,
        },
    )
    assert reply.status_code == 200, reply.text
    answer: dict[str, object] = reply.json()
    return answer


def test_connect_microsoft_through_msal(
    world: ConnectWorld, browser: Browser, graph_fake: MicrosoftGraphFake
) -> None:
    client = world.cronofy()
    chooser = browser.go(world.auth_link(client))
    assert "Connect Microsoft 365 / Outlook" in chooser.text
    arrival = browser.go(world.auth_link(client, provider_name="microsoft", state="ms"))
    assert arrival.at_app, arrival.text
    assert arrival.query["state"] == "ms"
    authorize = next(r for r in graph_fake.requests if r.path.endswith("/oauth2/v2.0/authorize"))
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["redirect_uri"] == f"{world.base_url}/oauth/callback/microsoft"
    assert "offline_access" in authorize.query["scope"].split()

    answer = exchange(world, arrival.query["code"])
    profile = answer["linking_profile"]
    assert isinstance(profile, dict)
    assert profile["provider_name"] == "microsoft"
    assert profile["profile_name"] == graph_fake.user_principal_name
    client.auth.update(access_token=answer["access_token"])
    names = sorted(c["calendar_name"] for c in client.list_calendars())
    assert names == ["Calendar", "Projects"]
    with world.server.store.read() as uow:
        (connection,) = uow.connections.list()
    assert connection.provider_name == "microsoft"
    assert connection.identity == f"{graph_fake.tenant_id}/{graph_fake.user_id}"
    assert connection.credentials is not None and graph_fake.client_secret not in str(
        connection.credentials
    )

    again = browser.go(world.auth_link(client, provider_name="microsoft"))
    second = exchange(world, again.query["code"])
    assert second["sub"] == answer["sub"]
    assert second["linking_profile"] == profile


def test_a_connected_microsoft_account_syncs_with_the_microsoft_provider(
    world: ConnectWorld, browser: Browser, graph_fake: MicrosoftGraphFake
) -> None:
    """The connection's options (from [providers.microsoft] and the stored refresh token)
    are what the Microsoft provider reads: a pass of the engine brings the events in."""
    graph_fake.put_event(
        graph_fake.default_calendar_id,
        event_body("Planning", soon()),
    )
    arrival = browser.go(world.auth_link(world.cronofy(), provider_name="microsoft"))
    answer = exchange(world, arrival.query["code"])
    merged = with_connections(world.server.settings, world.server.store)
    (account,) = merged.accounts
    assert (account.name, account.provider) == (graph_fake.user_principal_name, "microsoft")
    report = SyncEngine(world.server.store, merged).sync_account(account)
    assert report.ok, report.describe_failures()
    client = world.cronofy()
    client.auth.update(access_token=answer["access_token"])
    summaries = [e["summary"] for e in client.read_events(tzid="Etc/UTC")]
    assert summaries == ["Planning"]


def test_refusing_consent_at_microsoft(
    world: ConnectWorld, browser: Browser, graph_fake: MicrosoftGraphFake
) -> None:
    graph_fake.deny_consent = True
    arrival = browser.go(world.auth_link(world.cronofy(), provider_name="microsoft", state="n"))
    assert arrival.query == {"error": "access_denied", "state": "n"}
