"""Listings pulled from scratch are committed a page per transaction
(`calsync.sync.paged`): deletions and the cursor wait for the last one, so a
guard abort or a listing cut short deletes nothing and stores no cursor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calsync.store import Store
from tests.integration.test_sync_engine import SyncHarness, content


@pytest.fixture
def paged(store: Store) -> Iterator[SyncHarness]:
    h = SyncHarness(store)  # page_size 3
    yield h
    h.close()


def change_log_size(harness: SyncHarness) -> int:
    with harness.store.read() as uow:
        return uow.changes.count()


def test_a_guard_abort_after_committed_pages_deletes_nothing(paged: SyncHarness) -> None:
    ids = [
        paged.backend.remote_upsert(paged.cal_remote_id, content(f"old{i}", i)).remote_id
        for i in range(6)
    ]
    assert paged.sync().ok
    with paged.store.write() as uow:  # the next pass reconciles: a full listing
        uow.cursors.clear(paged.calendar().pk)
    for remote_id in ids[:4]:
        paged.backend.remote_delete(paged.cal_remote_id, remote_id)
    for i in range(5):  # pages of new events come before the verdict
        paged.backend.remote_upsert(paged.cal_remote_id, content(f"new{i}", 10 + i))
    logged = change_log_size(paged)

    report = paged.sync()
    [outcome] = report.failed
    assert outcome.mass_delete_aborted and "would delete 4 of 6" in (outcome.error or "")
    assert "would delete 4 of 6" in (paged.calendar().last_error or "")
    # The listed events were committed page by page; the deletions were not.
    expected = [f"new{i}" for i in range(5)] + [f"old{i}" for i in range(6)]
    assert sorted(paged.live_by_summary()) == expected
    assert change_log_size(paged) == logged + 5 and paged.cursor() is None

    report = paged.sync(allow_mass_delete=True)
    assert report.ok and report.calendars[0].upserted == 0  # the pages were kept
    assert paged.calendar().last_error is None and paged.cursor() is not None
    paged.assert_converged()
    assert change_log_size(paged) == logged + 5 + 4


def test_a_first_sync_over_many_pages_stores_everything_once(paged: SyncHarness) -> None:
    for i in range(10):  # four pages
        paged.backend.remote_upsert(paged.cal_remote_id, content(f"e{i}", i))
    report = paged.sync()
    assert report.ok and report.calendars[0].upserted == 10
    paged.assert_converged()
    assert change_log_size(paged) == 10
    assert paged.sync().calendars[0].upserted == 0  # incremental, nothing new
    assert change_log_size(paged) == 10


def test_a_listing_cut_short_keeps_its_pages_but_no_cursor(paged: SyncHarness) -> None:
    for i in range(10):  # four pages of three
        paged.backend.remote_upsert(paged.cal_remote_id, content(f"e{i}", i))
    paged.backend.fail_next_pulls(1, after_pages=2)
    report = paged.sync()
    assert not report.ok
    assert paged.cursor() is None  # the cursor only comes with complete data
    assert len(paged.live_by_summary()) == 6  # two committed pages of three
    logged = change_log_size(paged)
    report = paged.sync()
    assert report.ok and report.calendars[0].upserted == 4
    assert paged.cursor() is not None and change_log_size(paged) == logged + 4
    paged.assert_converged()
