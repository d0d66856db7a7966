"""CalDAV discovery and transport against a real Radicale (issue #11).

The provider speaks HTTP through the `caldav` library's client and session (the
project's rule: well-kept libraries, not hand-rolled HTTP). What must hold:

- the library's discovery finds the home from the principal URL, the server root
  and /.well-known/caldav (Radicale redirects it to /): two Depth-0 PROPFINDs
  (current-user-principal, calendar-home-set), then our home listing;
- credentials in the URL's userinfo authenticate, and never show in a message;
- the ctag the calendar listing reported is the one the first pull uses: a pass
  with discovery asks for it once, not twice;
- a kept-alive connection is reused, and one the server closed while it idled is
  replaced rather than failing the request (Radicale's own server closes every
  connection, so a small HTTP/1.1 server stands in);
- the library is imported only when a CalDAV account is used: `config check` of
  a CalDAV account and `sync --once` of a memory account never load it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from calsync.errors import CredentialsInvalid
from calsync.providers._caldav_http import DavTransport
from calsync.providers.base import SyncWindow
from calsync.providers.caldav import CalDAVProvider
from tests.fixtures.radicale import RadicaleCalendar, vevent_ics

WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


def counting_provider(
    calendar: RadicaleCalendar, url: str, log: list[tuple[str, str]], **options: object
) -> CalDAVProvider:
    server = calendar.server
    settings: dict[str, object] = {
        "username": server.username,
        "password": server.password,
        "calendars": [calendar.url],
        "request_hook": lambda method, target, body: log.append((method, target)),
    }
    settings.update(options)
    return CalDAVProvider(url, **settings)  # type: ignore[arg-type]


def event(uid: str) -> str:
    return vevent_ics(uid, "DTSTAMP:20260101T000000Z\nDTSTART:20260301T140000Z\nSUMMARY:x")


@pytest.mark.parametrize("where", ["principal", "root", "well-known"])
def test_discovery_finds_the_calendar_from_each_kind_of_url(
    radicale_calendar: RadicaleCalendar, where: str
) -> None:
    server = radicale_calendar.server
    url = {
        "principal": server.principal_url,
        "root": server.base_url + "/",
        "well-known": server.base_url + "/.well-known/caldav",
    }[where]
    log: list[tuple[str, str]] = []
    provider = counting_provider(radicale_calendar, url, log)
    try:
        calendars = provider.list_calendars()
    finally:
        provider.close()
    assert [c.remote_id for c in calendars] == [radicale_calendar.url]
    assert calendars[0].version  # the listing carries the ctag
    # The library's discovery PROPFINDs (Depth 0), then the home listing (Depth 1).
    assert [m for m, _ in log] == ["PROPFIND"] * 3
    assert log[-1][1] == server.principal_url


def test_credentials_in_the_url_authenticate(radicale_calendar: RadicaleCalendar) -> None:
    server = radicale_calendar.server
    host = server.base_url.split("//", 1)[1]
    url = f"http://{server.username}:{server.password}@{host}/{server.username}/"
    provider = CalDAVProvider(url, calendars=[radicale_calendar.url])
    try:
        assert [c.remote_id for c in provider.list_calendars()] == [radicale_calendar.url]
        assert server.password not in provider.url
    finally:
        provider.close()
    wrong = CalDAVProvider(url.replace(server.password, "not-it"))
    try:
        with pytest.raises(CredentialsInvalid) as refused:
            wrong.list_calendars()
    finally:
        wrong.close()
    assert "not-it" not in refused.value.message
    assert "refused our credentials" in refused.value.message


def test_a_pass_reads_the_ctag_once(radicale_calendar: RadicaleCalendar) -> None:
    radicale_calendar.put("one.ics", event("one"))
    server = radicale_calendar.server
    log: list[tuple[str, str]] = []
    provider = counting_provider(radicale_calendar, server.principal_url, log)
    try:
        provider.list_calendars()
        first = list(provider.pull(radicale_calendar.url, None, WINDOW))
        cursor = first[-1].cursor
        assert cursor is not None
        assert sum(len(p.changed) for p in first) == 1
        # No PROPFIND of the calendar itself: the listing's ctag was used.
        assert (("PROPFIND", radicale_calendar.url)) not in log
    finally:
        provider.close()

    log.clear()  # the next pass, nothing changed: discovery, then no request at all
    provider = counting_provider(radicale_calendar, server.principal_url, log)
    try:
        provider.list_calendars()
        discovery = len(log)
        again = list(provider.pull(radicale_calendar.url, cursor, WINDOW))
        assert again[-1].unchanged and len(log) == discovery
        # A change after the listing: the pull's REPORT finds it (ctag read before).
        radicale_calendar.put("two.ics", event("two"))
        provider.list_calendars()
        pages = list(provider.pull(radicale_calendar.url, cursor, WINDOW))
        assert {e.remote_id for p in pages for e in p.changed} == {
            radicale_calendar.href("two.ics")
        }
    finally:
        provider.close()


class _KeepAlive(BaseHTTPRequestHandler):
    """An HTTP/1.1 server that counts connections; ``quiet_close`` makes it close
    each connection after its answer without saying so (as servers do to idle ones)."""

    protocol_version = "HTTP/1.1"
    connections: list[int] = []
    quiet_close = False

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"/>'
        self.send_response(207)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if self.quiet_close:
            self.close_connection = True


@pytest.mark.parametrize("quiet_close", [False, True])
def test_connections_are_kept_alive_and_dropped_ones_replaced(quiet_close: bool) -> None:
    connections: list[int] = []
    handler = type(
        "Handler", (_KeepAlive,), {"connections": connections, "quiet_close": quiet_close}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    transport = DavTransport(f"http://127.0.0.1:{server.server_address[1]}/", hook=None, timeout=5)
    try:
        for _ in range(3):
            # A write: never sent twice, so only noticing the closed connection saves it.
            reply = transport.send("PUT", transport.url + "e.ics", b"BEGIN:VCALENDAR")
            assert reply.status == 207
            time.sleep(0.05)  # let a quiet close reach us before the next request
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
    assert len(connections) == (3 if quiet_close else 1)


RUNNER = """
import json, sys
out, argv = sys.argv[1], sys.argv[2:]
from calsync.cli.main import main
try:
    main(argv)
