"""Rate limits hold across replicas (issue #16): two API servers over one
PostgreSQL store share each client's budget (counted in the database), while
SQLite keeps the in-memory limiter of its single process."""

from __future__ import annotations

import httpx
import pytest

from calsync.api.limits import RateLimiter, SharedRateLimiter
from calsync.store import Store
from tests.fixtures.api import create_app_calendar, run_api_server


def test_two_replicas_share_one_budget(migrated_postgres_url: str) -> None:
    with (
        run_api_server(
            migrated_postgres_url, rate_limit_per_second=1000, rate_limit_per_minute=10
        ) as one,
        run_api_server(
            migrated_postgres_url,
            migrate=False,
            rate_limit_per_second=1000,
            rate_limit_per_minute=10,
        ) as two,
        httpx.Client(base_url=one.base_url, timeout=15) as a,
        httpx.Client(base_url=two.base_url, timeout=15) as b,
    ):
        assert isinstance(one.services.limiter, SharedRateLimiter)
        app = create_app_calendar(a, "limits")  # two requests of the client id, one of the token
        statuses = []
        for i in range(12):
            client = a if i % 2 else b
            r = client.request("GET", "/v1/calendars", headers=app.headers, json={})
            statuses.append(r.status_code)
        # The account made 1 request while creating the calendar, then 12 here:
        # the 10th of the minute is the last one allowed, whichever replica serves it.
        assert statuses[:9] == [200] * 9
        assert statuses[9:] == [429] * 3
        refused = b.request("GET", "/v1/calendars", headers=app.headers, json={})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_sqlite_keeps_the_in_memory_limiter(store: Store) -> None:
    limiter = RateLimiter.for_store(store, 5, 50)
    if store.backend == "sqlite":
        assert type(limiter) is RateLimiter and not limiter.blocking
    else:
        assert isinstance(limiter, SharedRateLimiter) and limiter.blocking


def test_the_shared_log_refuses_past_the_limit_and_does_not_count_refusals(
    migrated_postgres_url: str,
) -> None:
    store = Store(migrated_postgres_url)
    try:
        now = 1_000_000.0
        spec = [(1, 3), (60, 100)]
        assert [store.count_request("k", spec, now + i / 10) for i in range(3)] == [None] * 3
        waits = [store.count_request("k", spec, now + 0.5) for _ in range(3)]
        assert waits == [pytest.approx(0.5)] * 3  # until the first request is a second old
        assert store.count_request("other", spec, now + 0.5) is None  # per client
        # Refusals were not logged: one second after the first, one slot is free.
        assert store.count_request("k", spec, now + 1.05) is None
        assert store.count_request("k", spec, now + 1.06) is not None
    finally:
        store.dispose()
