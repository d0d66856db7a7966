"""``POST /v1/availability`` through the real route: latency, throughput, and the SQL floor.

Issue 14's workload: 10 application accounts (members), each with 1,000 stored events
over 35 days (900 single events and 100 weekly series, so 10 % recurring; a series'
occurrences are expanded by the route as ``/v1/free_busy`` expands them), 15-90 minutes
long at any hour; 4 of the members managed by an availability rule (Europe/London
09:00-17:30 and America/New_York 09:00-17:00, weekdays). The query: 4 groups (2 members
``all``, 3 members ``1``, 3 members ``2``, 2 members ``1``), 35 daily query periods
07:00-20:00Z, buffers 10 minutes before and 5 after, 30-minute slots every 30 minutes,
asked with the API key (the client secret as bearer).

Per back end (SQLite file, PostgreSQL database from CALSYNC_TEST_POSTGRES_URL), against
a fresh ONE-worker uvicorn process per mode, side by side in one run:

* ``nocache``: ``[api] read_cache_mb = 0``: every request reads every member's rows
  (one indexed query each), expands the series and runs the core;
* ``busy``: caches on, every request a different question over the same calendars
  (duration, format, max_results vary), so the answer is computed each time from the
  members' cached busy time and free time (keyed by each account's version, and the
  free time by the query periods and buffer too);
* ``same``: caches on, the same question again (an app polling): the answer comes from
  the read cache after checking every member's version (one query);
* ``write``: caches on, before each request (untimed) one event is written into one
  member's calendar through the write path, then a question not asked before (as in
  ``busy``): that member's rows are read again (its series' occurrences come from the
  series cache, keyed by content) and its free time computed again; the other nine
  members' busy and free time come from the caches. Latency only.

For each: p50/p99 of ``--requests`` sequential requests over one keep-alive
connection, and queries/s with ``--concurrency`` clients for ``--duration`` seconds
(asyncio + httpx in this process, which shares the 2 cores with the server). The floor
is the same busy rows fetched by raw SQL (the route's UNION statement typed out, run
on the bare driver for all 10 members, rows fetched, nothing built).

    .venv/bin/python bench/availability.py --backend both --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from read_events import cpu_seconds, database, free_port, libpq_url, pct  # noqa: E402
from tests.fixtures.api import CLIENT_SECRET, make_settings  # noqa: E402

from calsync.model import EventContent  # noqa: E402
from calsync.store import BulkEvent, Store  # noqa: E402

START = datetime(2031, 1, 6, tzinfo=UTC)  # a Monday
DAYS = 35
MEMBERS = 10
EVENTS = 1000
GROUPS = ((2, "all"), (3, 1), (3, 2), (2, 1))
MANAGED = {0: "Europe/London", 2: "America/New_York", 5: "Europe/London", 8: "America/New_York"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def load(store: Store, seed: int = 14) -> list[str]:
    """The members' subs, after loading their events and rules."""
    rng = random.Random(seed)
    subs: list[str] = []
    events: list[BulkEvent] = []
    now = datetime.now(UTC).replace(microsecond=0)
    with store.write() as uow:
        for m in range(MEMBERS):
            account, _, calendar = uow.accounts.upsert_application(f"member-{m}")
            subs.append(account.sub)
            for i in range(EVENTS):
                start = START + timedelta(minutes=15 * rng.randrange(DAYS * 96))
                end = start + timedelta(minutes=rng.randrange(15, 91, 15))
                recurrence: tuple[str, ...] = ()
                if i % 10 == 0:  # a weekly series from the first week
                    length = end - start
                    start -= timedelta(days=7 * ((start - START).days // 7))
                    end = start + length
                    recurrence = ("RRULE:FREQ=WEEKLY;COUNT=5",)
                content = EventContent(f"e{i}", start, end, recurrence=recurrence)
                events.append(BulkEvent(calendar.pk, content, now, remote_id=f"m{m}-e{i}"))
            if m in MANAGED:
                close = "17:30" if MANAGED[m] == "Europe/London" else "17:00"
                uow.availability.upsert_rule(
                    account.pk,
                    "work",
                    tzid=MANAGED[m],
                    calendar_ids=None,
                    weekly_periods=[
                        {"day": d, "start_time": "09:00", "end_time": close} for d in WEEKDAYS
                    ],
                )
    store.bulk_load_events(events)
    return subs


def query(subs: list[str], variant: int = 0) -> dict[str, Any]:
    groups, index = [], 0
    for size, required in GROUPS:
        members = [
            {"sub": s, "managed_availability": True} if (index + k) in MANAGED else {"sub": s}
            for k, s in enumerate(subs[index : index + size])
        ]
        index += size
        groups.append({"members": members, "required": required})
    periods = [
        {
            "start": (START + timedelta(days=d, hours=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (START + timedelta(days=d, hours=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for d in range(DAYS)
    ]
    formats = ("slots", "overlapping_slots", "periods")
    return {
        "participants": groups,
        "required_duration": {"minutes": 30 + 15 * (variant % 4)},
        "query_periods": periods,
        "buffer": {"before": {"minutes": 10}, "after": {"minutes": 5}},
        "start_interval": {"minutes": 30},
        "response_format": formats[(variant // 4) % 3],
        "max_results": 20 + variant // 12,
    }


def serve(url: str, port: int, cache_mb: int) -> None:
    import uvicorn

    from calsync.api.app import create_app
    from calsync.api.deps import ApiServices

    settings = make_settings(
        url,
        f"http://127.0.0.1:{port}",
        port,
        rate_limit_per_second=0,
        rate_limit_per_minute=0,
        read_cache_mb=cache_mb,
    )
    app = create_app(ApiServices.build(settings, Store(url)))
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


@contextmanager
def server(url: str, cache_mb: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", url, "--port", str(port)]
    proc = subprocess.Popen([*command, "--cache-mb", str(cache_mb)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


HEADERS = {"Authorization": f"Bearer {CLIENT_SECRET}"}


def bodies(subs: list[str], mode: str, count: int) -> list[bytes]:
    if mode == "same":
        return [json.dumps(query(subs)).encode()] * count
    return [json.dumps(query(subs, v)).encode() for v in range(count)]


def latency(
    base: str, pid: int, payloads: list[bytes], before: Callable[[int], None] | None = None
) -> tuple[float, float, float, int]:
    """p50, p99 (ms), the server's CPU ms per request, and the result count of the first
    answer; ``before(i)`` runs (untimed) before request ``i``."""
    times: list[float] = []
    results = -1
    with httpx.Client(base_url=base, headers={**HEADERS, "Content-Type": "application/json"}) as c:
        c.post("/v1/availability", content=payloads[0], timeout=120)  # warm (and fill caches)
        cpu = cpu_seconds(pid)
        for i, payload in enumerate(payloads):
            if before is not None:
                before(i)
            started = time.perf_counter()
            response = c.post("/v1/availability", content=payload, timeout=120)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(response.text)
            if results < 0:
                answer = response.json()
                results = len(answer.get("available_slots", answer.get("available_periods", [])))
        cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / len(payloads)
    return statistics.median(times), pct(times, 0.99), cpu_ms, results


async def _throughput(base: str, payloads: list[bytes], clients: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    headers = {**HEADERS, "Content-Type": "application/json"}

    async def client(offset: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as c:
            i = offset
            while time.perf_counter() < stop:
                response = await c.post("/v1/availability", content=payloads[i % len(payloads)])
                if response.status_code != 200:
                    raise RuntimeError(response.text)
                done += 1
                i += clients

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return done / (time.perf_counter() - started)


# The route's busy statement (`store.repos.busy`), typed out for the bare drivers.
_COLS = (
    "e.event_uid, e.recurring_event_uid, e.recurring, e.all_day, e.start_at, e.end_at, "
    "e.start_date, e.end_date, e.tzid, e.transparency, e.status, CAST(e.attendees AS TEXT), "
    "CAST(e.recurrence AS TEXT), e.original_start_at, e.original_start_date"
)
_FROM = "FROM events e JOIN calendars c ON e.calendar_id = c.id WHERE e.account_id = {p} "
_LIVE = "AND e.deleted = {f} AND c.deleted = {f} "
RAW = (
    f"SELECT {_COLS} {_FROM}{_LIVE}AND e.end_at > {{p}} AND e.start_at < {{p}} "
    "AND e.recurring = {f} AND e.recurring_event_uid IS NULL "
    f"UNION ALL SELECT {_COLS} {_FROM}{_LIVE}AND e.recurring = {{t}} "
    f"UNION ALL SELECT {_COLS} {_FROM}{_LIVE}AND e.recurring_event_uid IS NOT NULL"
)


def raw_floor(url: str, account_pks: list[int], window: tuple[datetime, datetime], n: int) -> float:
    """Median ms to fetch every member's busy rows with the bare driver."""
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(url.split("///", 1)[1])
        stmt = RAW.format(p="?", f="0", t="1")
        bounds: tuple[Any, ...] = tuple(t.replace(tzinfo=None).isoformat(sep=" ") for t in window)
    else:
        conn = psycopg.connect(libpq_url(url))
        stmt = RAW.format(p="%s", f="false", t="true")
        bounds = window
    times = []
    for _ in range(n):
        started = time.perf_counter()
        rows = 0
        for pk in account_pks:
            params = (pk, bounds[0], bounds[1], pk, pk)
            rows += len(conn.execute(stmt, params).fetchall())
        times.append((time.perf_counter() - started) * 1000)
    assert rows >= MEMBERS * EVENTS * 0.9, rows
    conn.close()
    return statistics.median(times)


MODES = {"nocache": 0, "busy": 64, "same": 64, "write": 64}


def writer(url: str, subs: list[str], run: int) -> Callable[[int], None]:
    """Before request i: one new event in member i % 10's calendar (through the write
    path), so that member's busy time is read and built again (its series from the
    series cache) and the answer computed again."""
    store = Store(url)
    with store.read() as uow:
        calendars = []
        for sub in subs:
            account = uow.accounts.get_by_sub(sub)
            calendars.append(uow.calendars.list(account.pk)[0].pk)

    def write(i: int) -> None:
        start = START + timedelta(days=i % DAYS, hours=3)  # outside the query periods
        content = EventContent(f"w{run}-{i}", start, start + timedelta(minutes=30))
        with store.write() as uow:  # a new event each time: a real change
            calendar = calendars[i % len(calendars)]
            assert uow.events.upsert_managed(calendar, f"bench-w{run}-{i}", content).changed

    return write


def bench_backend(backend: str, args: argparse.Namespace) -> None:
    with database(backend) as url:
        store = Store(url)
        store.upgrade()
        subs = load(store)
        with store.read() as uow:
            pks = [uow.accounts.get_by_sub(s).pk for s in subs]
        store.dispose()
        window = (
            START + timedelta(hours=7) - timedelta(minutes=10),
            START + timedelta(days=DAYS - 1, hours=20, minutes=5),
        )
        modes = {m: MODES[m] for m in args.modes.split(",")}
        rows: dict[str, list[tuple[float, float, float, float, int]]] = {m: [] for m in modes}
        floors: list[float] = []
        for run in range(args.runs):
            for mode, cache_mb in modes.items():
                requests = args.requests if mode != "nocache" else 3
                payloads = bodies(subs, "busy" if mode == "write" else mode, requests)
                before = writer(url, subs, run) if mode == "write" else None
                # Throughput in "busy" mode asks questions not asked before (no answer hits).
                more = bodies(subs, mode, 4000)[requests:] if mode == "busy" else payloads
                with server(url, cache_mb) as (base, pid):
                    p50, p99, cpu_ms, results = latency(base, pid, payloads, before)
                    qps = 0.0  # (throughput under writes is not measured)
                    if before is None:
                        qps = asyncio.run(_throughput(base, more, args.concurrency, args.duration))
                rows[mode].append((p50, p99, cpu_ms, qps, results))
                print(
                    f"{backend} run {run + 1} {mode}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                    f"server CPU {cpu_ms:.1f} ms/query, {qps:.0f} q/s, {results} results, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            floors.append(raw_floor(url, pks, window, 20))
            print(f"{backend} run {run + 1} raw SQL floor: {floors[-1]:.1f} ms", flush=True)
        print(
            "\n| backend | mode | p50 ms | p99 ms | server CPU ms/query | "
            "CPU-bound q/s (1000 / CPU ms) | measured q/s | results |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for mode, found in rows.items():
            med = [statistics.median(col) for col in zip(*found, strict=True)]
            capacity = 1000 / med[2] if med[2] > 0 else float("inf")
            measured = f"{med[3]:.0f}" if med[3] else "-"
            cells = (
                f"{med[0]:.1f} | {med[1]:.1f} | {med[2]:.1f} | {capacity:.0f} | {measured} | "
                f"{found[0][4]}"
            )
            print(f"| {backend} | {mode} | {cells} |")
        floor = statistics.median(floors)
        print(f"| {backend} | raw SQL floor (10 members' rows) | {floor:.1f} | | | | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES)
    )
    parser.add_argument("--serve")
    parser.add_argument("--port", type=int)
    parser.add_argument("--cache-mb", type=int, default=64)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.cache_mb)
        return
    print(
        f"nproc {os.cpu_count()}, {platform.machine()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M}Z, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        bench_backend(backend, args)
    print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
