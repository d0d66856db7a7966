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
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECRET = "bench-secret"
STATS = Path(tempfile.gettempdir()) / "calsync-bench-notify"


# -- the receiver (child process) ----------------------------------------------


def _receiver(port: int) -> None:
    arrivals: dict[str, float] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.time()
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                if lines[0].startswith("POST"):
                    arrivals.setdefault(headers["webhook-id"], now)
                    body = b""
                else:
                    body = json.dumps(arrivals).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def _arrivals(port: int) -> dict[str, float]:
    result: dict[str, float] = httpx.get(f"http://127.0.0.1:{port}/", trust_env=False).json()
    return result


# -- the relay and the writers (child processes) -------------------------------


#: The ``[notify] debounce`` default, for the ``isolated`` scenario.
DEFAULT_DEBOUNCE = timedelta(seconds=1)
#: ``isolated``: a channel's changes are at least this many debounce windows apart.
QUIET = 2.0


def _settings(store_url: str, debounce: timedelta = timedelta(0)) -> Any:
    from tests.fixtures.api import make_settings

    from calsync.config import Secret

    settings = make_settings(store_url, "http://127.0.0.1:9", 9)
    return replace(
        settings,
        api=replace(settings.api, client_secret_file=Secret(SECRET)),
        notify=replace(settings.notify, debounce=debounce),
    )


def _relay(store_url: str, go: Any, started: Any) -> None:
    from calsync.notify.relay import OutboxRelay
    from calsync.store import Store

    relay = OutboxRelay(Store(store_url), _settings(store_url), poll_interval=0.01)
    go.wait()
    started.value = time.time()
    relay.run_forever(threading.Event())


def _writers(
    store_url: str, calendar_pks: list[int], writers: int, changes: int, out: str, rate: float = 0
) -> None:
    """``writers`` threads of one process (the daemon's shape), each on its own accounts;
    ``rate`` > 0 paces them to that many commits per second in total."""
    from tests.fixtures.store import content

    from calsync.store import Store

    store = Store(store_url)
    committed: list[tuple[int, int, float]] = []

    def write(mine: list[int], count: int) -> None:
        start = time.monotonic()
        for i in range(count):
            if rate > 0:
                time.sleep(max(0.0, start + i * writers / rate - time.monotonic()))
            calendar_pk = mine[i % len(mine)]
            with store.write() as uow:
                done = uow.events.upsert_managed(calendar_pk, f"ev-{i % 500}", content(f"c{i}"))
            assert done.event is not None
            committed.append((done.event.account_pk, done.event.change_seq, time.time()))

    threads = [
        threading.Thread(target=write, args=(calendar_pks[w::writers], changes // writers))
        for w in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Path(out).write_text(json.dumps(committed))


# -- setup ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_store(base: str) -> str:
    if not base.startswith("postgresql"):
        (REPO / "var").mkdir(exist_ok=True)
        return f"sqlite:///{REPO / 'var' / f'bench-notify-{uuid.uuid4().hex[:8]}.db'}"
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"calsync_bench_{uuid.uuid4().hex[:10]}"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _drop_store(url: str) -> None:
    if not url.startswith("postgresql"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", ".writers"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


@dataclass
class Bed:
    """A store with ten accounts/channels, a receiver, and a relay waiting to start."""

    store_url: str
    port: int
    calendar_pks: list[int]
    channels: dict[int, int]  # account pk -> channel pk
    processes: list[Any]
    go: Any
    started: Any

    def start_relay(self) -> None:
        self.go.set()

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(10)
        _drop_store(self.store_url)


def _bed(base_url: str, channels: int, relay_process: bool = True) -> Bed:
    from tests.fixtures.store import new_calendar

    from calsync.notify.channels import create_channel
    from calsync.store import Store

    store_url = _fresh_store(base_url)
    store = Store(store_url)
    store.upgrade()
    settings = _settings(store_url)
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    receiver = ctx.Process(target=_receiver, args=(port,), daemon=True)
    receiver.start()
    _wait_http(f"http://127.0.0.1:{port}/")
    calendar_pks, by_account = [], {}
    for i in range(channels):
        calendar = new_calendar(store, f"bench-{i}")
        with store.read() as uow:
            account = uow.accounts.get(calendar.account_pk)
        url = f"http://127.0.0.1:{port}/c/{i}"
        channel, _ = create_channel(store, settings, account, url, None, secrets=[SECRET])
        calendar_pks.append(calendar.pk)
        by_account[account.pk] = channel.pk
    store.dispose()
    go, started = ctx.Event(), ctx.Value("d", 0.0)
    processes = [receiver]
    if relay_process:
        relay = ctx.Process(target=_relay, args=(store_url, go, started), daemon=True)
        relay.start()
        processes.insert(0, relay)
    return Bed(store_url, port, calendar_pks, by_account, processes, go, started)


def _wait_http(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("receiver did not start")


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


def _wait_covered(bed: Bed, committed: list[tuple[Any, ...]]) -> list[Any]:
    """Wait until every committed change is covered by a delivered notification."""
    from calsync.store import Store

    last_seq: dict[int, int] = {}
    for account_pk, seq, _ in committed:
        last_seq[int(account_pk)] = max(last_seq.get(int(account_pk), 0), int(seq))
    store = Store(bed.store_url)
    deadline = time.time() + 300
    try:
        while True:
            with store.read() as uow:
                done = list(uow.channels.list_deliveries(status="delivered"))
            covered = {pk: 0 for pk in bed.channels.values()}
            for d in done:
                if d.kind == "change":
                    covered[d.channel_pk] = max(covered[d.channel_pk], d.last_seq or 0)
            if all(covered[bed.channels[a]] >= s for a, s in last_seq.items()):
                return done
            if time.time() > deadline:
                raise SystemExit("the relay did not catch up within 300 s")
            time.sleep(0.2)
    finally:
        store.dispose()


def _latencies(
    committed: list[tuple[Any, ...]],
    changes_done: list[Any],
    arrivals: dict[str, float],
    channels: dict[int, int],
) -> list[float]:
    """Per change: arrival of the first notification covering it - its commit, sorted."""
    by_channel: dict[int, list[tuple[float, int, int]]] = {}
    for d in changes_done:
        by_channel.setdefault(d.channel_pk, []).append(
            (arrivals[d.webhook_id], d.first_seq or 0, d.last_seq or 0)
        )
    for runs in by_channel.values():
        runs.sort()
    latencies = []
    for account_pk, seq, at in committed:
        mine = by_channel[channels[int(account_pk)]]
        first = next((t for t, lo, hi in mine if lo <= seq <= hi), None)
        if first is None:
            raise SystemExit(f"change {seq} of account {account_pk} was never notified")
        latencies.append(max(first - float(at), 0.0))
    latencies.sort()
    return latencies


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
