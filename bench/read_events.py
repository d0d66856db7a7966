"""Read Events latency and throughput over a large store, on SQLite and PostgreSQL.

Loads ``--events`` events (default 1,000,000) spread over ``--calendars``
calendars (default 100) in ``--accounts`` application accounts (default 10)
once per back end, then makes ``--runs`` measurement runs against it, each
against a fresh ONE-worker uvicorn process (rate limits disabled). Each run
measures every ``--cache`` mode in turn, side by side: ``off`` (``[api]
read_cache_mb = 0``, so every request renders its page from the store) and
``on`` (the default 64 MiB: after the first request per account, pages come
from the read cache, which is what a polling app gets). Per mode:

1. ``GET /v1/events`` (first page of 100, default window, include_managed) sent
   sequentially over one keep-alive connection (p50/p99), interleaved request
   by request with
2. the raw SQL for the same page (the statement `EventRepo.list_changed`
   issues, typed out here, run on the bare driver: sqlite3 / psycopg, rows
   fetched, nothing built), and with the same rows through the store repo
   (records built, no HTTP/JSON). The HTTP/raw ratio comes from these
   side-by-side medians;
3. requests/s from ``wrk`` (a separate process; ``apt-get install wrk``)
   with ``--connections`` connections for ``--duration`` seconds, rotating over
   every account's token.

    .venv/bin/python bench/read_events.py --backend both --events 1000000 --runs 3

Loading uses `Store.bulk_load_events` (bench-only: multi-row INSERTs of fully
formed rows, no change log or outbox). PostgreSQL comes from
CALSYNC_TEST_POSTGRES_URL (default local trust auth); each back end gets a
fresh database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

from calsync.model import Attendee, EventContent
from calsync.store import BulkEvent, EventQuery, Store

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
QUERY = "/v1/events?tzid=Etc/UTC&include_managed=true"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    base = os.environ.get("CALSYNC_TEST_POSTGRES_URL", DEFAULT_PG)
    admin = libpq_url(base)
    name = f"calsync_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(base, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Tenant:
    account_pk: int
    token: str
    calendar_pks: list[int]


def create_tenants(store: Store, accounts: int, calendars: int) -> list[Tenant]:
    tenants: list[Tenant] = []
    per_account = max(1, calendars // accounts)
    with store.write() as uow:
        for a in range(accounts):
            account, profile, first = uow.accounts.upsert_application(f"bench-{a}")
            pks = [first.pk]
            for c in range(1, per_account):
                pks.append(uow.calendars.create(profile.pk, f"cal {a}-{c}").pk)
            token = uow.tokens.issue(account.pk, "access", timedelta(days=1))
            tenants.append(Tenant(account.pk, token, pks))
    return tenants


def _events(tenants: list[Tenant], n: int, now: datetime) -> Iterator[BulkEvent]:
    calendars = [c for t in tenants for c in t.calendar_pks]
    for i in range(n):
        # Spread over ~4 years around now, so the default window (243 days) holds ~1/6.
        start = now - timedelta(days=730) + timedelta(minutes=(i * 127) % (1461 * 24 * 60))
        content = EventContent(
            summary=f"Event {i}",
            start=start,
            end=start + timedelta(minutes=45),
            description="Quarterly planning, agenda in the doc." if i % 3 else "",
            attendees=(Attendee(f"p{i % 50}@example.org", status="accepted"),),
        )
        managed = i % 4 == 0
        yield BulkEvent(
            calendar_pk=calendars[i % len(calendars)],
            content=content,
            updated=now - timedelta(seconds=10_000_000 - i * 3),
            event_id=f"app-{i}" if managed else None,
            remote_id=None if managed else f"remote-{i}",
        )


def bulk_load(store: Store, tenants: list[Tenant], n: int) -> float:
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    loaded = store.bulk_load_events(_events(tenants, n, now))
    assert loaded == n
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(url: str, http: str, cache_mb: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", url, "--port", str(port), "--http", http]
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


def serve(url: str, port: int, http: str, cache_mb: int) -> None:
    import uvicorn

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.api import make_settings

    from calsync.api.app import create_app
    from calsync.api.deps import ApiServices

    # A limit of 0 switches a window off: the bench measures reads, not the limiter.
    settings = make_settings(
        url,
        f"http://127.0.0.1:{port}",
        port,
        rate_limit_per_second=0,
        rate_limit_per_minute=0,
        read_cache_mb=cache_mb,
    )
    app = create_app(ApiServices.build(settings, Store(url)))
    # "auto" is what the daemon uses: httptools + uvloop when installed
    # (uvicorn[standard]), h11 + asyncio otherwise; "h11" forces the fallback.
    loop = "asyncio" if http == "h11" else "auto"
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
        http=http,
        loop=loop,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# The statement `event_reads.list_changed` issues for the default read (same
# columns, joins, filters, order and limit), typed out for the bare drivers.
RAW_COLUMNS = (
    "e.id, e.event_uid, e.account_id, e.calendar_id, c.public_id, e.event_id, e.managed, "
    "e.remote_id, e.ical_uid, e.etag, e.remote_updated, e.recurring_event_uid, e.deleted, "
    "e.created, e.updated, e.change_seq, e.fingerprint, e.push_state, e.pending_op, e.summary, "
    "e.all_day, e.start_at, e.end_at, e.start_date, e.end_date, e.tzid, e.description, "
    "CAST(e.location AS TEXT), CAST(e.attendees AS TEXT), CAST(e.organizer AS TEXT), "
    "e.transparency, e.status, CAST(e.recurrence AS TEXT), e.original_start_at, "
    "e.original_start_date, e.url, e.color, e.private"
)
RAW_SQL = (
    f"SELECT {RAW_COLUMNS} FROM events e JOIN calendars c ON e.calendar_id = c.id "
    "WHERE e.account_id = {p} AND e.deleted = {false} "
    "AND ((e.start_at < {p} AND e.end_at > {p}) OR e.recurring = {true}) "
    "ORDER BY e.updated, e.id LIMIT 101"
)


def default_window() -> tuple[datetime, datetime]:
    """The API's default window for tzid=Etc/UTC (42 days back, 201 ahead)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=42), today + timedelta(days=201)


