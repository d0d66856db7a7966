"""Notification relay benchmark: commit -> delivery latency and deliveries per second.

Ten accounts, each with one calendar and one channel (its own callback path on
one loopback receiver). The relay (`OutboxRelay.run_forever`, debounce 0,
coalescing on as in production) runs in a child process, as in the daemon.
Two scenarios, because "deliveries per second" means two different things:

``steady``
    ``--writers`` threads of one writer process (the daemon's shape) commit
    ``--changes`` event changes between them at full speed, one change per
    transaction, each thread on its own accounts (many accounts write
    concurrently, as in a real deployment; writers of one account serialise
    on its clock lock anyway). ``--rate`` paces them instead: SQLite has one
    write lock, and writers at full speed hold it nearly all the time. A change's latency runs from
    its commit (the writer's clock after COMMIT returned) to the arrival, on
    its account's channel, of the first notification whose ``first_seq ..
    last_seq`` covers it. Coalescing folds changes that arrive while a
    notification is in flight, so deliveries <= changes here: deliveries/s is
    bounded by the commit rate and says little about the relay's ceiling.

``drain``
    With the relay stopped, ``--backlog`` notifications are queued per
    channel (profile notifications, which are never coalesced: one delivery
    each), then the relay starts and deliveries/s is measured from its start
    (fan-out included) until the receiver has them all. This is the relay's
    ceiling: what it can push when there is work for every channel.

``isolated``
    The daemon's shape and configuration: the relay thread
    (`calsync.daemon.relay_thread`, default poll interval, woken by commits)
    in the process that commits, and the default ``[notify] debounce``
    (1 s). ``--changes`` changes, each
    on the next channel in turn, paced so that every channel is quiet for
    2 debounce windows before its next change: each change is isolated,
    the case a leading-edge debounce sends at once. Latency as in
    ``steady``. (A trailing debounce held each one for the whole window.)

The receiver is a minimal asyncio HTTP/1.1 server with keep-alive in its own
process: it only timestamps ``webhook-id`` and answers 200, so the figures are
the relay's, not a web framework's.

    .venv/bin/python bench/notify.py --store-url postgresql+psycopg://postgres@127.0.0.1:5432/test \
        --scenario both --changes 10000 --backlog 1000 --channels 10 --writers 5 --runs 3
    .venv/bin/python bench/notify.py --store-url sqlite:// --scenario isolated \
        --changes 200 --channels 10 --runs 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _notify_bed import (  # noqa: E402 - bench/ is on sys.path when run as a script
    DEFAULT_DEBOUNCE,
    QUIET,
    STATS,
    _arrivals,
    _bed,
    _latencies,
    _settings,
    _wait_covered,
    _writers,
)

# -- the scenarios -------------------------------------------------------------


@dataclass
class Steady:
    p50_ms: float
    p99_ms: float
    deliveries: int
    deliveries_per_s: float
    commits_per_s: float


@dataclass
class Drain:
    deliveries: int
    seconds: float
    deliveries_per_s: float


def run_steady(base_url: str, changes: int, channels: int, writers: int, rate: float = 0) -> Steady:

    bed = _bed(base_url, channels)
    try:
        bed.start_relay()
        # Start committing only once the relay runs: its verifications have arrived.
        while len(_arrivals(bed.port)) < channels:
            time.sleep(0.05)
        ctx = multiprocessing.get_context("spawn")
        STATS.mkdir(exist_ok=True)
        out = str(STATS / f"writers-{uuid.uuid4().hex[:8]}.json")
        writer = ctx.Process(
            target=_writers, args=(bed.store_url, bed.calendar_pks, writers, changes, out, rate)
        )
        writer.start()
        writer.join()
        outs = [out]
        committed = [tuple(c) for out in outs for c in json.loads(Path(out).read_text())]
        for out in outs:
            Path(out).unlink()
        done = _wait_covered(bed, committed)
        arrivals = _arrivals(bed.port)
    finally:
        bed.close()
    changes_done = [d for d in done if d.kind == "change"]
    latencies = _latencies(committed, changes_done, arrivals, bed.channels)
    start = min(float(c[2]) for c in committed)
    commit_span = max(float(c[2]) for c in committed) - start
    span = max(arrivals[d.webhook_id] for d in changes_done) - start
    return Steady(
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[int(len(latencies) * 0.99)],
        deliveries=len(changes_done),
        deliveries_per_s=len(changes_done) / span,
        commits_per_s=len(committed) / commit_span,
    )


@dataclass
class Isolated:
    p50_ms: float
    p99_ms: float
    max_ms: float
    deliveries: int


def run_isolated(base_url: str, changes: int, channels: int) -> Isolated:
    """Isolated changes under the daemon's defaults (see the module doc)."""
    from tests.fixtures.store import content

    from calsync.daemon.relay_thread import RelayThread
    from calsync.store import Store

    bed = _bed(base_url, channels, relay_process=False)
    store = Store(bed.store_url)
    # The daemon's shape: the relay thread in the process that commits (the API's).
    relay = RelayThread(store, _settings(bed.store_url, DEFAULT_DEBOUNCE))
    try:
        relay.start()
        while len(_arrivals(bed.port)) < channels:
            time.sleep(0.05)
        quiet = QUIET * DEFAULT_DEBOUNCE.total_seconds()
        time.sleep(quiet)  # the verifications' windows pass too
        gap = quiet / channels
        committed: list[tuple[Any, ...]] = []
        last_commit: dict[int, float] = {}
        start = time.monotonic()
        for i in range(changes):
            # On schedule, but never sooner than `quiet` after the channel's last
            # change: a writer delayed by the load must not make two changes close.
            due = max(start + i * gap, last_commit.get(i % channels, 0.0) + quiet)
            time.sleep(max(0.0, due - time.monotonic()))
            last_commit[i % channels] = time.monotonic()
            with store.write() as uow:
                done = uow.events.upsert_managed(
                    bed.calendar_pks[i % channels], f"ev-{i}", content(f"c{i}")
                )
            assert done.event is not None
            committed.append((done.event.account_pk, done.event.change_seq, time.time()))
        delivered = _wait_covered(bed, committed)
        arrivals = _arrivals(bed.port)
    finally:
        relay.stop()
        store.dispose()
        bed.close()
    changes_done = [d for d in delivered if d.kind == "change"]
    latencies = _latencies(committed, changes_done, arrivals, bed.channels)
    return Isolated(
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[int(len(latencies) * 0.99)],
        max_ms=1000 * latencies[-1],
        deliveries=len(changes_done),
    )


