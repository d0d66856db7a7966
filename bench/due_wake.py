"""Waking a calendar's holder across replicas (issue #16): LISTEN/NOTIFY vs a poll.

A replica that gets a provider push or an app write for a calendar another
replica holds marks the lease row due (`SyncLeaseRepo.mark_due`). How soon can
the holder know, and what does each way cost? On a fresh PostgreSQL database
with ``--calendars`` lease rows (one account), held by replica "holder":

- NOTIFY: a listener thread (`Store.due_listener`, as `DueWakeups` uses it)
  waits; the main thread commits ``mark_due`` of one calendar, ``--marks``
  times. Latency = from the start of the marking transaction to the listener
  having the calendar key (so it includes the mark's own commit), and from
  the commit's return (the delivery alone; it can be negative: the listener
  may have it before the committing thread runs again);
- poll: the query a polling holder would run every period (its held leases due
  now), ``--marks`` times: wall time and client CPU per query. A poll's latency
  is up to its period (half on average), plus that query.

    .venv/bin/python bench/due_wake.py --calendars 300 --marks 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calsync.model.calendars import RemoteCalendar
from calsync.store import Store
from calsync.store.sql import utcnow

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POLL = (
    "SELECT calendar_id FROM sync_leases "
    "WHERE holder = %s AND lease_until > now() AND due_at <= now()"
)


def _world(store: Store, calendars: int) -> list[int]:
    with store.write() as uow:
        account = uow.accounts.get_or_create_connected("bench")
        profile = uow.profiles.get_or_create(account.pk, "caldav", "bench")
        for i in range(calendars):
            uow.calendars.upsert_remote(profile.pk, RemoteCalendar(f"/cal/{i}/", f"cal {i}"))
    with store.write() as uow:
        uow.sync_leases.ensure(["bench"])
        grants = uow.sync_leases.acquire(
            "holder", ["bench"], limit=calendars, until=utcnow() + timedelta(hours=1)
        )
        # Not due: a poll finds nothing, as almost always.
        for grant in grants:
            uow.sync_leases.synced(
                grant.calendar_pk, "holder", grant.token, utcnow() + timedelta(hours=1)
            )
    return [g.calendar_pk for g in grants]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calendars", type=int, default=300)
    parser.add_argument("--marks", type=int, default=200)
    args = parser.parse_args()
    name = f"calsync_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    store = Store(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        store.upgrade()
        pks = _world(store, args.calendars)
        listener = store.due_listener()
        assert listener is not None
        listener.wait(0.01)  # connect and LISTEN
        arrived: dict[int, float] = {}
        done = threading.Event()

        def listen() -> None:
            while not done.is_set():
                for pk in listener.wait(0.2).calendar_pks:
                    arrived.setdefault(pk, time.perf_counter())

        thread = threading.Thread(target=listen)
        thread.start()
        latencies, after_commit = [], []
        for i in range(args.marks):
            pk = pks[i % len(pks)]
            arrived.pop(pk, None)
            started = time.perf_counter()
            with store.write() as uow:
                uow.sync_leases.mark_due([pk])
            committed = time.perf_counter()
            deadline = time.monotonic() + 10
            while pk not in arrived and time.monotonic() < deadline:
                time.sleep(0.0002)
            latencies.append((arrived[pk] - started) * 1000)
            after_commit.append((arrived[pk] - committed) * 1000)
        done.set()
        thread.join()
        listener.close()

        walls, cpus = [], []
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
            conn.autocommit = True
            for _ in range(args.marks):
                wall, cpu = time.perf_counter(), time.process_time()
                conn.execute(POLL, ("holder",)).fetchall()
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
        print(
            f"{args.calendars} leases, {args.marks} marks; NOTIFY: mark -> holder knows "
            f"p50 {statistics.median(latencies):.2f} ms, "
            f"p99 {_percentile(latencies, 0.99):.2f} ms; "
            f"after the mark's commit returned p50 {statistics.median(after_commit):.2f} ms, "
            f"p99 {_percentile(after_commit, 0.99):.2f} ms"
        )
        print(
            f"poll query: p50 {statistics.median(walls):.2f} ms wall, "
            f"{statistics.median(cpus):.3f} ms client CPU (psycopg, no ORM); "
            f"latency = up to the period + that"
        )
    finally:
        store.dispose()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