class RawPage:
    """The page's SQL on the bare driver, outside SQLAlchemy and the store."""

    def __init__(self, url: str, account_pk: int) -> None:
        lo, hi = default_window()
        if url.startswith("sqlite"):
            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
            self.sql = RAW_SQL.format(p="?", false="0", true="1")
            # SQLAlchemy's SQLite DATETIME text format (naive UTC).
            stamp = "%Y-%m-%d %H:%M:%S.%f"
            self.params: tuple[Any, ...] = (
                account_pk,
                hi.strftime(stamp),
                lo.strftime(stamp),
            )
        else:
            self.conn = psycopg.connect(libpq_url(url), autocommit=True)
            self.sql = RAW_SQL.format(p="%s", false="false", true="true")
            self.params = (account_pk, hi, lo)

    def explain(self, calendar_pks: list[int]) -> str:
        """The plans of the page query, without and with ``calendar_id IN (...)``."""
        sqlite = isinstance(self.conn, sqlite3.Connection)
        prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        in_list = f" AND e.calendar_id IN ({', '.join(map(str, calendar_pks))}) ORDER BY"
        plans = []
        for text in (self.sql, self.sql.replace(" ORDER BY", in_list)):
            rows = self.conn.execute(prefix + text, self.params).fetchall()
            plans.append("\n".join("  " + str(r[-1]) for r in rows))
        return "\n--\n".join(plans)

    def fetch(self) -> list[Any]:
        cur = self.conn.execute(self.sql, self.params)
        rows: list[Any] = cur.fetchall()
        return rows

    def close(self) -> None:
        self.conn.close()


def latency(base: str, url: str, store: Store, tenant: Tenant, requests: int) -> dict[str, float]:
    """HTTP, raw SQL and store-repo timings, interleaved so they share the machine's load."""
    lo, hi = default_window()
    query = EventQuery(
        account_pk=tenant.account_pk, include_managed=True, window=(lo, hi), limit=101
    )
    raw = RawPage(url, tenant.account_pk)
    http_t: list[float] = []
    raw_t: list[float] = []
    repo_t: list[float] = []
    headers = {"Authorization": f"Bearer {tenant.token}"}
    with httpx.Client(base_url=base, headers=headers) as client:
        for i in range(requests + 50):  # the first 50 warm caches up
            t0 = time.perf_counter()
            r = client.get(QUERY)
            t1 = time.perf_counter()
            rows = raw.fetch()
            t2 = time.perf_counter()
            with store.read() as uow:
                records = uow.events.list_changed(query)
            t3 = time.perf_counter()
            assert r.status_code == 200, r.text
            if i >= 50:
                http_t.append(t1 - t0)
                raw_t.append(t2 - t1)
                repo_t.append(t3 - t2)
        body = r.json()
    raw.close()
    assert len(rows) == len(records) == 101, (len(rows), len(records))
    assert [row[1] for row in rows[:100]] == [e["event_uid"] for e in body["events"]]
    return {
        "p50_ms": pct(http_t, 0.5) * 1000,
        "p99_ms": pct(http_t, 0.99) * 1000,
        "raw_p50_ms": pct(raw_t, 0.5) * 1000,
        "repo_p50_ms": pct(repo_t, 0.5) * 1000,
        "ratio": pct(http_t, 0.5) / pct(raw_t, 0.5),
    }


WRK_SCRIPT = """
tokens = {%s}
i = 0
request = function()
  i = i + 1
  local h = {}
  h["Authorization"] = "Bearer " .. tokens[(i %% #tokens) + 1]
  return wrk.format("GET", "%s", h)
end
"""


