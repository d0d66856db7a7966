"""Several replicas on one PostgreSQL syncing one Radicale (issue #16).

``--calendars`` CalDAV calendars of ``--events`` events each (written straight
into Radicale's storage; Radicale runs without fsync, as in bench/caldav_sync.py)
in one account. For R in ``--replicas``, on a fresh PostgreSQL database, R real
``calsync run`` processes with the same config (only the port differs) start at
once. Measured:

- time until every calendar has been synced once (lease rows' ``synced_at``),
  from the moment the processes were started (their interpreter start included);
- steady-state lag: once every calendar has been synced a second time (the
  first round overruns the interval, so everything is due again when it ends),
  for ``--steady`` seconds, every 0.5 s, how far past due the calendars are
  (now - ``due_at``, 0 when not late): the median calendar, and the latest one
  (median and max over the samples);
- CPU seconds until all synced (user + system, from /proc): the replicas',
  Radicale's, the PostgreSQL backends' serving the run's database, and the whole
  machine's busy time (all processes, other work included), so what the 2 cores
  could give is visible beside what this workload used.

``--root DIR`` keeps Radicale's storage (seeded and warmed once) in DIR and reuses
it in later invocations with the same ``--calendars``/``--events``: seeding 300 x 100
items and Radicale's first parse of them take minutes.

    .venv/bin/python bench/replicas.py --calendars 300 --events 100 --replicas 1 2 3 \
        --root /tmp/calsync-replicas-bench
"""

from __future__ import annotations

import argparse
import os
import shutil
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

from caldav_sync import (  # bench/ is on sys.path
    NO_FSYNC_RADICALE,
    calendar_query_body,
    start_radicale,
)
from tests.fixtures.radicale import (
    RadicaleCalendar,
    RadicaleServer,
    _wait_until_up,
    free_port,
    vevent_ics,
)

from calsync.store import Store

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BASE = datetime(2027, 2, 1, 8, tzinfo=UTC)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _BackendCpu:
    """CPU seconds of the PostgreSQL backends serving one database (their process
    title names it), sampled as they come and go; shared server processes
    (WAL writer, checkpointer) are not counted."""

    def __init__(self, database: str) -> None:
        self._needle = f" {database} ".encode()
        self._seen: dict[int, float] = {}

    def sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if self._needle in title:
                pid = int(entry.name)
                self._seen[pid] = max(self._seen.get(pid, 0.0), _cpu_seconds(pid))

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())


