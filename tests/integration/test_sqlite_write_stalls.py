"""A first full sync must not stall API writes (issue #16): during a
10,000-event first sync on SQLite, 100 upserts over real HTTP all succeed,
and they finish while the listing is still in progress (it waits for them
half-way: with the write lock held across the listing they could not)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.fixtures.api import run_api_server
from tests.integration.listing_stall import run_listing_with_writes


@pytest.mark.timeout(600)
def test_api_writes_succeed_during_a_10k_event_first_sync(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stall.db'}"
    with run_api_server(url) as server:
        run = run_listing_with_writes(server, events=10_000, writes=100, hold_at_page=20)
        assert run.errors == []
        assert run.statuses == [202] * 100
        assert run.writes_done_mid_listing
        assert run.report is not None and run.report.ok, run.report
        assert run.report.calendars[0].upserted == 10_000
    with sqlite3.connect(tmp_path / "stall.db") as db:
        (live,) = db.execute("SELECT count(*) FROM events WHERE NOT deleted").fetchone()
    assert live == 10_000 + 100
