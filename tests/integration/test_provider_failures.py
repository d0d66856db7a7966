"""Provider failures against real failing endpoints: one line naming the request, the URL
without its secrets and what to check, never a library repr, a traceback or an HTML page.

Endpoints: a closed port, a plain HTTP server that is not a calendar server (it
answers 501 to PROPFIND, like ``http.server``), a web page answering 200 HTML
to every method, ``https://`` to a plain-HTTP port, a TLS server whose
certificate is self-signed, and a host name that cannot resolve. CalDAV, ICS
and Google (its token endpoint and its API endpoint) meet each of them; then
``calsync sync --once`` reports every failure exactly once.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from calsync.cli.main import cli
from calsync.errors import CalsyncError, ProviderError
from calsync.providers import registry
from calsync.providers.base import Provider, SyncWindow
from calsync.providers.google import GoogleProvider
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import google_fake
from tests.system.harness import free_port

__all__ = ["google_fake"]

#: In every URL below: a capability path segment and a query token.
CAPABILITY = "private-7f3a9c1e5b2d4f60a8c9e1d3b5f7a9c2"
TOKEN = "SeCrEt4Token9x"
WINDOW = SyncWindow(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
#: What a raw library error looks like; none of it may reach the user.
RAW_REPRS = ("object at 0x", "HTTPConnectionPool", "HTTPSConnectionPool", "<urllib3", "Traceback")


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _NotDav(BaseHTTPRequestHandler):
    """``http.server``'s behaviour: GET answers a page, other methods 501."""

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><head><meta charset=utf-8><title>Hi</title></head></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _WebPage(_NotDav):
    """A web application: 200 and an HTML page to every method."""

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b"<!DOCTYPE html><html><head><meta charset=utf-8><title>Welcome</head></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PROPFIND = do_POST = do_REPORT = do_GET


def _self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calsync-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@dataclass(frozen=True)
class Endpoint:
    kind: str
    base: str
    #: Words the one-line message must contain (what to check).
    expect: tuple[str, ...]


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Endpoint]]:
    not_dav = _Server(_NotDav, None)
    web_page = _Server(_WebPage, None)
    self_signed = _Server(_WebPage, _self_signed(tmp_path_factory.mktemp("tls")))
    closed = free_port()
    try:
        yield {
            "closed port": Endpoint(
                "closed port", f"http://127.0.0.1:{closed}", ("connection refused", "check")
            ),
            "not a calendar server": Endpoint(
                "not a calendar server", f"http://127.0.0.1:{not_dav.port}", ("check",)
            ),
            "a web page": Endpoint("a web page", f"http://127.0.0.1:{web_page.port}", ("check",)),
            "https to plain http": Endpoint(
                "https to plain http",
                f"https://127.0.0.1:{not_dav.port}",
                ("TLS handshake", "speaks HTTPS", "check"),
            ),
            "self-signed certificate": Endpoint(
                "self-signed certificate",
                f"https://127.0.0.1:{self_signed.port}",
                ("certificate", "check"),
            ),
            "unknown host": Endpoint(
                "unknown host", "https://calendar.no-such-host.invalid", ("resolve", "check")
            ),
        }
    finally:
        for server in (not_dav, web_page, self_signed):
            server.stop()


KINDS = [
    "closed port",
    "not a calendar server",
    "a web page",
    "https to plain http",
    "self-signed certificate",
    "unknown host",
]


def secret_url(base: str, name: str) -> str:
    return f"{base}/{CAPABILITY}/{name}?token={TOKEN}"


def assert_one_clear_line(error: CalsyncError, endpoint: Endpoint) -> None:
    message = error.message
    assert isinstance(error, ProviderError), f"{type(error).__name__}: {message}"
    assert "\n" not in message, message
    for raw in RAW_REPRS:
        assert raw not in message, message
    assert CAPABILITY not in message and TOKEN not in message, message
    host = endpoint.base.split("//", 1)[1]
    assert host in message, message  # the URL, redacted, says where
    for word in endpoint.expect:
        assert word in message, message


def first_failure(provider: Provider) -> CalsyncError:
    try:
        for calendar in provider.list_calendars():
            for _page in provider.pull(calendar.remote_id, None, WINDOW):
                pass
    except CalsyncError as exc:
        return exc
    finally:
        provider.close()
    raise AssertionError("the provider did not fail")