def _lock_waits(database: str) -> tuple[int, int]:
    """Backends of ``database`` running a statement now, and those of them waiting
    for a lock held by another transaction (``pg_stat_activity``)."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'active'), "
            "count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') "
            "FROM pg_stat_activity WHERE datname = %s",
            (database,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


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
    load_before = os.getloadavg()[0]
    try:
        backends = _BackendCpu(name)
        waits: list[tuple[int, int]] = []
        radicale_cpu0 = _cpu_seconds(server.process.pid)
        busy0 = _machine_busy_seconds()
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
            for r, p in enumerate(procs):
                if p.poll() is not None:
                    tail = (root / f"{name}-{r}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"replica {r} exited with {p.returncode}:\n{tail}")
            backends.sample()
            waits.append(_lock_waits(name))
            time.sleep(0.5)
        all_synced = time.monotonic() - t0
        cpu = sum(_cpu_seconds(p.pid) for p in procs)
        backends.sample()
        postgres_cpu = backends.seconds
        radicale_cpu = _cpu_seconds(server.process.pid) - radicale_cpu0
        machine_cpu = _machine_busy_seconds() - busy0
        load_after = os.getloadavg()[0]
        holders = {r.holder for r in rows}
        # The first round overruns the interval (every calendar is due again before
        # it ends): steady state starts once each calendar was synced a second time.
        first_done = datetime.now(UTC)
        t1 = time.monotonic()
        while time.monotonic() - t1 < 900:
            with store.read() as uow:
                rows = uow.sync_leases.list()
            if all(r.synced_at is not None and r.synced_at > first_done for r in rows):
                break
            time.sleep(0.5)
        second_round = time.monotonic() - t1
        worst, typical = [], []
        end = time.monotonic() + steady
        while time.monotonic() < end:
            now = datetime.now(UTC)
            with store.read() as uow:
                dues = [r.due_at for r in uow.sync_leases.list() if r.due_at is not None]
            late = [max(0.0, (now - d).total_seconds()) for d in dues] or [0.0]
            worst.append(max(late))
            typical.append(statistics.median(late))
            time.sleep(0.5)
        return {
            "all_synced_s": all_synced,
            "cpu_s": cpu,
            "radicale_cpu_s": radicale_cpu,
            "postgres_cpu_s": postgres_cpu,
            "machine_cpu_s": machine_cpu,
            "load_start": load_before,
            "load_synced": load_after,
            "holders": float(len(holders)),
            "second_round_s": second_round,
            # Of the samples until all synced: how many backends were busy in a
            # statement, and how many of those waited for a lock (another transaction's).
            "active_per_sample": statistics.mean(a for a, _ in waits) if waits else 0.0,
            "lock_waiting_per_sample": statistics.mean(w for _, w in waits) if waits else 0.0,
            "lag_median_s": statistics.median(typical),
            "lag_worst_median_s": statistics.median(worst),
            "lag_worst_max_s": max(worst),
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


def _radicale(root: Path, calendars: int, events: int) -> tuple[RadicaleServer, list[str]]:
    """Radicale on ``root/radicale``: seeded and warmed up the first time, reused after
    (same ``calendars`` x ``events``); returns the server and the calendar URLs."""
    folder = root / "radicale"
    listing = root / f"calendars-{calendars}x{events}.txt"
    if listing.exists():
        # Reuse: a new port, the same storage (its config is written again).
        config = folder / "config"
        port = free_port()
        text = config.read_text().splitlines()
        config.write_text(
            "\n".join(f"hosts = 127.0.0.1:{port}" if t.startswith("hosts") else t for t in text)
        )
        process = subprocess.Popen(
            [sys.executable, "-c", NO_FSYNC_RADICALE, "--config", str(config)],
            stdout=(folder / "radicale.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_up(base_url, process)
        server = RadicaleServer(base_url, folder / "storage", folder / "password", process)
        paths = listing.read_text().split()
        print(f"reusing {len(paths)} calendars x {events} events in {folder}", flush=True)
        return server, [f"{base_url}{p}" for p in paths]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    server = start_radicale(folder)
    t = time.monotonic()
    made = _fill(server, calendars, events)
    print(f"{calendars} calendars x {events} events in {time.monotonic() - t:.0f} s", flush=True)
    t = time.monotonic()
    _warm_up(server, made)
    print(f"Radicale warmed up in {time.monotonic() - t:.0f} s", flush=True)
    listing.write_text("\n".join(c.path for c in made) + "\n")
    return server, [c.url for c in made]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calendars", type=int, default=300)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--steady", type=float, default=60.0)
    parser.add_argument("--root", type=Path, help="keep (and reuse) Radicale's storage here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-replicas-") as tmp:
        root = Path(tmp)
        server, urls = _radicale(args.root or root, args.calendars, args.events)
        # With --root, the replicas' configs and logs stay there too (runs/).
        work = args.root / "runs" if args.root else root
        work.mkdir(parents=True, exist_ok=True)
        try:
            results: dict[int, list[dict[str, float]]] = {}
            for _ in range(args.runs):
                for replicas in args.replicas:
                    run = one_run(
                        work, server, urls, replicas, interval=args.interval, steady=args.steady
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
                    f"R={replicas} (median of {len(runs)}): all synced once "
                    f"{med['all_synced_s']:.1f} s (throughput x{base / med['all_synced_s']:.2f}), "
                    f"CPU replicas {med['cpu_s']:.0f} s, Radicale {med['radicale_cpu_s']:.0f} s, "
                    f"PostgreSQL {med['postgres_cpu_s']:.0f} s, "
                    f"machine {med['machine_cpu_s']:.0f} s of {2 * med['all_synced_s']:.0f}, "
                    f"second round {med['second_round_s']:.0f} s; steady lag: median calendar "
                    f"{med['lag_median_s']:.1f} s, latest calendar median "
                    f"{med['lag_worst_median_s']:.1f} s / max {med['lag_worst_max_s']:.1f} s"
                )
        finally:
            server.process.terminate()
            server.process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
