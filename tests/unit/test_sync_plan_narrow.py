"""Incremental passes plan against a narrow state (`calsync.sync.state.mentioned`):
the planner must decide exactly what it decides with the whole calendar; and a
listing planned page by page must end where planning it whole ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.model import EventContent, RemoteEvent
from calsync.providers.base import PullPage
from calsync.sync import CalendarState, EventState, Pulled, SyncPolicy, plan
from calsync.sync.actions import (
    AbortMassDelete,
    AdvanceCursor,
    TombstoneFromRemote,
    UpsertFromRemote,
)
from calsync.sync.planner import plan_listing_end
from calsync.sync.state import ListingEnd, PendingOp, mentioned
from tests.unit.plan_scenarios import complete_end

START = datetime(2026, 6, 1, 9, tzinfo=UTC)
REMOTE_IDS = [f"r{i}" for i in range(12)]
SUMMARIES = ["a", "b"]
ETAGS = ['"1"', '"2"']


def content(summary: str) -> EventContent:
    return EventContent(summary=summary, start=START, end=START + timedelta(hours=1))


FINGERPRINTS = {s: content(s).fingerprint() for s in SUMMARIES}
PENDING: dict[str, PendingOp] = {"update": "update", "delete": "delete", "echo-pending": "update"}
KINDS = ["synced", "synced", "tombstone", "update", "delete", "unconfirmed", "echo-pending"]


@st.composite
def calendars(draw: st.DrawFn) -> CalendarState:
    """Stored events with series (one level), unconfirmed creates, pending pushes."""
    remote_ids = draw(st.lists(st.sampled_from(REMOTE_IDS), unique=True, max_size=10))
    events: list[EventState] = []
    for index, remote_id in enumerate(remote_ids):
        kind = draw(st.sampled_from(KINDS))
        masters = [e.remote_id for e in events if e.master_remote_id is None]
        master = draw(st.none() | st.sampled_from(masters)) if masters else None
        events.append(
            EventState(
                event_uid=f"evt_{index}",
                remote_id=remote_id,
                fingerprint=FINGERPRINTS[draw(st.sampled_from(SUMMARIES))],
                etag=None
                if kind == "unconfirmed" and draw(st.booleans())
                else draw(st.sampled_from(ETAGS)),
                managed=kind in ("update", "delete", "unconfirmed", "echo-pending"),
                deleted=kind in ("tombstone", "delete"),
                pending_op=PENDING.get(kind),
                change_seq=index + 1,
                master_remote_id=master,
                unconfirmed=kind in ("unconfirmed", "echo-pending"),
            )
        )
    for extra in range(draw(st.integers(0, 2))):  # pending creates, never pushed
        events.append(
            EventState(
                event_uid=f"evt_new{extra}",
                remote_id=None,
                fingerprint=FINGERPRINTS["a"],
                managed=True,
                pending_op="create",
                change_seq=100 + extra,
            )
        )
    return CalendarState(tuple(events))


@st.composite
def remote_events(draw: st.DrawFn) -> RemoteEvent:
    return RemoteEvent(
        draw(st.sampled_from(REMOTE_IDS)),
        content(draw(st.sampled_from(SUMMARIES))),
        etag=draw(st.sampled_from(ETAGS)),
        master_remote_id=draw(st.none() | st.sampled_from(REMOTE_IDS)),
        origin_event_uid=draw(st.none() | st.sampled_from(["evt_new0", "evt_new1", "evt_0"])),
    )


@st.composite
def incremental_pulls(draw: st.DrawFn) -> Pulled:
    return Pulled(
        changed=tuple(draw(st.lists(remote_events(), max_size=6))),
        deleted=tuple(draw(st.lists(st.sampled_from(REMOTE_IDS), max_size=4))),
        cursor=draw(st.none() | st.just("c2")),
        from_scratch=draw(st.booleans()),
        unchanged=draw(st.booleans()),
        final=True,
    )


policies = st.builds(
    SyncPolicy,
    conflict=st.sampled_from(["remote", "local"]),
    max_delete_fraction=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    mass_delete_min_events=st.sampled_from([1, 4]),
    allow_mass_delete=st.booleans(),
    expect_echoes=st.booleans(),
    series_as_unit=st.booleans(),
)


def narrow(state: CalendarState, pulled: Pulled) -> CalendarState:
    """What `EventRepo.sync_states_near` selects, over planner states."""
    remote_ids, event_uids = mentioned(pulled)
    found = {
        e.event_uid
        for e in state.events
        if e.remote_id in remote_ids
        or e.event_uid in event_uids
        or e.pending_op is not None
        or (e.managed and e.live and e.remote_id is not None and (e.etag is None or e.unconfirmed))
    }
    found_rids = {e.remote_id for e in state.events if e.event_uid in found and e.remote_id}
    found |= {e.event_uid for e in state.events if e.master_remote_id in found_rids}
    masters = {e.master_remote_id for e in state.events if e.event_uid in found}
    found |= {
        e.event_uid for e in state.events if e.remote_id is not None and e.remote_id in masters
    }
    events = tuple(e for e in state.events if e.event_uid in found)
    return CalendarState(events, complete=False, live=state.live_count())


@given(calendars(), incremental_pulls(), policies)
def test_a_narrow_state_plans_like_the_whole_calendar(
    state: CalendarState, pulled: Pulled, policy: SyncPolicy
) -> None:
    assert plan(narrow(state, pulled), pulled, policy) == plan(state, pulled, policy)


def test_a_full_listing_refuses_a_narrow_state() -> None:
    pulled = Pulled(cursor="c", full_listing=True, from_scratch=True, final=True)
    with pytest.raises(ValueError):
        plan(CalendarState(complete=False, live=0), pulled, SyncPolicy())


@given(calendars(), st.lists(remote_events(), max_size=8), policies)
def test_a_listing_ends_like_one_planned_whole(
    state: CalendarState, listed: list[RemoteEvent], policy: SyncPolicy
) -> None:
    """The end's absences, guard and cursor are the whole plan's; the listed
    events' upserts are the pages' (none of them pending here: no conflicts)."""
    pending = {e.remote_id for e in state.events if e.pending_op is not None}
    latest = {e.remote_id: replace(e, origin_event_uid=None) for e in listed}
    listed = [e for e in latest.values() if e.remote_id not in pending]
    pulled = Pulled(
        changed=tuple(listed), cursor="c", full_listing=True, from_scratch=True, final=True
    )
    whole = [a for a in plan(state, pulled, policy) if not isinstance(a, UpsertFromRemote)]
    end = complete_end(state, (e.remote_id for e in listed))
    assert plan_listing_end(state, end, policy) == whole


def test_the_end_guards_the_pages_tombstones_too() -> None:
    state = CalendarState(tuple(EventState(f"e{i}", f"r{i}", "f") for i in range(10)))
    end = ListingEnd(frozenset({"r0"}), frozenset(), True, "c", live_before=10, tombstoned=4)
    actions = plan_listing_end(state, end, SyncPolicy(max_delete_fraction=0.5))
    # 4 from the pages + 9 absent (tombstones already made count again only once
    # they are live: here the state still has them live) -> refused.
    assert len(actions) == 1 and isinstance(actions[0], AbortMassDelete)
    few = ListingEnd(frozenset(f"r{i}" for i in range(8)), frozenset(), True, "c", 10, 1)
    actions = plan_listing_end(state, few, SyncPolicy(max_delete_fraction=0.5))
    assert sum(isinstance(a, TombstoneFromRemote) for a in actions) == 2
    assert isinstance(actions[-1], AdvanceCursor) and actions[-1].full_sync_completed


def test_pages_are_plain_provider_pages() -> None:
    page = PullPage(changed=(RemoteEvent("r1", content("a")),), final=True, cursor="c")
    assert Pulled().add(page).cursor == "c"