@pytest.mark.parametrize("kind", KINDS)
def test_caldav(endpoints: dict[str, Endpoint], kind: str) -> None:
    endpoint = endpoints[kind]
    url = secret_url(endpoint.base, "dav/")
    provider = registry.create("caldav", "work", {"url": url, "timeout": 5.0})
    error = first_failure(provider)
    assert_one_clear_line(error, endpoint)
    if kind == "not a calendar server":
        assert "HTTP 501 Not Implemented, this does not look like a CalDAV server" in error.message
    if kind == "a web page":
        assert "this does not look like a CalDAV server" in error.message


@pytest.mark.parametrize("kind", KINDS)
def test_ics(endpoints: dict[str, Endpoint], kind: str) -> None:
    endpoint = endpoints[kind]
    url = secret_url(endpoint.base, "basic.ics")
    provider = registry.create("ics", "feed", {"url": url, "timeout": 5.0})
    error = first_failure(provider)
    assert_one_clear_line(error, endpoint)
    if kind == "not a calendar server":
        assert "HTTP 404 Not Found; check url" in error.message
    if kind == "a web page":
        assert "not a complete VCALENDAR" in error.message and "iCalendar" in error.message


def test_ics_silent_server_times_out_with_advice() -> None:
    """A server that accepts the connection and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        provider = registry.create(
            "ics", "feed", {"url": secret_url(base, "basic.ics"), "timeout": 1.0}
        )
        error = first_failure(provider)
    assert_one_clear_line(
        error, Endpoint("silent", base, ("no answer within 1s", "raise the account's timeout"))
    )


def google(
    token_uri: str, api_endpoint: str, fake: GoogleCalendarFake | None = None
) -> GoogleProvider:
    return GoogleProvider(
        client_id=fake.client_id if fake else "client.apps.googleusercontent.com",
        client_secret=fake.client_secret if fake else "client-secret",
        refresh_token=fake.issue_refresh_token() if fake else "1//refresh",
        token_uri=token_uri,
        api_endpoint=api_endpoint,
        backoff=0.001,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_google_token_endpoint(endpoints: dict[str, Endpoint], kind: str) -> None:
    endpoint = endpoints[kind]
    provider = google(secret_url(endpoint.base, "token"), "http://127.0.0.1:9/calendar/v3/")
    error = first_failure(provider)
    assert_one_clear_line(error, endpoint)
    assert "token refresh at" in error.message and "token_uri" in error.message
    if kind in ("not a calendar server", "a web page"):
        assert "not an OAuth token response" in error.message
    # Another server at token_uri is not Google refusing the refresh token.
    assert type(error).__name__ != "CredentialsInvalid"


@pytest.mark.parametrize("kind", KINDS)
def test_google_api_endpoint(
    endpoints: dict[str, Endpoint], kind: str, google_fake: GoogleCalendarFake
) -> None:
    endpoint = endpoints[kind]
    provider = google(
        google_fake.token_uri,
        f"{endpoint.base}/{CAPABILITY}/calendar/v3/",
        google_fake,
    )
    error = first_failure(provider)
    assert_one_clear_line(error, endpoint)
    assert "api_endpoint" in error.message
    if kind == "not a calendar server":
        assert "HTTP 404 Not Found without a Google API error" in error.message


def test_sync_once_reports_each_failure_once_without_library_noise(
    endpoints: dict[str, Endpoint], tmp_path: Path
) -> None:
    accounts = []
    for index, kind in enumerate(KINDS):
        base = endpoints[kind].base
        accounts += [
            f'[[accounts]]\nname = "dav{index}"\nprovider = "caldav"\n'
            f'url = "{secret_url(base, "dav/")}"\ntimeout = "5s"\n',
            f'[[accounts]]\nname = "ics{index}"\nprovider = "ics"\n'
            f'url = "{secret_url(base, "basic.ics")}"\ntimeout = "5s"\n',
        ]
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[store]\nurl = "sqlite:///calsync.db"\n[logging]\nlevel = "info"\n' + "".join(accounts),
        encoding="utf-8",
    )
    run: Callable[..., object] = CliRunner().invoke
    assert run(cli, ["--config", str(config), "db", "upgrade"]).exit_code == 0  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, ["--config", str(config), "sync", "--once"])
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    for raw in (*RAW_REPRS, "lxml", "Expected some valid XML", " root: "):
        assert raw not in output, output
    assert CAPABILITY not in output and TOKEN not in output
    for index in range(len(KINDS)):
        for account in (f"dav{index}", f"ics{index}"):
            lines = [line for line in output.splitlines() if f" {account}" in f" {line}"]
            failures = [line for line in lines if line.startswith(f"error: {account}")]
            assert len(failures) == 1, lines
            assert "check" in failures[0]
