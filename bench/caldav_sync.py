"""CalDAV sync against Radicale: calsync vs vdirsyncer vs two floors, side by side.

Per run, on a fresh Radicale calendar of N events (about 10 % recurring, each
resource with a VTIMEZONE, as clients write them), after one warm-up REPORT:

- transfer floor: one calendar-query REPORT (all calendar-data) + parsing the XML;
- parse floor: the same plus ``icalendar.Calendar.from_ical`` on every resource;
- calsync: `SyncEngine.sync_account` with the caldav provider into SQLite, in a
  long-lived child process (as in the daemon; calendar discovery runs on the
  first pass only). Initial sync, then after 1 % of the events changed
  (PUT by another client), then a no-op pass. Every HTTP request of the
  provider's session is counted; the child's VmHWM is reset before each
  phase (``/proc/self/clear_refs``), so peak RSS is per phase;
- vdirsyncer: ``discover`` once, then ``sync`` of the same calendar into a
  filesystem storage (wall time of the CLI, its interpreter start included:
  see ``vdirsyncer_startup`` in the output).

    .venv/bin/python bench/caldav_sync.py --events 2000 10000 --runs 3

Needs vdirsyncer (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from xml.etree import ElementTree as ET

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_settings, vmhwm_kib  # bench/ is on sys.path when run as a script
from tests.fixtures.radicale import (
    RadicaleCalendar,
    RadicaleServer,
    _wait_until_up,
    _write_config,
    free_port,
)

VDIRSYNCER = str(Path(sys.executable).parent / "vdirsyncer")
BASE = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CALDAV_NS = "urn:ietf:params:xml:ns:caldav"
VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def event_ics(i: int, summary: str | None = None) -> str:
    start = BASE + timedelta(minutes=30 * (i % 5000), days=i // 5000)
    local = start.strftime("%Y%m%dT%H%M%S")
    end = (start + timedelta(minutes=25)).strftime("%Y%m%dT%H%M%S")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//bench//caldav_sync//EN",
        VTIMEZONE,
        "BEGIN:VEVENT",
        f"UID:bench-{i}@example.org",
        "DTSTAMP:20260101T000000Z",
        "LAST-MODIFIED:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{local}",
        f"DTEND;TZID=Europe/Berlin:{end}",
        f"SUMMARY:{summary or f'Event {i}'}",
        "DESCRIPTION:Agenda\\, notes and minutes\\nsecond line of the description",
        "LOCATION:Room 1",
        "ORGANIZER;CN=Boss:mailto:boss@example.org",
        f'ATTENDEE;CN="Person {i % 50}";PARTSTAT=ACCEPTED:mailto:p{i % 50}@example.org',
        "TRANSP:OPAQUE",
    ]
    if i % 10 == 0:  # 10 % recurring
        lines.append("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10")
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


# -- Radicale --------------------------------------------------------------------


#: A throw-away test server: without fsync, building Radicale's caches for 10,000
#: items takes seconds instead of minutes; the timed requests only read (and the
#: 1 % of PUTs write), so the comparison is unaffected.
NO_FSYNC_RADICALE = (
    "import os, runpy, sys; os.fsync = lambda fd: None; sys.argv[0] = 'radicale'; "
    "runpy.run_module('radicale', run_name='__main__')"
)


def start_radicale(root: Path) -> RadicaleServer:
    port = free_port()
    config, storage, password_file = _write_config(root, port)
    log = (root / "radicale.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", NO_FSYNC_RADICALE, "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    _wait_until_up(base_url, process)
    return RadicaleServer(base_url, storage, password_file, process)


def calendar_query_body() -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV_NS}">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/>'
        "</C:comp-filter></C:filter></C:calendar-query>"
    ).encode()


def floors(calendar: RadicaleCalendar, n: int) -> dict[str, float]:
    """Transfer floor and parse floor, each one REPORT, timed separately."""
    from icalendar import Calendar

    out: dict[str, float] = {}
    for name, parse in (("transfer", False), ("parse", True)):
        started = time.perf_counter()
        auth = (calendar.server.username, calendar.server.password)
        with httpx.Client(auth=auth, timeout=600) as client:
            reply = client.request(
                "REPORT",
                calendar.url,
                content=calendar_query_body(),
                headers={"Depth": "1", "Content-Type": "application/xml"},
            )
        root = ET.fromstring(reply.content)  # noqa: S314 (our own local server)
        datas = [e.text or "" for e in root.iter(f"{{{CALDAV_NS}}}calendar-data")]
        assert len(datas) == n, (len(datas), n)
        if parse:
            for data in datas:
                Calendar.from_ical(data)
        out[name] = time.perf_counter() - started
    return out


# -- calsync in a child process ------------------------------------------------------


def calsync_child(conn: Any, store_url: str, options: dict[str, Any]) -> None:
    from calsync.config import AccountSettings
    from calsync.providers import _ical_fast
    from calsync.providers.caldav import CalDAVProvider
    from calsync.store import Store
    from calsync.sync import SyncEngine

    requests: list[str] = []

    def factory(name: str, account_name: str, opts: Mapping[str, Any]) -> Any:
        return CalDAVProvider(
            opts["url"],
            username=opts["username"],
            password=Path(opts["password_file"]).read_text().strip(),
            calendars=opts["calendars"],
            request_hook=lambda method, url, body: requests.append(method),
        )

    store = Store(store_url)
    store.upgrade()
    account = AccountSettings(
        name="bench",
        provider="caldav",
        interval=None,
        conflict="remote",
        enabled=True,
        options=options,
    )
    settings = bench_settings(store_url, account)
    engine = SyncEngine(store, settings, provider_factory=cast(Any, factory))
    _ical_fast.parse_events(event_ics(0))  # a long-running daemon has its zone list loaded
    while (command := conn.recv()) != "stop":
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM for this phase
        requests.clear()
        started = time.perf_counter()
        report = engine.sync_account(account)
        seconds = time.perf_counter() - started
        [outcome] = report.calendars
        assert outcome.ok, (command, outcome.error, report.error)
        conn.send(
            {
                "seconds": seconds,
                "requests": len(requests),
                "methods": " ".join(requests),
                "upserted": outcome.upserted,
                "peak_rss_mib": vmhwm_kib() / 1024,
            }
        )
    store.dispose()


# -- vdirsyncer ------------------------------------------------------------------


def vdirsyncer_config(root: Path, calendar: RadicaleCalendar) -> Path:
    (root / "local").mkdir()
    (root / "status").mkdir()
    config = root / "config"
    config.write_text(
        f"""[general]
