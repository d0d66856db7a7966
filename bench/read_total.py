"""What counting ``pages.total`` costs a first page of ``GET /v1/events``.

A first page that has a successor now COUNTs the stored rows its query
matches (`calsync.api.reads.count_rows`), so ``pages.total`` is the real page
count. This measures, in one read transaction each and interleaved request by
request on the same store, the page's own read (`read_page`: query, expand,
render) against the same read plus the COUNT, for one account's default
query (``tzid=Etc/UTC&include_managed=true``, default window). The store is
loaded as `bench/read_events.py` loads it.

    .venv/bin/python bench/read_total.py --backend both --events 1000000 --runs 3

Later pages and cache hits never count (the total rides in the page token).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from read_events import bulk_load, create_tenants, database  # bench/ is on sys.path as a script

from calsync.api.paging import FIRST_PAGE
from calsync.api.params import parse_read_query
from calsync.api.reads import EVENTS, count_rows, read_page
from calsync.store import Store

PAGE_SIZE = 100


def one_run(store: Store, account_pk: int, requests: int) -> dict[str, float]:
    query = parse_read_query(
        {"tzid": ["Etc/UTC"], "include_managed": ["true"]},
        now=datetime.now(UTC),
        past_days=42,
        future_days=201,
    )
    page_t: list[float] = []
    both_t: list[float] = []
    rows = 0
    for i in range(requests + 20):  # the first 20 warm caches up
        with store.read() as uow:
            account = uow.accounts.get(account_pk)
            t0 = time.perf_counter()
            read_page(uow, account, query, FIRST_PAGE, PAGE_SIZE, EVENTS)
            t1 = time.perf_counter()
        with store.read() as uow:
            t2 = time.perf_counter()
            read_page(uow, account, query, FIRST_PAGE, PAGE_SIZE, EVENTS)
            rows = count_rows(uow, account, query)
            t3 = time.perf_counter()
        if i >= 20:
            page_t.append((t1 - t0) * 1000)
            both_t.append((t3 - t2) * 1000)
    page = statistics.median(page_t)
    both = statistics.median(both_t)
    return {"rows": rows, "page_ms": page, "with_count_ms": both, "ratio": both / page}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calendars", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with database(backend) as url:
            store = Store(url)
            store.upgrade()
            tenants = create_tenants(store, args.accounts, args.calendars)
            load_s = bulk_load(store, tenants, args.events)
            print(f"{backend}: loaded {args.events:,} events in {load_s:.0f} s", flush=True)
            results = []
            for _ in range(args.runs):
                results.append(one_run(store, tenants[0].account_pk, args.requests))
                print(backend, {k: round(v, 2) for k, v in results[-1].items()}, flush=True)
            store.dispose()
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(
            f"| {backend} | {args.events:,} | {med['rows']:,.0f} | {med['page_ms']:.2f} "
            f"| {med['with_count_ms']:.2f} | {med['ratio']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
