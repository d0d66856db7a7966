"""The planner and the base of a pending change, driven by hypothesis.

A listed version whose etag moved but whose content is still the base (the
last version known to be on the provider) is what the pending local change was
made on: the change goes on top (`KeepLocal` with the new etag), under either
policy, never a conflict. A listed version that differs from the base is a
real remote edit: a conflict the policy settles, as before. An unknown base
changes nothing. See `calsync.sync.bases`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calsync.model import Attendee, EventContent, RemoteEvent
from calsync.sync import CalendarState, EventState, Pulled, SyncPolicy, plan
from calsync.sync.actions import Action, KeepLocal, RecordConflict, UpsertFromRemote
from calsync.sync.bases import listed, sent, unchanged_since
from calsync.sync.state import ConflictPolicy

START = datetime(2026, 6, 1, 9, tzinfo=UTC)
SUMMARIES = ["a", "b", "c"]
POLICIES: list[ConflictPolicy] = ["remote", "local"]


def content(summary: str) -> EventContent:
    return EventContent(summary=summary, start=START, end=START + timedelta(hours=1))


def normalised(c: EventContent) -> EventContent:
    """The same version as a provider lists it back: it sets the organizer and
    a colour, fields outside the round-trip view (`round_trip_view`)."""
    return replace(c, organizer=Attendee("owner@example.com"), color="7")


def pending(local: EventContent | None, base: str | None) -> EventState:
    """The app's event ``r1``: edited here to ``local`` (None: deleted), stored
    etag ``"1"``, with ``base`` as the provider's version it was made on."""
    return EventState(
        "evt_1",
        "r1",
        (local or content("a")).fingerprint(),
        etag='"1"',
        managed=True,
        deleted=local is None,
        pending_op="delete" if local is None else "update",
        change_seq=9,
        base=base,
    )


def planned(local: EventState, listed_version: RemoteEvent, policy: ConflictPolicy) -> list[Action]:
    pulled = Pulled(changed=(listed_version,), final=True)
    return plan(CalendarState((local,)), pulled, SyncPolicy(conflict=policy))


local_versions = st.sampled_from([*SUMMARIES, None])


@given(
    st.sampled_from(SUMMARIES),
    local_versions,
    st.booleans(),
    st.sampled_from(POLICIES),
)
def test_an_etag_only_bump_under_a_pending_change_keeps_the_local_version(
    base_summary: str, local_summary: str | None, pushed: bool, policy: ConflictPolicy
) -> None:
    local_content = None if local_summary is None else content(local_summary)
    base_content = content(base_summary)
    # The base became known from a listing (exact), or from our confirmed push
    # (the content sent), in which case the provider lists its own form of it.
    base = sent(base_content) if pushed else listed(base_content)
    on_provider = normalised(base_content) if pushed else base_content
    bumped = RemoteEvent("r1", on_provider, etag='"2"')
    actions = planned(pending(local_content, base), bumped, policy)
    if local_content is not None and local_content.fingerprint() == on_provider.fingerprint():
        # Both sides already agree: recorded quietly, nothing to push.
        assert [type(a) for a in actions] == [UpsertFromRemote]
        return
    assert actions == [KeepLocal("evt_1", "r1", '"2"', listed(on_provider))]


@given(
    st.sampled_from(SUMMARIES),
    st.sampled_from(SUMMARIES),
    local_versions,
    st.booleans(),
    st.sampled_from(POLICIES),
)
def test_a_real_remote_edit_under_a_pending_change_is_a_conflict_the_policy_settles(
    base_summary: str,
    remote_summary: str,
    local_summary: str | None,
    pushed: bool,
    policy: ConflictPolicy,
) -> None:
    local_content = None if local_summary is None else content(local_summary)
    base_content = content(base_summary)
    edited = content(remote_summary)
    if remote_summary == base_summary:
        edited = replace(edited, description="edited elsewhere")
    if local_content is not None and local_content.fingerprint() == edited.fingerprint():
        return  # both sides made the same edit: no conflict to settle
    base = sent(base_content) if pushed else listed(base_content)
    remote = RemoteEvent("r1", edited, etag='"2"')
    actions = planned(pending(local_content, base), remote, policy)
    assert actions[0] == RecordConflict("evt_1", policy, remote)
    if policy == "local":
        assert actions[1:] == [KeepLocal("evt_1", "r1", '"2"', listed(edited))]
    else:
        assert [type(a) for a in actions[1:]] == [UpsertFromRemote]


@given(local_versions, st.sampled_from(POLICIES))
def test_an_edit_outside_the_round_trip_view_is_still_an_edit_against_a_listed_base(
    local_summary: str | None, policy: ConflictPolicy
) -> None:
    # A listed base is exact: a colour changed elsewhere is somebody's edit.
    local_content = None if local_summary is None else content(local_summary)
    base_content = content("a")
    recoloured = RemoteEvent("r1", replace(base_content, color="3"), etag='"2"')
    actions = planned(pending(local_content, listed(base_content)), recoloured, policy)
    assert actions[0] == RecordConflict("evt_1", policy, recoloured)


@given(local_versions, st.sampled_from(POLICIES))
def test_an_unknown_base_keeps_the_old_rule(
    local_summary: str | None, policy: ConflictPolicy
) -> None:
    local_content = None if local_summary is None else content(local_summary)
    bumped = RemoteEvent("r1", content("c"), etag='"2"')
    if local_summary == "c":
        return
    actions = planned(pending(local_content, None), bumped, policy)
    assert actions[0] == RecordConflict("evt_1", policy, bumped)


def test_a_base_belongs_to_its_remote_event() -> None:
    # The same content under another remote id is another event: not this base.
    local = replace(pending(content("b"), listed(content("a"))), remote_id=None)
    other = RemoteEvent("r2", content("a"), etag='"2"', origin_event_uid="evt_1")
    [conflict, _] = planned(local, other, "local")
    assert isinstance(conflict, RecordConflict)


def test_bases_compare_exactly_when_listed_and_by_round_trip_when_sent() -> None:
    c = content("a")
    assert unchanged_since(listed(c), c) and not unchanged_since(listed(c), normalised(c))
    assert unchanged_since(sent(c), c) and unchanged_since(sent(c), normalised(c))
    assert not unchanged_since(sent(c), content("b"))
    assert not unchanged_since(None, c)
