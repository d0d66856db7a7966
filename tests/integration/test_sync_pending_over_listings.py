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

from tests.integration import policy_harness
from tests.integration.policy_harness import settle
from tests.integration.test_sync_engine import SyncHarness, content

#: The harness under each conflict policy (a fixture pytest finds by this name).
harness = policy_harness.harness


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
