"""The bed of `bench/notify.py`: a store with channels, a loopback receiver (its own
process), the relay (its own process, or none), and the latency bookkeeping."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
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