status_path = "{root / "status"}/"

[pair bench]
a = "bench_remote"
b = "bench_local"
collections = null

[storage bench_remote]
type = "caldav"
url = "{calendar.url}"
username = "{calendar.server.username}"
password = "{calendar.server.password}"

[storage bench_local]
type = "filesystem"
path = "{root / "local"}/"
fileext = ".ics"
"""
    )
    return config


def vdirsyncer(config: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [VDIRSYNCER, "-c", str(config), *args],
        input=b"y\n" * 4,
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"vdirsyncer {args}: {done.stderr.decode()[-2000:]}")
    return seconds


# -- one run ---------------------------------------------------------------------


def prepare(server: RadicaleServer, n: int) -> tuple[RadicaleCalendar, dict[str, float]]:
    """A calendar of n events, with Radicale's one-time costs paid (and timed) up front."""
    from calsync.providers import _caldav_xml as dav

    calendar = server.new_calendar("Bench")
    calendar.write_files({f"bench-{i}.ics": event_ics(i) for i in range(n)})
    started = time.perf_counter()
    floors(calendar, n)  # the first REPORT builds Radicale's item cache
    cold_report = time.perf_counter() - started
    started = time.perf_counter()
    auth = (server.username, server.password)
    with httpx.Client(auth=auth, timeout=600) as client:
        reply = client.request(
            "REPORT",
            calendar.url,
            content=dav.sync_collection_body(""),
            headers={"Depth": "0", "Content-Type": "application/xml"},
        )
        assert reply.status_code == 207, reply.text
    # The first sync-collection ever builds Radicale's per-item sync history.
    first_sync_collection = time.perf_counter() - started
    return calendar, {"cold_report": cold_report, "first_sync_collection": first_sync_collection}


