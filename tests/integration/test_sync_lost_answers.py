"""An acknowledged edit is never lost when the answer to a push is lost.

The fault sits exactly where an answer can go missing: the provider applies
the write, then the answer never arrives (a timeout, a dropped connection, the
daemon killed before it records the answer; to the store all three look the
same: the push is still pending). The app then edits the event again, and the
engine syncs. The last acknowledged content must win on both sides, under both
conflict policies, with no conflict recorded and no duplicate.

The memory provider applies the write before raising (`lose_next_write_responses`);
the same faults against real Radicale and the Google fake are in
``test_caldav_lost_answers.py`` and ``test_google_lost_answers.py``, and a real
``kill -9`` of the daemon in ``tests/system/test_daemon_lost_answers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest

from calsync.store import Store
from tests.integration.test_sync_engine import SyncHarness, content

Policy = Literal["remote", "local"]


@pytest.fixture(params=["remote", "local"])
def harness(store: Store, request: pytest.FixtureRequest) -> Iterator[SyncHarness]:
    h = SyncHarness(store, conflict=request.param)
    assert h.sync().ok
    yield h
    h.close()


def settle(h: SyncHarness, passes: int = 3) -> None:
    """Sync until nothing is pending (a refused push re-plans on the next pass)."""
    for _ in range(passes):
        report = h.sync()
        assert report.ok, report.describe_failures()
        if not h.pending():
            return


def assert_holds(h: SyncHarness, summary: str | None) -> None:
    """Both sides hold exactly ``summary`` for the app's event (None: nothing)."""
    remote = sorted(e.content.summary for e in h.remote().values())
    local = sorted(e.content.summary for e in h.events())
    expected = [] if summary is None else [summary]
    assert remote == expected, f"provider holds {remote}"
    assert local == expected, f"store holds {local}"
    assert h.pending() == []
    h.assert_converged()


def no_conflicts(h: SyncHarness) -> None:
    with h.store.read() as uow:
        account = uow.accounts.find_by_name(h.name)
        assert account is not None
        ops = [c.op for c in uow.changes.list_since(account.pk)]
    assert "conflict" not in ops


def lose_the_push(h: SyncHarness) -> None:
    h.backend.lose_next_write_responses(1)
    report = h.sync()
    assert not report.ok  # the answer was lost...
    assert h.pending(), "...so the push is still pending here"


def test_a_create_whose_answer_was_lost_then_edited(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("v1"))
    lose_the_push(harness)
    assert [e.content.summary for e in harness.remote().values()] == ["v1"]  # it landed
    harness.local_upsert("app-1", content("v2"))
    settle(harness)
    assert_holds(harness, "v2")
    no_conflicts(harness)


def test_an_update_whose_answer_was_lost_then_edited(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("v1"))
    settle(harness)
    harness.local_upsert("app-1", content("v2"))
    lose_the_push(harness)
    assert [e.content.summary for e in harness.remote().values()] == ["v2"]
    harness.local_upsert("app-1", content("v3"))
    settle(harness)
    assert_holds(harness, "v3")
    no_conflicts(harness)


def test_a_delete_whose_answer_was_lost_then_written_again(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("v1"))
    settle(harness)
    harness.local_delete("app-1")
    lose_the_push(harness)
    assert harness.remote() == {}
    harness.local_upsert("app-1", content("v2"))
    settle(harness)
    assert_holds(harness, "v2")
    no_conflicts(harness)


def test_a_create_whose_answer_was_lost_then_deleted(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("v1"))
    lose_the_push(harness)
    harness.local_delete("app-1")
    settle(harness)
    assert_holds(harness, None)


def test_an_event_deleted_after_its_delete_was_confirmed_can_be_written_again(
    harness: SyncHarness,
) -> None:
    # No fault at all: delete, sync, write the same event_id again.
    harness.local_upsert("app-1", content("v1"))
    settle(harness)
    harness.local_delete("app-1")
    settle(harness)
    assert harness.remote() == {}
    harness.local_upsert("app-1", content("v2"))
    settle(harness)
    assert_holds(harness, "v2")
    no_conflicts(harness)


def test_answers_lost_twice_in_a_row(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("v1"))
    lose_the_push(harness)
    harness.local_upsert("app-1", content("v2"))
    lose_the_push(harness)
    harness.local_upsert("app-1", content("v3"))
    settle(harness)
    assert_holds(harness, "v3")
    no_conflicts(harness)


def test_a_real_remote_edit_is_still_a_conflict(harness: SyncHarness) -> None:
    """The journal recognises only our own content: somebody else's edit made
    after our lost push is a conflict, settled by the account's policy."""
    harness.local_upsert("app-1", content("v1"))
    lose_the_push(harness)
    [remote_id] = harness.remote()
    harness.backend.remote_upsert(harness.cal_remote_id, content("theirs"), remote_id=remote_id)
    harness.local_upsert("app-1", content("v2"))
    settle(harness)
    winner = "theirs" if harness.account.conflict == "remote" else "v2"
    assert_holds(harness, winner)
    with harness.store.read() as uow:
        account = uow.accounts.find_by_name(harness.name)
        assert account is not None
        ops = [c.op for c in uow.changes.list_since(account.pk)]
    if harness.account.conflict == "local":
        assert "conflict" in ops  # the losing remote version is kept in the change log


def test_the_journal_is_forgotten_once_the_echo_is_pulled(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("v1"))
    lose_the_push(harness)
    harness.local_upsert("app-1", content("v2"))
    settle(harness)
    harness.sync()  # the echo of v2
    with harness.store.read() as uow:
        assert uow.push_journal.for_calendar(harness.calendar().pk) == {}
