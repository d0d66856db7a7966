"""The read cache never changes an answer: a cached server and an uncached one agree.

Both servers run over the same store; every write goes through the cached one
(API) or the store (as sync does), and every read is asked of both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.api import (
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    bearer,
    create_app_calendar,
    get,
    run_api_server,
)

PAGE = 3
BASE = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=1)
QUERIES = [
    "/v1/events?tzid=Etc/UTC&include_managed=true",
    "/v1/events?tzid=Europe/Paris&include_managed=true&include_deleted=true&localized_times=true",
    "/v1/events?tzid=Etc/UTC&only_managed=true&include_deleted=true",
    "/v1/free_busy?tzid=America/New_York",
]


@pytest.fixture
def pair(store_url: str) -> Iterator[tuple[ApiServer, ApiServer]]:
    with (
        run_api_server(store_url, page_size=PAGE) as cached,
        run_api_server(store_url, page_size=PAGE, read_cache_mb=0, migrate=False) as plain,
    ):
        assert cached.services.read_cache.enabled and not plain.services.read_cache.enabled
        yield cached, plain


def _pages(http: httpx.Client, server: ApiServer, path: str, token: str) -> list[Any]:
    """Every page of a read, with next_page made relative (the servers' ports differ)."""
    pages: list[Any] = []
    while True:
        response = get(http, server.base_url + path, token)
        assert response.status_code == 200, response.text
        body = response.json()
        next_page = body["pages"].pop("next_page", None)
        pages.append(body)
        if next_page is None:
            return pages
        assert next_page.startswith(server.base_url)
        path = urlsplit(next_page).path
        assert len(pages) < 50


def _event(event_id: str, summary: str, hours: int) -> dict[str, Any]:
    start = BASE + timedelta(hours=hours)
    return {
        "event_id": event_id,
        "summary": summary,
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


OPS = st.one_of(
    st.tuples(
        st.just("upsert"),
        st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]),
        st.sampled_from(["one", "two"]),
        st.integers(0, 30),
    ),
    st.tuples(st.just("delete"), st.sampled_from(["a", "b", "c", "d"])),
    st.tuples(st.just("readonly"), st.booleans()),
    st.tuples(st.just("read"), st.sampled_from(QUERIES)),
)


def test_cached_and_uncached_servers_always_agree(pair: tuple[ApiServer, ApiServer]) -> None:
    cached, plain = pair
    with httpx.Client(timeout=15) as http:
        cal = create_app_calendar(httpx.Client(base_url=cached.base_url, timeout=15), "read-cache")
        with cached.store.read() as uow:
            account = uow.accounts.get_by_sub(cal.sub)
            calendar_pk = uow.calendars.get(account.pk, cal.calendar_id).pk

        def step(op: tuple[Any, ...]) -> None:
            url = f"{cached.base_url}/v1/calendars/{cal.calendar_id}/events"
            if op[0] == "upsert":
                r = http.post(url, json=_event(op[1], op[2], op[3]), headers=cal.headers)
                assert r.status_code in (202, 403), r.text  # 403 while read-only
            elif op[0] == "delete":
                r = http.request("DELETE", url, json={"event_id": op[1]}, headers=cal.headers)
                assert r.status_code in (202, 403), r.text
            elif op[0] == "readonly":
                with cached.store.write() as uow:  # as a provider's calendar listing would
                    uow.calendars.update(calendar_pk, readonly=op[1])
            else:
                for _ in range(2):  # the second read of the cached server is a hit
                    assert _pages(http, cached, op[1], cal.access_token) == _pages(
                        http, plain, op[1], cal.access_token
                    )

        @settings(max_examples=25, deadline=None, database=None)
        @given(st.lists(OPS, min_size=1, max_size=12))
        def run(ops: list[tuple[Any, ...]]) -> None:
            for op in ops:
                step(op)
            step(("read", QUERIES[0]))

        run()
    # The property above is only meaningful if the cache actually answered.
    assert cached.services.read_cache.hits > 0 and plain.services.read_cache.hits == 0


def test_repeated_read_is_a_hit_until_the_account_changes(api_server: ApiServer) -> None:
    path = "/v1/events?tzid=Etc/UTC&include_managed=true"
    cache = api_server.services.read_cache
    with httpx.Client(base_url=api_server.base_url, timeout=15) as http:
        cal: AppCalendar = create_app_calendar(http, "hits")
        other = create_app_calendar(http, "other")
        first = get(http, path, cal.access_token)
        hits = cache.hits
        again = get(http, path, cal.access_token)
        assert again.content == first.content and cache.hits == hits + 1
        # Another account asking the same question never gets this account's page.
        assert get(http, path, other.access_token).json()["events"] == []
        assert cache.hits == hits + 1

        url = f"/v1/calendars/{cal.calendar_id}/events"
        created = http.post(url, json=_event("new", "fresh", 2), headers=cal.headers)
        assert created.status_code == 202
        after = get(http, path, cal.access_token).json()["events"]
        assert [e["summary"] for e in after] == ["fresh"] and cache.hits == hits + 1

        secret = bearer(CLIENT_SECRET)
        metrics = http.get("/metrics", headers=secret).text
        assert f"calsync_api_read_cache_hits_total {float(cache.hits)}" in metrics
        assert "calsync_api_read_cache_bytes " in metrics


def test_sqlite_bounds_concurrent_renders_and_postgres_does_not(store_url: str) -> None:
    with run_api_server(store_url, read_cache_mb=0) as server:
        slots = server.services.render_slots
        if server.store.backend == "postgresql":
            assert slots is None
            return
        assert slots is not None
        with httpx.Client(base_url=server.base_url, timeout=15) as http:
            cal = create_app_calendar(http, "slots")
            assert slots.acquire(blocking=False) and slots.acquire(blocking=False)
            assert not slots.acquire(blocking=False)  # two slots, both held now
            answers: list[int] = []
            reader = threading.Thread(
                target=lambda: answers.append(get(http, QUERIES[0], cal.access_token).status_code)
            )
            reader.start()
            reader.join(0.5)
            assert reader.is_alive() and answers == []  # waiting for a slot
            slots.release()
            reader.join(10)
            slots.release()
        assert answers == [200]
