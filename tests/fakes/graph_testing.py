"""Helpers for tests and benchmarks that drive the fake Microsoft Graph server.

- `graph_fake`: a started `MicrosoftGraphFake` (pytest fixture);
- `trusting_session` / `msal_app`: msal wired to the fake's throw-away CA. msal's default
  ``requests`` session lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override its
  ``verify=`` (https://github.com/psf/requests/issues/3829), so the CA goes in through
  ``http_client`` with ``trust_env`` off, as calsync's ``ca_file`` has to as well;
- `sign_in`: the whole authorization-code flow, the browser played by httpx;
- `graph_client`: an httpx client for `MicrosoftGraphFake.graph_endpoint`;
- `WebhookReceiver`: an HTTP endpoint that answers Graph's validation handshake (or
  fails it on purpose) and records notifications;
- `when` / `event_body`: Graph event bodies.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msal
import pytest
import requests

from tests.fakes._graph_wire import zone as graph_zone
from tests.fakes.microsoft_graph import MicrosoftGraphFake

SCOPES = ["Calendars.ReadWrite", "User.Read"]
REDIRECT_URI = "http://localhost:53682/callback"


@pytest.fixture
def graph_fake() -> Iterator[MicrosoftGraphFake]:
    with MicrosoftGraphFake() as fake:
        yield fake


def trusting_session(fake: MicrosoftGraphFake) -> requests.Session:
    session = requests.Session()
    session.verify = str(fake.ca_file)
    session.trust_env = False
    return session


def msal_app(fake: MicrosoftGraphFake, **options: Any) -> Any:
    """A ConfidentialClientApplication against the fake (its own token cache)."""
    settings: dict[str, Any] = {
        "client_credential": fake.client_secret,
        "authority": fake.authority,
        "instance_discovery": False,
        "http_client": trusting_session(fake),
        **options,
    }
    return msal.ConfidentialClientApplication(fake.client_id, **settings)


def authorize(fake: MicrosoftGraphFake, auth_uri: str) -> dict[str, str]:
    """Play the browser: visit the authorize URL and return what reaches the redirect URI.

    That is the redirect's query (``response_mode=query``) or the fields of the form the
    page would post (``form_post``).
    """
    reply = httpx.get(auth_uri, verify=fake.ssl_context(), follow_redirects=False)
    if reply.status_code == 200 and "<form" in reply.text:
        return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html.unescape(reply.text)))
    assert reply.status_code == 302, reply.text
    location = reply.headers["location"]
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def sign_in(fake: MicrosoftGraphFake, app: Any, scopes: list[str] | None = None) -> dict[str, Any]:
    flow = app.initiate_auth_code_flow(scopes or SCOPES, redirect_uri=REDIRECT_URI)
    result: dict[str, Any] = app.acquire_token_by_auth_code_flow(
        flow, authorize(fake, flow["auth_uri"])
    )
    return result


def graph_client(fake: MicrosoftGraphFake, token: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=fake.graph_endpoint,
        verify=fake.ssl_context(),
        headers={"Authorization": f"Bearer {token or fake.issue_access_token()}"},
        timeout=30,
    )


def when(value: datetime, zone: str = "UTC") -> dict[str, str]:
    """A dateTimeTimeZone for ``value`` (naive = already local to ``zone``)."""
    if value.tzinfo is not None:
        value = value.astimezone(graph_zone(zone)).replace(tzinfo=None)
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone}


def event_body(
    subject: str,
    start: datetime,
    minutes: int = 60,
    zone: str = "UTC",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": when(start, zone),
        "end": when(start + timedelta(minutes=minutes), zone),
        **extra,
    }


def weekly(start: datetime, count: int, first_day: str = "monday") -> dict[str, Any]:
    """A ``patternedRecurrence``: weekly on ``start``'s weekday, ``count`` times from its
    date. Both are read off ``start`` as given: pass it in the event's own zone."""
    return {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": [start.strftime("%A").lower()],
            "firstDayOfWeek": first_day,
        },
        "range": {
            "type": "numbered",
            "startDate": start.date().isoformat(),
            "numberOfOccurrences": count,
        },
    }


def soon(days: int = 3, hour: int = 9) -> datetime:
    """A whole hour some days ahead, UTC."""
    base = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)


class WebhookReceiver:
    """Answers Graph's validation requests as `mode` says and records notifications.

    Modes: ``echo`` (correct), ``wrong-body``, ``html`` (wrong content type),
    ``not-decoded`` (echoes the still URL-encoded token), ``status-500``, ``slow``
    (sleeps `delay` seconds first). Notifications are answered with `notification_status`.
    """

    def __init__(self) -> None:
        self.mode = "echo"
        self.delay = 0.0
        self.notification_status = 202
        self.validations: list[str] = []
        self.notifications: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = urlsplit(self.path).query
                token = parse_qs(query).get("validationToken")
                if token is not None:
                    status, content_type, payload = receiver._validate(token[0], query)
                else:
                    with receiver._cond:
                        receiver.notifications.append(json.loads(body))
                        receiver._cond.notify_all()
                    status, content_type, payload = receiver.notification_status, "text/plain", b""
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=lambda: self.server.serve_forever(poll_interval=0.05), daemon=True
        )

    def _validate(self, token: str, raw_query: str) -> tuple[int, str, bytes]:
        self.validations.append(token)
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "wrong-body":
            return 200, "text/plain", b"not the token"
        if self.mode == "html":
            return 200, "text/html", token.encode()
        if self.mode == "not-decoded":
            return 200, "text/plain", raw_query.split("validationToken=", 1)[1].encode()
        if self.mode == "status-500":
            return 500, "text/plain", b""
        return 200, "text/plain; charset=utf-8", token.encode()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/graph/notify"

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15
    ) -> bool:
        """Wait (a guard, not an assertion on time) until ``predicate(notifications)``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.notifications):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