def run_drain(base_url: str, backlog: int, channels: int) -> Drain:
    from calsync.notify.channels import enqueue_profile_event
    from calsync.store import Store

    bed = _bed(base_url, channels)
    try:
        store = Store(bed.store_url)
        with store.read() as uow:
            targets = []
            for calendar_pk in bed.calendar_pks:
                calendar = uow.calendars.get_by_pk(calendar_pk)
                targets.append(
                    (
                        uow.accounts.get(calendar.account_pk),
                        uow.profiles.get_by_pk(calendar.profile_pk),
                    )
                )
        for start in range(0, backlog, 100):
            with store.write() as uow:
                for account, profile in targets:
                    for _ in range(min(100, backlog - start)):
                        enqueue_profile_event(
                            uow, account, profile, "profile_initial_sync_completed"
                        )
        store.dispose()
        expected = channels * (backlog + 1)  # + the verifications, queued before the start
        bed.start_relay()
        deadline = time.time() + 300
        while len(arrivals := _arrivals(bed.port)) < expected:
            if time.time() > deadline:
                raise SystemExit(f"only {len(arrivals)} of {expected} arrived within 300 s")
            time.sleep(0.2)
        seconds = max(arrivals.values()) - bed.started.value
    finally:
        bed.close()
    return Drain(
        deliveries=len(arrivals), seconds=seconds, deliveries_per_s=len(arrivals) / seconds
    )


def _median(results: list[Any]) -> dict[str, float]:
    return {
        f.name: statistics.median(getattr(r, f.name) for r in results) for f in fields(results[0])
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--scenario", choices=["steady", "drain", "both", "isolated"], default="both"
    )
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--backlog", type=int, default=1_000, help="notifications per channel")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--writers", type=int, default=5)
    parser.add_argument(
        "--rate", type=float, default=0, help="steady: commits/s in total (0 = full speed)"
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}", flush=True)
    if args.scenario in ("steady", "both"):
        steady = []
        for n in range(args.runs):
            steady.append(
                run_steady(args.store_url, args.changes, args.channels, args.writers, args.rate)
            )
            print(f"steady run {n + 1}: {steady[-1]}", flush=True)
        m = _median(steady)
        print(
            f"steady median of {args.runs}: p50 {m['p50_ms']:.0f} ms, p99 {m['p99_ms']:.0f} ms, "
            f"{m['deliveries']:.0f} deliveries at {m['deliveries_per_s']:.0f}/s, "
            f"{args.changes} commits at {m['commits_per_s']:.0f}/s",
            flush=True,
        )
    if args.scenario in ("drain", "both"):
        drain = []
        for n in range(args.runs):
            drain.append(run_drain(args.store_url, args.backlog, args.channels))
            print(f"drain run {n + 1}: {drain[-1]}", flush=True)
        m = _median(drain)
        print(
            f"drain median of {args.runs}: {m['deliveries']:.0f} deliveries in "
            f"{m['seconds']:.2f} s = {m['deliveries_per_s']:.0f}/s",
            flush=True,
        )
    if args.scenario == "isolated":
        isolated = []
        for n in range(args.runs):
            isolated.append(run_isolated(args.store_url, args.changes, args.channels))
            print(f"isolated run {n + 1}: {isolated[-1]}", flush=True)
        m = _median(isolated)
        print(
            f"isolated median of {args.runs}: p50 {m['p50_ms']:.0f} ms, "
            f"p99 {m['p99_ms']:.0f} ms, max {m['max_ms']:.0f} ms, "
            f"{m['deliveries']:.0f} deliveries for {args.changes} changes",
            flush=True,
        )
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
