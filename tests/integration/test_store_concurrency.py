"""Many writers, one calendar: no duplicates, no lock errors, a consistent clock."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from calsync.store import EventQuery, Store
from tests.fixtures.store import content, new_calendar

THREADS = 16
EVENTS = 1000
BATCH = 100


@pytest.mark.slow
def test_sixteen_writers_upsert_the_same_thousand_events(store: Store) -> None:
    cal = new_calendar(store)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(worker: int) -> None:
        start.wait()
        try:
            for first in range(0, EVENTS, BATCH):
                items = [
                    (f"event-{i}", content(f"worker {worker} version {i}", day=i % 30))
                    for i in range(first, first + BATCH)
                ]
                with store.write() as uow:
                    uow.events.upsert_managed_many(cal.pk, items)
        except BaseException as exc:  # count every failure; none is allowed
            errors.append(exc)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(writer, range(THREADS)))

    assert errors == []
    with store.read() as uow:
        rows = uow.events.list_calendar(cal.pk, include_deleted=True)
        log = uow.changes.list_since(cal.account_pk, limit=THREADS * EVENTS + 1)
        listed = uow.events.list_changed(EventQuery(account_pk=cal.account_pk, limit=2 * EVENTS))
    assert len(rows) == EVENTS
    assert {r.event_id for r in rows} == {f"event-{i}" for i in range(EVENTS)}
    assert len(listed) == EVENTS
    # The account clock: seqs are dense and `updated` never goes back in seq order.
    assert [c.seq for c in log] == list(range(1, len(log) + 1))
    assert all(a.updated <= b.updated for a, b in itertools.pairwise(log))
