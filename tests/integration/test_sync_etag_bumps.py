"""An etag that moves without the content moving is not somebody's edit.

Real servers hand out new etags for versions nobody edited (Google after
touching internal fields, CalDAV servers after a re-index). When the app edits
an event while such a bump is on its way, the next pull lists the provider's
version with a new etag and the *old* content: that content is the base the
app's edit was made on, so the edit goes on top. It used to be taken for a
concurrent remote edit, and under ``conflict = "remote"`` the app's
acknowledged write was reverted (found by ``test_sync_statemachine.py``).

A real remote edit against a pending local edit is still a conflict the
account's policy decides (``test_sync_engine.py`` covers that path; one case is
repeated here after a bump, so the base is known and still not trusted blindly).
"""

from __future__ import annotations

from typing import Literal

from tests.integration import policy_harness
from tests.integration.policy_harness import settle
from tests.integration.test_sync_engine import SyncHarness, content

#: The harness under each conflict policy (a fixture pytest finds by this name).
harness = policy_harness.harness

Policy = Literal["remote", "local"]


def summaries(h: SyncHarness) -> tuple[list[str], list[str]]:
    return (
        sorted(e.content.summary for e in h.events()),
        h.remote_summaries(),
    )


def test_an_edit_made_before_an_etag_only_bump_is_pulled_is_kept(harness: SyncHarness) -> None:
    # The state machine's failing sequence, step for step.
    harness.local_upsert("app-1", content("lunch", 5))
    settle(harness)
    settle(harness)
    harness.backend.bump_etags()
    harness.local_upsert("app-1", content("standup", 5))
    # Not a conflict under either policy: nobody else touched the event.
    assert settle(harness) == 0

    assert summaries(harness) == (["standup"], ["standup"])


def test_a_local_delete_made_before_an_etag_only_bump_is_pulled_stands(
    harness: SyncHarness,
) -> None:
    harness.local_upsert("app-1", content("lunch", 5))
    settle(harness)
    settle(harness)
    harness.backend.bump_etags()
    harness.local_delete("app-1")
    assert settle(harness) == 0

    assert summaries(harness) == ([], [])


def test_a_real_remote_edit_after_a_bump_is_still_a_conflict(harness: SyncHarness) -> None:
    harness.local_upsert("app-1", content("lunch", 5))
    settle(harness)
    harness.backend.bump_etags()
    settle(harness)  # the bump is pulled: the base is the provider's version
    [stored] = harness.events()
    assert stored.remote_id is not None
    harness.local_upsert("app-1", content("standup", 5))
    harness.backend.remote_upsert(
        harness.cal_remote_id, content("review", 5), remote_id=stored.remote_id
    )
    harness.backend.bump_etags()
    assert settle(harness) == 1

    winner = "review" if harness.account.conflict == "remote" else "standup"
    assert summaries(harness) == ([winner], [winner])