def throughput(
    base: str, tokens: list[str], connections: int, duration: float
) -> tuple[float, int]:
    """``(requests/s, requests)`` as wrk counted them."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (", ".join(f'"{t}"' for t in tokens), QUERY))
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{duration:.0f}s", "-s", script.name, base],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if rate is None or count is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(rate[1]), int(count[1])


def load_average() -> float:
    return os.getloadavg()[0]


def one_run(
    url: str, store: Store, tenants: list[Tenant], args: argparse.Namespace, cache_mb: int
) -> dict[str, float]:
    load_before = load_average()
    with server(url, args.http, cache_mb) as (base, pid):
        result = latency(base, url, store, tenants[0], args.requests)
        cpu_before = cpu_seconds(pid)
        hits_before = cache_counts(base)
        stop = threading.Event()
        writes: list[int] = []
        writer = threading.Thread(
            target=churn, args=(store, tenants, args.write_rate, stop, writes)
        )
        if args.write_rate > 0:
            writer.start()
        try:
            result["rps"], done = throughput(
                base, [t.token for t in tenants], args.connections, args.duration
            )
        finally:
            stop.set()
            if writer.is_alive():
                writer.join()
        # Server CPU per request: what bounds req/s on an otherwise idle core,
        # and far less sensitive to other jobs on the machine than wall time.
        result["cpu_ms"] = (cpu_seconds(pid) - cpu_before) / done * 1000
        hits, misses = (a - b for a, b in zip(cache_counts(base), hits_before, strict=True))
        result["hit_pct"] = 100 * hits / (hits + misses) if hits + misses else 0.0
        result["writes_s"] = sum(writes) / args.duration
    result["load1"] = (load_before + load_average()) / 2
    return result


def cache_counts(base: str) -> tuple[float, float]:
    """The read cache's (hits, misses) from /metrics (the client secret is its bearer)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fixtures.api import CLIENT_SECRET

    headers = {"Authorization": f"Bearer {CLIENT_SECRET}"}
    text = httpx.get(base + "/metrics", headers=headers, timeout=10).text
    found = dict(re.findall(r"^calsync_api_read_cache_(hits|misses)_total (\S+)$", text, re.M))
    return float(found.get("hits", 0)), float(found.get("misses", 0))


def churn(
    store: Store, tenants: list[Tenant], rate: float, stop: threading.Event, writes: list[int]
) -> None:
    """Event upserts at ``rate`` per second, round-robin over the accounts, while wrk reads:
    each one changes its account's version, so its next read misses the cache."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    n = 0
    while not stop.wait(1 / rate):
        tenant = tenants[n % len(tenants)]
        content = EventContent(summary=f"churn {n}", start=start, end=start + timedelta(minutes=30))
        with store.write() as uow:
            uow.events.upsert_managed(tenant.calendar_pks[0], f"churn-{n % 20}", content)
        n += 1
    writes.append(n)


def bench_backend(backend: str, args: argparse.Namespace) -> None:
    with database(backend) as url:
        store = Store(url)
        store.upgrade()
        tenants = create_tenants(store, args.accounts, args.calendars)
        load_s = bulk_load(store, tenants, args.events)
        print(f"{backend}: loaded {args.events:,} events in {load_s:.0f} s", flush=True)
        raw = RawPage(url, tenants[0].account_pk)
        print(raw.explain(tenants[0].calendar_pks), flush=True)
        raw.close()
        modes = {"off": [0], "on": [64], "both": [0, 64]}[args.cache]
        runs: dict[int, list[dict[str, float]]] = {mb: [] for mb in modes}
        for _ in range(args.runs):
            for mb in modes:  # side by side: each run measures every mode in turn
                runs[mb].append(one_run(url, store, tenants, args, mb))
                print(backend, f"cache={mb}", {k: round(v, 2) for k, v in runs[mb][-1].items()})
        store.dispose()
    for mb, results in runs.items():
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(
            f"| {backend} | {'on' if mb else 'off'} | {args.events:,} | {load_s:.0f} "
            f"| {med['p50_ms']:.2f} | {med['p99_ms']:.1f} | {med['raw_p50_ms']:.2f} "
            f"| {med['repo_p50_ms']:.1f} | {med['ratio']:.1f}x | {med['rps']:.0f} "
            f"| {med['cpu_ms']:.2f} | {med['hit_pct']:.1f} | {med['writes_s']:.1f} "
            f"| {med['load1']:.1f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calendars", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--http",
        choices=["auto", "h11"],
        default="auto",
        help="uvicorn's HTTP stack: auto (httptools + uvloop when installed) or h11 + asyncio",
    )
    parser.add_argument(
        "--cache",
        choices=["off", "on", "both"],
        default="both",
        help="the API read cache: off ([api] read_cache_mb = 0: every request renders "
        "its page), on (the default 64 MiB), or both, side by side in each run",
    )
    parser.add_argument(
        "--write-rate",
        type=float,
        default=0.0,
        help="event upserts per second (round-robin over the accounts) during the wrk "
        "phase, so the read cache sees its pages invalidated as in real use",
    )
    parser.add_argument("--cache-mb", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.http, args.cache_mb)
        return
    print(f"load average at start: {os.getloadavg()}", flush=True)
    print(
        "| backend | cache | events | load s | p50 ms | p99 ms | raw SQL p50 ms | repo p50 ms "
        "| HTTP/raw | req/s | server CPU ms/req | cache hits % | writes/s | load1 |",
        flush=True,
    )
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        bench_backend(backend, args)


if __name__ == "__main__":
    main()
