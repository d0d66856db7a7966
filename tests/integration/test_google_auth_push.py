"""The installed-app OAuth flow, the config factory with a vaulted token, and push channels."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from calsync.errors import UserError
from calsync.providers import registry, secrets_vault
from calsync.providers.google import Channel, GoogleProvider, authorize_installed_app
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import google_fake, make_provider

__all__ = ["google_fake"]

CAL = "work@example.com"


@pytest.fixture
def fake(google_fake: GoogleCalendarFake) -> GoogleCalendarFake:
    google_fake.add_calendar("Work", calendar_id=CAL, primary=True)
    return google_fake


def _browser(url: str) -> None:
    """Plays the user's browser: consent is automatic at the fake, then the loopback redirect."""
    reply = httpx.get(url, follow_redirects=True)
    assert reply.status_code == 200


def test_installed_app_flow_returns_a_working_refresh_token(
    fake: GoogleCalendarFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
    refresh_token = authorize_installed_app(
        fake.client_id,
        fake.client_secret,
        auth_uri=fake.auth_uri,
        token_uri=fake.token_uri,
        open_url=_browser,
        timeout=10,
    )
    assert refresh_token in fake.refresh_tokens
    authorize = next(r for r in fake.requests if r.path == "/authorize")
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["access_type"] == "offline"
    provider = make_provider(fake, refresh_token=refresh_token)
    assert [c.remote_id for c in provider.list_calendars()] == [CAL]


def test_installed_app_flow_without_answer_is_a_user_error(
    fake: GoogleCalendarFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with pytest.raises(UserError):
        authorize_installed_app(
            fake.client_id,
            fake.client_secret,
            auth_uri=fake.auth_uri,
            token_uri=fake.token_uri,
            open_url=lambda url: None,
            timeout=0.2,
        )


def test_factory_reads_a_vaulted_refresh_token(fake: GoogleCalendarFake, tmp_path: Path) -> None:
    key = secrets_vault.generate_key()
    (tmp_path / "vault-key").write_text(key + "\n")
    (tmp_path / "client-secret").write_text(fake.client_secret)
    vault = secrets_vault.TokenVault(secrets_vault.load_keys(key))
    (tmp_path / "refresh").write_text(vault.encrypt(fake.issue_refresh_token()))
    provider = registry.create(
        "google",
        "work",
        {
            "client_id": fake.client_id,
            "client_secret_file": str(tmp_path / "client-secret"),
            "refresh_token_file": str(tmp_path / "refresh"),
            "vault_key_file": str(tmp_path / "vault-key"),
            "token_uri": fake.token_uri,
            "api_endpoint": fake.api_endpoint,
            "calendars": ["Work"],
        },
    )
    assert isinstance(provider, GoogleProvider)
    assert [c.name for c in provider.list_calendars()] == ["Work"]


class _Receiver:
    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/google/push"

    def wait_for(self, count: int) -> list[dict[str, str]]:
        deadline = time.monotonic() + 5
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    receiver = _Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_watch_delivers_sync_then_exists_and_stop_ends_it(
    fake: GoogleCalendarFake, receiver: _Receiver
) -> None:
    provider = make_provider(fake)
    channel = provider.watch(
        CAL, receiver.url, "secret-token", channel_id="chn-1", ttl=timedelta(hours=1)
    )
    assert isinstance(channel, Channel) and channel.resource_id and channel.expiration
    first = receiver.wait_for(1)[0]
    assert first["x-goog-resource-state"] == "sync"
    assert first["x-goog-channel-id"] == "chn-1"
    assert first["x-goog-channel-token"] == "secret-token"
    assert first["x-goog-message-number"] == "1"
    fake.put_event(
        CAL, {"summary": "Ping", "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}}
    )
    second = receiver.wait_for(2)[1]
    assert second["x-goog-resource-state"] == "exists"
    assert second["x-goog-resource-id"] == channel.resource_id
    assert second["x-goog-message-number"] == "2"
    provider.stop(channel)
    assert not fake.channels
    provider.stop(channel)  # already stopped: not an error
