"""What a listing's silence does not settle: a pending delete under an empty
complete listing, and an event queued as a create (its remote id, if any,
names an earlier incarnation). Driven by hypothesis over both policies and
both ways a complete listing is planned (whole, or page by page)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calsync.model import EventContent, RemoteEvent
from calsync.sync import CalendarState, EventState, Pulled, SyncPolicy, plan
from calsync.sync.actions import (
    AbortMassDelete,
    Action,
    DropPendingPush,
    RecordConflict,
    TombstoneFromRemote,
)
from calsync.sync.planner import plan_listing_end
from calsync.sync.state import ConflictPolicy
from tests.unit.plan_scenarios import complete_end

START = datetime(2026, 6, 1, 9, tzinfo=UTC)
FINGERPRINT = EventContent(summary="a", start=START, end=START + timedelta(hours=1)).fingerprint()
POLICIES: list[ConflictPolicy] = ["remote", "local"]


def complete_listing(
    state: CalendarState, policy: SyncPolicy, listed: tuple[RemoteEvent, ...], paged: bool
) -> list[Action]:
    if paged:
        end = complete_end(state, (e.remote_id for e in listed))
        return plan_listing_end(state, end, policy)
    pulled = Pulled(changed=listed, cursor="c", full_listing=True, final=True)
    return plan(state, pulled, policy)


def others(listed: bool) -> tuple[RemoteEvent, ...]:
    content = EventContent(summary="x", start=START, end=START + timedelta(hours=1))
    return (RemoteEvent("r9", content, etag='"1"'),) if listed else ()


@given(st.sampled_from(POLICIES), st.booleans(), st.booleans())
def test_an_empty_complete_listing_never_settles_a_pending_delete(
    conflict: ConflictPolicy, paged: bool, allow: bool
) -> None:
    deleted = EventState(
        "evt_1", "r1", FINGERPRINT, etag='"1"', managed=True, deleted=True, pending_op="delete"
    )
    policy = SyncPolicy(conflict=conflict, allow_mass_delete=allow)
    actions = complete_listing(CalendarState((deleted,)), policy, (), paged)
    assert actions == []  # the delete stays pending, to be pushed; no cursor either


@given(st.sampled_from(POLICIES), st.booleans())
def test_a_non_empty_complete_listing_still_settles_a_pending_delete(
    conflict: ConflictPolicy, paged: bool
) -> None:
    deleted = EventState(
        "evt_1", "r1", FINGERPRINT, etag='"1"', managed=True, deleted=True, pending_op="delete"
    )
    policy = SyncPolicy(conflict=conflict)
    actions = complete_listing(CalendarState((deleted,)), policy, others(True), paged)
    assert DropPendingPush("evt_1", 0) in actions  # deleted on both sides


@given(st.sampled_from(POLICIES), st.booleans(), st.booleans(), st.booleans())
def test_an_event_queued_as_a_create_is_never_gone_nor_at_stake(
    conflict: ConflictPolicy, paged: bool, listed: bool, explicit: bool
) -> None:
    # Deleted there, written again here: a create carrying the old remote id.
    again = EventState("evt_1", "r1", FINGERPRINT, managed=True, pending_op="create")
    policy = SyncPolicy(conflict=conflict)
    state = CalendarState((again,))
    if explicit:
        actions = plan(state, Pulled(deleted=("r1",), cursor="c", final=True), policy)
    else:
        actions = complete_listing(state, policy, others(listed), paged)
    # No abort (nothing live on the provider is at stake), no tombstone, no conflict.
    unwanted = (AbortMassDelete, TombstoneFromRemote, RecordConflict)
    assert not any(isinstance(a, unwanted) for a in actions)
