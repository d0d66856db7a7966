"""Store write throughput: insert N events, then re-upsert them unchanged.

The second phase must be a no-op (same fingerprints): the change log must not
grow, and it should run clearly faster than the first.

    .venv/bin/python bench/store_write.py --events 100000 --batch 1000 --runs 3 --backend both

PostgreSQL comes from CALSYNC_TEST_POSTGRES_URL (default: local trust auth); each
run gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from _scratch import scratch_database  # bench/ is on sys.path when run as a script

from calsync.model import Attendee, EventContent, RemoteEvent
from calsync.store import Store

BASE = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def make_events(n: int) -> list[RemoteEvent]:
    events = []
    for i in range(n):
        start = BASE + timedelta(minutes=30 * i)
        content = EventContent(
            summary=f"Event {i}",
            start=start,
            end=start + timedelta(minutes=45),
            description="Quarterly planning, agenda in the doc." if i % 3 else "",
            attendees=(Attendee(f"p{i % 50}@example.org", status="accepted"),),
        )
        events.append(RemoteEvent(f"remote-{i}", content, etag=f'"{i}"', ical_uid=f"{i}@bench"))
    return events


def upsert_all(store: Store, calendar_pk: int, events: list[RemoteEvent], batch: int) -> float:
    started = time.perf_counter()
    for first in range(0, len(events), batch):
        with store.write() as uow:
            uow.events.upsert_remote_many(calendar_pk, events[first : first + batch])
    return time.perf_counter() - started


def one_run(backend: str, events: list[RemoteEvent], batch: int) -> tuple[float, float]:
    with scratch_database(backend) as url:
        store = Store(url)
        try:
            store.upgrade()
            with store.write() as uow:
                account = uow.accounts.get_or_create_connected("bench")
                profile = uow.profiles.get_or_create(account.pk, "caldav", "bench")
                calendar = uow.calendars.create(profile.pk, "Bench", remote_id="/bench/")
            insert_s = upsert_all(store, calendar.pk, events, batch)
            with store.read() as uow:
                changes = uow.changes.count()
            noop_s = upsert_all(store, calendar.pk, events, batch)
            with store.read() as uow:
                if uow.changes.count() != changes or changes != len(events):
                    raise SystemExit("re-upserting unchanged events grew the change log")
                if uow.events.count_live(calendar.pk) != len(events):
                    raise SystemExit("wrong number of events stored")
        finally:
            store.dispose()
    return len(events) / insert_s, len(events) / noop_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    events = make_events(args.events)
    print(f"{args.events} events, batches of {args.batch}, {args.runs} runs (medians, events/s)")
    print("| backend | insert (events/s) | no-op re-upsert (events/s) | speed-up |")
    print("|---|---:|---:|---:|")
    for backend in backends:
        results = [one_run(backend, events, args.batch) for _ in range(args.runs)]
        insert = statistics.median(r[0] for r in results)
        noop = statistics.median(r[1] for r in results)
        print(f"| {backend} | {insert:,.0f} | {noop:,.0f} | {noop / insert:.1f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
