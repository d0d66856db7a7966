"""A first full sync of a large calendar next to API writes over real HTTP.

Shared by ``test_sqlite_write_stalls.py`` (every write succeeds while the
listing is in progress) and ``bench/sqlite_stall.py`` (their latency).

The sync runs in a thread over the API server's own store, as in the daemon;
the remote is a memory backend holding ``events`` events, listed 100 a page.
``hold_at_page``: the listing pauses after that page until the writes are done
(a guard of ``hold_timeout`` seconds): with a write transaction held across the
listing, the writes could then not finish, so they fail or time out.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from calsync.providers import registry
from calsync.providers.base import Provider, SyncWindow
from calsync.providers.memory import drop_backend, get_backend
from calsync.sync import AccountSyncReport, SyncEngine
from tests.fixtures.api import ApiServer, create_app_calendar
from tests.fixtures.store import content, memory_account


@dataclass
class StallRun:
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: The listing was still in progress when the last write returned.
    writes_done_mid_listing: bool = False
    report: AccountSyncReport | None = None
    sync_seconds: float = 0.0


class _PausingProvider:
    """Delegates to a provider; pauses the listing after ``hold_at`` pages."""

    def __init__(
        self, inner: Provider, started: threading.Event, done: threading.Event, hold_at: int
    ) -> None:
        self._inner = inner
        self._started, self._done, self._hold_at = started, done, hold_at
        self.held_ok = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def pull(self, calendar_remote_id: str, cursor: str | None, window: SyncWindow) -> Any:
        for index, page in enumerate(self._inner.pull(calendar_remote_id, cursor, window)):
            yield page
            self._started.set()
            if index + 1 == self._hold_at:
                self.held_ok = self._done.wait(timeout=HOLD_TIMEOUT)


HOLD_TIMEOUT = 120.0


def run_listing_with_writes(
    server: ApiServer, *, events: int = 10_000, writes: int = 100, hold_at_page: int | None = 10
) -> StallRun:
    name = f"stall-{uuid.uuid4().hex[:8]}"
    drop_backend(name)
    backend = get_backend(name)
    remote = backend.ensure_calendar("Big")
    base = datetime(2027, 1, 4, 8, tzinfo=UTC)
    for i in range(events):
        backend.remote_upsert(remote, content(f"remote {i}", day=i % 300, hours=1))
    account = memory_account(name, ["Big"], page_size=100)
    settings = replace(server.settings, accounts=(account,))
    started, done = threading.Event(), threading.Event()
    providers: list[_PausingProvider] = []

    def factory(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
        made = _PausingProvider(
            registry.create(name, account_name, options), started, done, hold_at_page or -1
        )
        providers.append(made)
        return made

    engine = SyncEngine(server.store, settings, provider_factory=factory)
    engine.discover(account)
    run = StallRun()
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        app = create_app_calendar(client, f"stall-{name}")
        finished = threading.Event()

        def sync() -> None:
            t0 = time.perf_counter()
            try:
                run.report = engine.sync_account(account)
            finally:
                run.sync_seconds = time.perf_counter() - t0
                finished.set()

        thread = threading.Thread(target=sync, name="first-sync")
        thread.start()
        try:
            if not started.wait(timeout=HOLD_TIMEOUT):
                raise RuntimeError("the listing did not start")
            for i, body in enumerate(_bodies(writes, base)):
                t0 = time.perf_counter()
                try:
                    r = client.post(
                        f"/v1/calendars/{app.calendar_id}/events", json=body, headers=app.headers
                    )
                    run.statuses.append(r.status_code)
                    if r.status_code != 202:
                        run.errors.append(f"write {i}: {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    run.errors.append(f"write {i}: {type(exc).__name__}")
                run.latencies.append(time.perf_counter() - t0)
            run.writes_done_mid_listing = not finished.is_set()
        finally:
            done.set()
            thread.join(timeout=600)
    if hold_at_page is not None:
        run.writes_done_mid_listing &= any(p.held_ok for p in providers)
    drop_backend(name)
    return run


def _bodies(n: int, base: datetime) -> Iterator[dict[str, str]]:
    for i in range(n):
        start = base + timedelta(hours=i)
        yield {
            "event_id": f"app-{i}",
            "summary": f"app write {i}",
            "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{start + timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}",
        }
