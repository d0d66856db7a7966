"""The connect flow's test bed: calsync's API (real uvicorn) wired to the Google fake.

`ConnectWorld.browser()` plays a browser: an httpx client with a cookie jar that
follows redirects itself, one hop at a time, and stops at the app's redirect URI
(a loopback address nobody listens on), so a test sees where it was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pycronofy

from calsync.config import (
    GoogleAppSettings,
    MicrosoftAppSettings,
    ProvidersSettings,
    Secret,
    Settings,
)
from calsync.providers import secrets_vault
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.api import ApiServer, cronofy_client, run_api_server

APP_REDIRECT = "http://127.0.0.1:9/connected"
VAULT_KEY = secrets_vault.generate_key()


def google_app(fake: GoogleCalendarFake) -> GoogleAppSettings:
    return GoogleAppSettings(
        client_id=fake.client_id,
        client_secret_file=Secret(fake.client_secret),
        auth_uri=fake.auth_uri,
        token_uri=fake.token_uri,
        api_endpoint=fake.api_endpoint,
    )


def connect_settings(
    settings: Settings,
    fake: GoogleCalendarFake | None,
    microsoft: MicrosoftAppSettings | None = None,
) -> Settings:
    return replace(
        settings,
        store=replace(settings.store, vault_key_file=Secret(VAULT_KEY)),
        providers=ProvidersSettings(
            google=google_app(fake) if fake is not None else None, microsoft=microsoft
        ),
    )


@dataclass
class Arrival:
    """Where the browser ended: the app's redirect URI (with its query), or a page."""

    status: int
    url: str
    text: str

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.url).query).items()}

    @property
    def at_app(self) -> bool:
        return self.url.startswith(APP_REDIRECT)


class Browser:
    def __init__(self, verify: Any = True) -> None:
        self.http = httpx.Client(timeout=30, trust_env=False, follow_redirects=False, verify=verify)
        self.visited: list[str] = []

    def go(self, url: str, *, method: str = "GET", data: dict[str, str] | None = None) -> Arrival:
        """Follow redirects until the app's redirect URI or a page that is not a redirect."""
        reply = self.http.request(method, url, data=data)
        for _ in range(10):
            self.visited.append(str(reply.url))
            if reply.status_code not in (301, 302, 303, 307):
                return Arrival(reply.status_code, str(reply.url), reply.text)
            target = urljoin(str(reply.url), reply.headers["location"])
            if target.startswith(APP_REDIRECT):
                return Arrival(reply.status_code, target, "")
            reply = self.http.get(target)
        raise AssertionError(f"too many redirects: {self.visited}")

    def close(self) -> None:
        self.http.close()


@dataclass
class ConnectWorld:
    server: ApiServer
    fake: GoogleCalendarFake

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def cronofy(self) -> pycronofy.Client:
        return cronofy_client(self.base_url)

    def auth_link(self, client: pycronofy.Client, **params: object) -> str:
        link: str = client.user_auth_link(APP_REDIRECT, **params)
        return link


@contextmanager
def connect_world(store_url: str, fake: GoogleCalendarFake) -> Iterator[ConnectWorld]:
    with run_api_server(store_url, adjust=lambda s: connect_settings(s, fake)) as server:
        yield ConnectWorld(server, fake)
