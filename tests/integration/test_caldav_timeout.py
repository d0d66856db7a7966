"""A slow CalDAV server: the read timeout is the account's ``timeout`` key, patient by
default, and a timeout names the request and the key; an unreachable server fails fast.

A small proxy in front of the real Radicale holds back its answer to the calendar
home's ``PROPFIND`` (Depth 1), as Radicale does for about a minute while it builds
its cache for a large home. ``calsync sync --once`` runs through the CLI, configured
by a file, so the key goes through the config loader and the provider's schema.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from calsync.cli.main import cli
from calsync.errors import TransientProviderError
from calsync.providers._caldav_http import DEFAULT_READ_TIMEOUT
from calsync.providers.caldav import CONFIG_SECTION, CalDAVProvider, create_caldav_provider
from tests.fixtures.radicale import RadicaleCalendar, vevent_ics

#: How long the proxy holds the home's PROPFIND back (a test-sized "minute").
HOLD = 3.0
#: Not forwarded from Radicale's answer: httpx has already decoded and de-chunked it.
_HOP_HEADERS = ("content-length", "content-encoding", "transfer-encoding", "connection")


class SlowProxy:
    """Forwards every request to ``upstream``; sleeps `HOLD` before a Depth-1 PROPFIND."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.held: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "PROPFIND" and self.headers.get("Depth") == "1":
                    proxy.held.append(self.path)
                    time.sleep(HOLD)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                try:
                    reply = httpx.request(
                        self.command,
                        proxy.upstream + self.path,
                        content=body,
                        headers=headers,
                        timeout=30,
                    )
                    self.send_response(reply.status_code)
                    for key, value in reply.headers.items():
                        if key.lower() not in _HOP_HEADERS:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.content)))
                    self.end_headers()
                    self.wfile.write(reply.content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is the point

            def log_message(self, format: str, *args: object) -> None:
                pass

        for method in ("GET", "PUT", "DELETE", "OPTIONS", "PROPFIND", "REPORT", "MKCALENDAR"):
            setattr(Handler, f"do_{method}", Handler.forward)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> SlowProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(radicale_calendar: RadicaleCalendar) -> Iterator[SlowProxy]:
    with SlowProxy(radicale_calendar.server.base_url) as running:
        yield running


def write_config(tmp_path: Path, calendar: RadicaleCalendar, url: str, timeout: str) -> Path:
    server = calendar.server
    path = tmp_path / "calsync.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///state/calsync.db"\n'
        '[api]\nlisten = "127.0.0.1:18080"\n'
        '[logging]\nlevel = "error"\n'
        '[[accounts]]\nname = "slow-dav"\nprovider = "caldav"\n'
        f'url = "{url}/{server.username}/"\n'
        f'username = "{server.username}"\n'
        f'password_file = "{server.password_file}"\n'
        f'calendars = ["{calendar.url.replace(server.base_url, url)}"]\n'
        f'timeout = "{timeout}"\n',
        encoding="utf-8",
    )
    return path


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def test_a_read_timeout_names_the_request_and_the_key_to_raise(
    tmp_path: Path, radicale_calendar: RadicaleCalendar, proxy: SlowProxy
) -> None:
    radicale_calendar.put("one.ics", vevent_ics("one", "DTSTART:20260301T140000Z\nSUMMARY:One"))
    config = write_config(tmp_path, radicale_calendar, proxy.url, "1s")
    assert invoke(config, "db", "upgrade").exit_code == 0

    failed = invoke(config, "sync", "--once")

    assert failed.exit_code == 1, failed.output
    assert proxy.held == [f"/{radicale_calendar.server.username}/"], failed.stderr
    home = f"{proxy.url}/{radicale_calendar.server.username}/"
    (line,) = [line for line in failed.stderr.splitlines() if line.startswith("error: slow-dav")]
    assert f"PROPFIND {home}: the server did not answer within 1s (read timeout)" in line
    assert "raise `timeout` of account 'slow-dav'" in line
    assert radicale_calendar.server.password not in failed.stderr


def test_a_patient_timeout_syncs_the_slow_server(
    tmp_path: Path, radicale_calendar: RadicaleCalendar, proxy: SlowProxy
) -> None:
    radicale_calendar.put("one.ics", vevent_ics("one", "DTSTART:20260301T140000Z\nSUMMARY:One"))
    config = write_config(tmp_path, radicale_calendar, proxy.url, "1m")
    assert invoke(config, "db", "upgrade").exit_code == 0

    synced = invoke(config, "sync", "--once")

    assert synced.exit_code == 0, synced.output
    assert proxy.held, "the slow PROPFIND was waited out"
    assert synced.stdout.strip() == "slow-dav: ok, 1 calendar(s), 1 upserted"


def test_the_default_read_timeout_is_as_patient_as_vdirsyncer() -> None:
    (key,) = [k for k in CONFIG_SECTION.keys if k.name == "timeout"]
    assert "read timeout" in key.help
    provider = create_caldav_provider("dav", {"url": "http://127.0.0.1:9/"})
    try:
        assert DEFAULT_READ_TIMEOUT >= 300
        assert provider._http.timeouts == (10.0, DEFAULT_READ_TIMEOUT)
    finally:
        provider.close()


def test_an_unreachable_server_fails_fast_despite_a_patient_read_timeout() -> None:
    # A listening socket whose accept queue is full: the kernel drops further
    # SYNs, so a connect hangs exactly as it does towards a silent host.
    with socket.socket() as backlog:
        backlog.bind(("127.0.0.1", 0))
        backlog.listen(0)
        port = backlog.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        provider = CalDAVProvider(
            f"http://alice:secret@127.0.0.1:{port}/dav/?x=1", timeout=3600, connect_timeout=0.5
        )
        outcome: list[BaseException] = []

        def discover() -> None:
            try:
                provider.list_calendars()
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=discover, daemon=True)
        worker.start()
        worker.join(120)  # a guard only: the hour-long read timeout never comes into play
        try:
            assert not worker.is_alive(), "the connect waited for the read timeout"
            (error,) = outcome
            assert isinstance(error, TransientProviderError)
            assert "could not connect within 0.5s" in error.message
            assert "secret" not in error.message and "x=1" not in error.message
        finally:
            provider.close()
            for filler in fillers:
                filler.close()
