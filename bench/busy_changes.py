"""What an availability question reads after a write, on accounts of many events.

After a write, ``POST /v1/availability`` reads only the member's events written since
the version it kept (``uow.availability.busy_changes``: ``account_id = ? AND
change_seq > ?``). This times that read on one account of ``--events`` events (one
calendar, all in the window) plus one event written through the write path, with the
``(account_id, change_seq)`` index of migration 0014 and, in the same run on the same
database, after dropping it. Medians of ``--reads`` reads per measurement; ``--runs``
fresh databases per size and back end.

    .venv/bin/python bench/busy_changes.py --events 1000 20000 100000 --runs 3

PostgreSQL comes from CALSYNC_TEST_POSTGRES_URL (default: local trust auth). The index
is dropped with the bare driver (psycopg, sqlite3): bench/ never imports SQLAlchemy.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
from _scratch import libpq_url, scratch_database  # bench/ is on sys.path as a script

from calsync.model import EventContent
from calsync.store import Store
from calsync.store.repos.event_bulk import BulkEvent

INDEX = "ix_events_account_id_change_seq"


def _drop_index(url: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(f"DROP INDEX {INDEX}")
        return
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"DROP INDEX {INDEX}")
        conn.execute("ANALYZE events")


def _one(url: str, events: int, reads: int) -> tuple[float, float]:
    """(ms with the index, ms without): medians of ``reads`` reads each."""
    store = Store(url)
    store.upgrade()
    now = datetime.now(UTC).replace(microsecond=0)
    with store.write() as uow:
        account, _, calendar = uow.accounts.upsert_application("big")
    store.bulk_load_events(
        BulkEvent(
            calendar.pk,
            EventContent(
                f"e{i}", now + timedelta(minutes=30 * i), now + timedelta(minutes=30 * i + 15)
            ),
            now,
            remote_id=f"e{i}",
        )
        for i in range(events)
    )
    with store.write() as uow:
        uow.events.upsert_managed(calendar.pk, "written", EventContent("w", now, now))
    with store.read() as uow:
        version = uow.accounts.get_by_sub(account.sub).last_change_seq
    window = (now - timedelta(days=1), now + timedelta(minutes=30 * events + 60))

    def median_ms() -> float:
        took = []
        for _ in range(reads):
            with store.read() as uow:
                started = time.perf_counter()
                changed = uow.availability.busy_changes(account.pk, None, window, version - 1)
                took.append(time.perf_counter() - started)
            assert len(changed) == 1 and changed[0][1] is not None, changed  # the one written
        return statistics.median(took) * 1000

    with_index = median_ms()
    store.dispose()
    _drop_index(url)
    store = Store(url)
    without = median_ms()
    store.dispose()
    return with_index, without


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1000, 20000, 100000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print("| back end | events | with index (ms) | without (ms) | per run (with / without) |")
    print("|---|---:|---:|---:|---|")
    for backend in backends:
        for events in args.events:
            runs = []
            for _ in range(args.runs):
                with scratch_database(backend, prefix="calsync_busy") as url:
                    runs.append(_one(url, events, args.reads))
            with_index = statistics.median(r[0] for r in runs)
            without = statistics.median(r[1] for r in runs)
            raw = ", ".join(f"{a:.2f} / {b:.2f}" for a, b in runs)
            print(f"| {backend} | {events:,} | {with_index:.2f} | {without:.2f} | {raw} |")


if __name__ == "__main__":
    main()
