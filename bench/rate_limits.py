"""What counting API rate limits in PostgreSQL costs per request (issue #16).

Calls the limiter the API middleware calls, for ``--checks`` requests spread
over ``--clients`` client keys (all allowed: the limits are high), and reports
the per-request median and p99 for the in-memory sliding log and for the
shared log in PostgreSQL (one transaction: advisory lock, count, insert),
side by side in one run. A real API request adds its own work on top.

    .venv/bin/python bench/rate_limits.py --checks 3000 --clients 50 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

from calsync.api.limits import RateLimiter
from calsync.store import Store

POSTGRES = os.environ.get(
    "CALSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _measure(limiter: RateLimiter, checks: int, clients: int) -> tuple[float, float]:
    keys = [f"bench-{uuid.uuid4().hex[:8]}-{i}" for i in range(clients)]
    took = []
    for i in range(checks):
        t0 = time.perf_counter()
        assert limiter.check(keys[i % clients]) is None
        took.append(time.perf_counter() - t0)
    took.sort()
    return statistics.median(took), took[int(0.99 * (len(took) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    store = Store(POSTGRES)
    store.upgrade()
    try:
        rows: dict[str, list[tuple[float, float]]] = {"memory": [], "postgres": []}
        for _ in range(args.runs):
            memory = RateLimiter.per_second_and_minute(100_000, 1_000_000)
            shared = RateLimiter.for_store(store, 100_000, 1_000_000)
            rows["memory"].append(_measure(memory, args.checks, args.clients))
            rows["postgres"].append(_measure(shared, args.checks, args.clients))
        for name, runs in rows.items():
            p50 = statistics.median(r[0] for r in runs) * 1e6
            p99 = statistics.median(r[1] for r in runs) * 1e6
            print(f"{name}: p50 {p50:.1f} µs, p99 {p99:.1f} µs per request (median of {args.runs})")
    finally:
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
