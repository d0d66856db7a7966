"""Pending local changes that a listing's silence must not settle (found by
``test_sync_statemachine.py``; both failed before the fix on SQLite and PostgreSQL).

* An app's delete pending when a complete listing comes back empty: an empty
  listing is the classic outage, not "deleted on both sides", so the delete is
  still pushed (it used to be dropped, leaving the event on the provider).
* An event deleted, then written again by the app: queued as a create, it keeps
  the remote id of the incarnation that is gone. A complete listing without
  that id says nothing about the new version (it used to be taken for "edited
  here, deleted there", and under ``conflict = "remote"`` the app's write was
  tombstoned).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calsync.store import Store
from tests.integration.test_sync_engine import SyncHarness, content


@pytest.fixture(params=["remote", "local"])
def harness(store: Store, request: pytest.FixtureRequest) -> Iterator[SyncHarness]:
    h = SyncHarness(store, conflict=request.param)
    yield h
    h.close()


def settle(h: SyncHarness) -> int:
    """Sync until nothing is pending; returns the conflicts recorded on the way."""
    conflicts = 0
    for _ in range(4):
        report = h.sync()
        assert report.ok, report.describe_failures()
        conflicts += sum(c.conflicts for c in report.calendars)
        if not h.pending():
            break
    h.assert_converged()
    return conflicts


def test_a_pending_delete_survives_an_empty_listing(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("standup", 5))
    settle(harness)
    assert harness.cursor() is None  # an empty calendar's listing stores no cursor
    harness.local_delete("app-1")
    harness.backend.truncate_next_listing(mode="empty")
    report = harness.sync()
    assert report.ok, report.describe_failures()
    assert harness.remote() == {}  # the delete reached the provider
    assert settle(harness) == 0
    assert harness.events() == []


def test_an_event_written_again_after_its_delete_is_created_again(harness: SyncHarness) -> None:
    # The state machine's sequence: the calendar's listings stay empty, so no
    # cursor is ever stored and every pass is a complete listing.
    harness.local_upsert("app-1", content("standup", 5))
    settle(harness)
    harness.local_delete("app-1")
    harness.backend.truncate_next_listing(0.0, mode="partial")
    assert harness.sync().ok  # the delete is pushed
    settle(harness)  # the empty listing shows it landed: the push journal forgets it
    assert harness.remote() == {} and harness.cursor() is None
    harness.local_upsert("app-1", content("standup", 5))
    assert settle(harness) == 0
    assert [e.content.summary for e in harness.events()] == ["standup"]
    assert harness.remote_summaries() == ["standup"]
