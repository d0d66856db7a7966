"""Several replicas on one PostgreSQL syncing one Radicale (issue #16).

``--calendars`` CalDAV calendars of ``--events`` events each (written straight
into Radicale's storage; Radicale runs without fsync, as in bench/caldav_sync.py)
in one account. For R in ``--replicas``, on a fresh PostgreSQL database, R real
``calsync run`` processes with the same config (only the port differs) start at
once. Measured:

- time until every calendar has been synced once (lease rows' ``synced_at``),
  from the moment the processes were started (their interpreter start included);
- steady-state lag: for ``--steady`` seconds afterwards, every 0.5 s, the
  largest "past due" of any calendar (now - ``due_at``, 0 when none is late),
  reported as median and max of those samples;
- CPU seconds used by the replicas (user + system, from /proc) until all synced.

    .venv/bin/python bench/replicas.py --calendars 300 --events 100 --replicas 1 2 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from caldav_sync import calendar_query_body, start_radicale  # bench/ is on sys.path
from tests.fixtures.radicale import RadicaleCalendar, RadicaleServer, free_port, vevent_ics

from calsync.store import Store

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BASE = datetime(2027, 2, 1, 8, tzinfo=UTC)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _fill(server: RadicaleServer, calendars: int, events: int) -> list[RadicaleCalendar]:
    made = []
    for c in range(calendars):
        calendar = server.new_calendar(f"bench {c}")
        files = {}
        for i in range(events):
            start = BASE + timedelta(hours=i * 7 + c)
            body = (
                f"SUMMARY:c{c} e{i}\nDTSTAMP:20270101T000000Z\n"
                f"DTSTART:{start:%Y%m%dT%H%M%SZ}\n"
                f"DTEND:{start + timedelta(minutes=45):%Y%m%dT%H%M%SZ}"
            )
            files[f"e{i}.ics"] = vevent_ics(f"c{c}-e{i}@bench", body)
        calendar.write_files(files)
        made.append(calendar)
    return made


def _warm_up(server: RadicaleServer, calendars: list[RadicaleCalendar]) -> None:
    """Radicale parses and caches each item on first read; do that once, untimed,
    so every run finds the same warm server (as bench/caldav_sync.py does)."""
    with server.http() as http:
        for calendar in calendars:
            response = http.request(
                "REPORT",
                calendar.url,
                content=calendar_query_body(),
                headers={"Depth": "1", "Content-Type": "application/xml"},
            )
            assert response.status_code == 207, response.text[:200]
        home = http.request("PROPFIND", server.principal_url, headers={"Depth": "1"})
        assert home.status_code == 207


def _config(
    directory: Path, store_url: str, server: RadicaleServer, urls: list[str], interval: str
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(f'"{u}"' for u in urls)
    path = directory / "calsync.toml"
    path.write_text(
        f"""
[store]
url = "{store_url}"
[api]
listen = "127.0.0.1:{free_port()}"
read_cache_mb = 0
[sync]
interval = "{interval}"
lease_ttl = "15s"
[logging]
level = "warning"
[[accounts]]
name = "dav"
provider = "caldav"
url = "{server.principal_url}"
username = "{server.username}"
password_file = "{server.password_file}"
calendars = [{listed}]
""",
        encoding="utf-8",
    )
    return path


def one_run(
    root: Path,
    server: RadicaleServer,
    urls: list[str],
    replicas: int,
    *,
    interval: str,
    steady: float,
) -> dict[str, float]:
    name = f"calsync_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    store = Store(url)
    store.upgrade()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.monotonic()
        for r in range(replicas):
            config = _config(root / f"{name}-{r}", url, server, urls, interval)
            log = (root / f"{name}-{r}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "calsync.cli.main", "--config", str(config), "run"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        while True:
            with store.read() as uow:
                rows = uow.sync_leases.list()
            if len(rows) == len(urls) and all(r.synced_at is not None for r in rows):
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a replica exited; see {root}")
            time.sleep(0.5)
        all_synced = time.monotonic() - t0
        cpu = sum(_cpu_seconds(p.pid) for p in procs)
        holders = {r.holder for r in rows}
        samples = []
        end = time.monotonic() + steady
        while time.monotonic() < end:
            now = datetime.now(UTC)
            with store.read() as uow:
                dues = [r.due_at for r in uow.sync_leases.list() if r.due_at is not None]
            samples.append(max([0.0, *((now - d).total_seconds() for d in dues)]))
            time.sleep(0.5)
        return {
            "all_synced_s": all_synced,
            "cpu_s": cpu,
            "holders": float(len(holders)),
            "lag_median_s": statistics.median(samples),
            "lag_max_s": max(samples),
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        store.dispose()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calendars", type=int, default=300)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--steady", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-replicas-") as tmp:
        root = Path(tmp)
        (root / "radicale").mkdir()
        server = start_radicale(root / "radicale")
        try:
            t = time.monotonic()
            calendars = _fill(server, args.calendars, args.events)
            print(
                f"{args.calendars} calendars x {args.events} events in {time.monotonic() - t:.0f} s"
            )
            t = time.monotonic()
            _warm_up(server, calendars)
            print(f"Radicale warmed up in {time.monotonic() - t:.0f} s", flush=True)
            urls = [c.url for c in calendars]
            results: dict[int, list[dict[str, float]]] = {}
            for _ in range(args.runs):
                for replicas in args.replicas:
                    run = one_run(
                        root, server, urls, replicas, interval=args.interval, steady=args.steady
                    )
                    results.setdefault(replicas, []).append(run)
                    print(
                        f"R={replicas}: " + ", ".join(f"{k} {v:.1f}" for k, v in run.items()),
                        flush=True,
                    )
            base = statistics.median(r["all_synced_s"] for r in results[min(results)])
            for replicas, runs in sorted(results.items()):
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                print(
                    f"R={replicas}: all synced once {med['all_synced_s']:.1f} s "
                    f"(throughput x{base / med['all_synced_s']:.2f}), CPU {med['cpu_s']:.0f} s, "
                    f"steady lag median {med['lag_median_s']:.1f} s, max {med['lag_max_s']:.1f} s"
                )
        finally:
            server.process.terminate()
            server.process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