def one_run(
    server: RadicaleServer, calendar: RadicaleCalendar, n: int, run: int, work: Path
) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {k: {"seconds": s} for k, s in floors(calendar, n).items()}
    run_dir = work / uuid.uuid4().hex[:8]
    run_dir.mkdir()
    ctx = mp.get_context("spawn")
    parent, child_end = ctx.Pipe()
    options = {
        "url": server.principal_url,
        "username": server.username,
        "password_file": str(server.password_file),
        "calendars": [calendar.url],
    }
    child = ctx.Process(
        target=calsync_child, args=(child_end, f"sqlite:///{run_dir / 'calsync.db'}", options)
    )
    child.start()
    config = vdirsyncer_config(run_dir, calendar)

    def calsync(phase: str) -> dict[str, Any]:
        parent.send(phase)
        return dict(parent.recv())

    try:
        result["calsync_initial"] = calsync("initial")
        vdirsyncer(config, "discover")
        result["vdirsyncer_initial"] = {"seconds": vdirsyncer(config, "sync")}
        assert len(list((run_dir / "local").iterdir())) == n
        for i in range(run, n, 100):  # 1 % changed by another client
            calendar.put(f"bench-{i}.ics", event_ics(i, summary=f"Changed {i} in run {run}"))
        result["calsync_incremental"] = calsync("incremental")
        result["vdirsyncer_incremental"] = {"seconds": vdirsyncer(config, "sync")}
        result["calsync_noop"] = calsync("noop")
        result["vdirsyncer_noop"] = {"seconds": vdirsyncer(config, "sync")}
        parent.send("stop")
        child.join(60)
    finally:
        if child.is_alive():
            child.kill()
        shutil.rmtree(run_dir, ignore_errors=True)
    assert result["calsync_initial"]["upserted"] == n, result["calsync_initial"]
    assert result["calsync_incremental"]["upserted"] == n // 100, result["calsync_incremental"]
    assert result["calsync_noop"]["upserted"] == 0, result["calsync_noop"]
    return result


def report(n: int, runs: list[dict[str, dict[str, Any]]], startup: float) -> None:
    def med(phase: str, key: str = "seconds") -> float:
        return float(statistics.median(r[phase][key] for r in runs))

    transfer, parse = med("transfer"), med("parse")
    print(f"\nN={n}: medians of {len(runs)} runs; vdirsyncer_startup={startup:.2f} s")
    print(f"  transfer floor {transfer:7.2f} s   parse floor {parse:7.2f} s")
    header = f"  {'phase':<12}{'calsync s':>10}{'vdirsyncer s':>14}{'x vdir':>8}"
    print(header + f"{'x transfer':>12}{'x parse':>9}{'requests':>10}{'peak RSS MiB':>14}")
    for phase in ("initial", "incremental", "noop"):
        ours, theirs = med(f"calsync_{phase}"), med(f"vdirsyncer_{phase}")
        print(
            f"  {phase:<12}{ours:>10.3f}{theirs:>14.2f}{ours / theirs:>8.2f}"
            f"{ours / transfer:>12.2f}{ours / parse:>9.2f}"
            f"{med(f'calsync_{phase}', 'requests'):>10.0f}"
            f"{max(r[f'calsync_{phase}']['peak_rss_mib'] for r in runs):>14.1f}"
        )
    print("  requests per phase (run 1):")
    for phase in ("initial", "incremental", "noop"):
        methods = runs[0][f"calsync_{phase}"]["methods"].split()
        counts = {m: methods.count(m) for m in dict.fromkeys(methods)}
        print(f"    {phase}: {counts}")
    print("  raw seconds per run:")
    for phase in runs[0]:
        print(f"    {phase:<24}" + " ".join(f"{r[phase]['seconds']:.3f}" for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[2000, 10_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not Path(VDIRSYNCER).exists():
        sys.exit("vdirsyncer is missing: pip install -e '.[bench]'")
    print(f"load average before: {os.getloadavg()}")
    started = time.perf_counter()
    subprocess.run([VDIRSYNCER, "--version"], capture_output=True, check=True)
    startup = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="calsync-bench-") as tmp:
        root = Path(tmp)
        (root / "radicale").mkdir()
        server = start_radicale(root / "radicale")
        try:
            for n in args.events:
                calendar, once = prepare(server, n)
                print(
                    f"\nN={n}: Radicale one-time costs (untimed warm-up): "
                    + ", ".join(f"{k}={v:.1f} s" for k, v in once.items())
                )
                runs = [one_run(server, calendar, n, run, root) for run in range(args.runs)]
                report(n, runs, startup)
                shutil.rmtree(calendar.storage_dir, ignore_errors=True)
        finally:
            server.process.terminate()
            server.process.wait(timeout=10)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
