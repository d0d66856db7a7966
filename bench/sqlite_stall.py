"""API write latency during a first full sync on SQLite (issue #16).

A 10,000-event calendar (memory remote, 100 events a page) is synced from
scratch by a `SyncEngine` over the API server's own store, as in the daemon,
while 100 upserts go one after another through a real uvicorn server over
HTTP. The listing is not paused: the writes run beside it as fast as they can.
Reported: p50/p99/max of the upserts, the sync's duration, medians of runs.

    .venv/bin/python bench/sqlite_stall.py --events 10000 --writes 100 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.api import run_api_server
from tests.integration.listing_stall import run_listing_with_writes


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for run_index in range(args.runs):
        with (
            tempfile.TemporaryDirectory() as tmp,
            run_api_server(f"sqlite:///{tmp}/bench.db") as server,
        ):
            run = run_listing_with_writes(
                server, events=args.events, writes=args.writes, hold_at_page=None
            )
        failed = len(run.errors)
        p50, p99 = _quantile(run.latencies, 0.5), _quantile(run.latencies, 0.99)
        rows.append((p50, p99, max(run.latencies), run.sync_seconds, failed))
        print(
            f"run {run_index + 1}: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {max(run.latencies) * 1000:.0f} ms, sync {run.sync_seconds:.1f} s, "
            f"failed writes {failed}, mid-listing {run.writes_done_mid_listing}",
            flush=True,
        )
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(
        f"median of {args.runs}: p50 {med[0] * 1000:.0f} ms, p99 {med[1] * 1000:.0f} ms, "
        f"max {med[2] * 1000:.0f} ms, sync {med[3]:.1f} s, failed writes {sum(r[4] for r in rows)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