except SystemExit as exit:
    code = exit.code
else:
    code = 0
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def test_the_caldav_library_is_imported_only_for_a_caldav_account(
    radicale_calendar: RadicaleCalendar, tmp_path: Path
) -> None:
    radicale_calendar.put("one.ics", event("one"))
    server = radicale_calendar.server
    dav = tmp_path / "dav.toml"
    dav.write_text(
        '[store]\nurl = "sqlite:///dav.db"\n[logging]\nlevel = "warning"\n'
        f'[[accounts]]\nname = "dav"\nprovider = "caldav"\nurl = "{server.principal_url}"\n'
        f'username = "{server.username}"\npassword_file = "{server.password_file}"\n',
        encoding="utf-8",
    )
    memory = tmp_path / "memory.toml"
    memory.write_text(
        '[store]\nurl = "sqlite:///memory.db"\n[logging]\nlevel = "warning"\n'
        '[[accounts]]\nname = "mem"\nprovider = "memory"\n',
        encoding="utf-8",
    )

    def run(config: Path, *argv: str) -> tuple[int, set[str]]:
        out = tmp_path / "modules.json"
        out.unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", RUNNER, str(out), "--config", str(config), *argv],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert out.exists(), done.stderr
        result = json.loads(out.read_text())
        return result["code"], set(result["modules"])

    dav_library = ("caldav", "niquests", "urllib3")
    never = ("httpx", "fastapi", "alembic")
    code, modules = run(dav, "config", "check")
    assert code == 0
    assert loaded(modules, (*dav_library, *never, "icalendar")) == []
    assert "calsync.providers.caldav" not in modules
    for config in (memory, dav):
        assert run(config, "db", "upgrade")[0] == 0
    code, modules = run(memory, "sync", "--once")
    assert code == 0
    assert loaded(modules, (*dav_library, *never)) == []
    # A CalDAV pass goes through the library (its session, its discovery), and
    # still loads nothing of the API server or the migrations.
    code, modules = run(dav, "sync", "--once")
    assert code == 0
    assert "calsync.providers.caldav" in modules
    assert loaded(modules, ("caldav",)) == ["caldav"]
    assert loaded(modules, never) == []


def loaded(modules: set[str], libraries: tuple[str, ...]) -> list[str]:
    return sorted(
        lib for lib in libraries if any(m == lib or m.startswith(f"{lib}.") for m in modules)
    )
