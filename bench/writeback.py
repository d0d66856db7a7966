"""Write-back latency: an app's write through the API -> visible at Radicale.

A real ``calsync run`` process (configured by a file, the default 5-minute sync
interval) syncs one CalDAV account on a real Radicale; its store is SQLite or
PostgreSQL. After the first pass, the bench upserts events through the
daemon's API one at a time, ``--gap`` seconds apart, and polls Radicale over
plain WebDAV (``PROPFIND`` Depth 1, every 20 ms) until the new resource is
listed. Latency per write = first poll that lists it - the client's clock when
the ``202`` arrived. Then ``--burst`` writes back to back: the time from the
last ``202`` until all of them are listed.

Before this change a write waited for the account's next scheduled pass (up
to ``interval``; 2.5 minutes on average with the default), so no "before" run
is made here.

    .venv/bin/python bench/writeback.py --backends sqlite postgres --events 30 --runs 3
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.radicale import (  # noqa: E402 - after the path setup
    RadicaleCalendar,
    RadicaleServer,
    _wait_until_up,
    _write_config,
    free_port,
)
from tests.system.harness import DaemonProcess, wait_for_http  # noqa: E402
from tests.system.provider_worlds import issue_token, write_daemon_config  # noqa: E402

POLL = 0.02
PROPFIND = (
    b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
)
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)


def start_radicale(root: Path) -> RadicaleServer:
    import subprocess

    port = free_port()
    config, storage, password_file = _write_config(root, port)
    log = (root / "radicale.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    _wait_until_up(base_url, process)
    return RadicaleServer(base_url, storage, password_file, process)


def listed(http: httpx.Client, calendar: RadicaleCalendar) -> int:
    """How many resources the calendar collection lists (itself excluded)."""
    reply = http.request(
        "PROPFIND", calendar.url, content=PROPFIND, headers={"Depth": "1"}, timeout=30
    )
    assert reply.status_code == 207, reply.text
    root = ElementTree.fromstring(reply.content)  # noqa: S314 (our own local server)
    return len(root.findall("{DAV:}response")) - 1


def fresh_store(backend: str, directory: Path, postgres: str) -> tuple[str, Any]:
    """A store URL and its cleanup."""
    if backend == "sqlite":
        return "sqlite:///state/calsync.db", lambda: None
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"calsync_bench_wb_{uuid.uuid4().hex[:10]}"
    admin = make_url(postgres).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return make_url(postgres).set(database=name).render_as_string(hide_password=False), drop


def one_run(
    server: RadicaleServer, backend: str, postgres: str, events: int, gap: float, burst: int
) -> dict[str, Any]:
    calendar = server.new_calendar()
    with tempfile.TemporaryDirectory(prefix="calsync-writeback-") as tmp:
        directory = Path(tmp)
        store_url, drop = fresh_store(backend, directory, postgres)
        port = free_port()
        account = {
            "name": "dav",
            "provider": "caldav",
            "url": server.principal_url,
            "username": server.username,
            "password_file": str(server.password_file),
            "calendars": [calendar.url],
        }
        config = write_daemon_config(
            directory / "calsync.toml", port=port, interval="5m", accounts=[account]
        )
        text = config.read_text()
        config.write_text(
            text.replace('url = "sqlite:///state/calsync.db"', f'url = "{store_url}"')
        )
        daemon = DaemonProcess(config, cwd=directory)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{base}/healthz", daemon)
            daemon.wait_for_log("account 'dav': sync finished (ok)", timeout=60)
            token = issue_token(config, "dav", cwd=directory)
            headers = {"Authorization": f"Bearer {token}"}
            with (
                httpx.Client(base_url=base, timeout=30, trust_env=False) as api,
                httpx.Client(auth=(server.username, server.password), trust_env=False) as dav,
            ):
                found = api.request("GET", "/v1/calendars", headers=headers, json={}).json()
                (calendar_id,) = [
                    c["calendar_id"] for c in found["calendars"] if c["provider_name"] == "caldav"
                ]

                def upsert(event_id: str, n: int) -> float:
                    start = SOON + timedelta(hours=n)
                    reply = api.post(
                        f"/v1/calendars/{calendar_id}/events",
                        headers=headers,
                        json={
                            "event_id": event_id,
                            "summary": event_id,
                            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        },
                    )
                    assert reply.status_code == 202, reply.text
                    return time.time()

                def visible(count: int, since: float) -> float:
                    while listed(dav, calendar) < count:
                        if time.time() - since > 120:
                            raise SystemExit(
                                f"a write did not reach Radicale in 120 s:\n{daemon.logs()}"
                            )
                        time.sleep(POLL)
                    return time.time()

                latencies = []
                for n in range(events):
                    committed = upsert(f"single-{n}", n)
                    latencies.append(visible(n + 1, committed) - committed)
                    time.sleep(gap)
                last = 0.0
                for n in range(burst):
                    last = upsert(f"burst-{n}", events + n)
                burst_s = visible(events + burst, last) - last
            daemon.signal(signal.SIGTERM)
            daemon.wait(30)
            passes = daemon.logs().count("account 'dav': sync finished (ok)")
        finally:
            daemon.stop()
            drop()
    latencies.sort()
    return {
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p90_ms": 1000 * latencies[int(len(latencies) * 0.9)],
        "max_ms": 1000 * latencies[-1],
        "burst_ms": 1000 * burst_s,
        "scheduled_passes": passes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between single writes")
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="calsync-writeback-radicale-") as root:
        server = start_radicale(Path(root))
        try:
            results: dict[str, list[dict[str, Any]]] = {b: [] for b in args.backends}
            for run in range(args.runs):  # back ends interleaved, so load hits both alike
                for backend in args.backends:
                    result = one_run(
                        server, backend, args.postgres, args.events, args.gap, args.burst
                    )
                    results[backend].append(result)
                    print(f"run {run + 1} {backend}: {result}", flush=True)
        finally:
            server.process.terminate()
            server.process.wait(10)
    print(f"load average {os.getloadavg()}")
    for backend, runs in results.items():
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{backend} (median of {len(runs)}): {medians}")


if __name__ == "__main__":
    main()
