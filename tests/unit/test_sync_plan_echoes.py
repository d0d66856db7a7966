"""The planner and the push journal, driven by hypothesis.

A version the provider lists that equals one of our recorded pushes is our own
write coming back (its answer may have been lost): it is never a conflict, and
it never overwrites a newer pending change. A listed version that equals none
of them is planned exactly as if no push had been recorded.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calsync.model import EventContent, RemoteEvent, round_trip_key
from calsync.sync import CalendarState, EventState, Pulled, SyncPolicy, plan
from calsync.sync.actions import (
    Action,
    ForgetPushes,
    KeepLocal,
    RecordConflict,
    RecreateRemote,
    TombstoneFromRemote,
    UpsertFromRemote,
)
from calsync.sync.state import PendingOp, PushedVersion

START = datetime(2026, 6, 1, 9, tzinfo=UTC)
REMOTE_IDS = [f"r{i}" for i in range(6)]
SUMMARIES = ["a", "b", "c", "d"]
ETAGS = ['"1"', '"2"']


def content(summary: str) -> EventContent:
    return EventContent(summary=summary, start=START, end=START + timedelta(hours=1))


KEYS = {s: round_trip_key(content(s)) for s in SUMMARIES}
FINGERPRINTS = {s: content(s).fingerprint() for s in SUMMARIES}
OPS: list[PendingOp] = ["create", "update", "delete"]


@st.composite
def pushes(draw: st.DrawFn, change_seq: int) -> tuple[PushedVersion, ...]:
    count = draw(st.integers(0, 3))
    seqs = sorted(draw(st.lists(st.integers(1, change_seq), min_size=count, max_size=count)))
    versions = []
    for seq in seqs:
        op = draw(st.sampled_from(OPS))
        key = None if op == "delete" else KEYS[draw(st.sampled_from(SUMMARIES))]
        versions.append(PushedVersion(seq, op, key))
    return tuple(versions)


@st.composite
def states(draw: st.DrawFn) -> CalendarState:
    remote_ids = draw(st.lists(st.sampled_from(REMOTE_IDS), unique=True, max_size=5))
    events = []
    for index, remote_id in enumerate(remote_ids):
        kind = draw(st.sampled_from(["synced", "tombstone", "update", "create", "delete"]))
        seq = draw(st.integers(1, 6))
        events.append(
            EventState(
                event_uid=f"evt_{index}",
                remote_id=remote_id,
                fingerprint=FINGERPRINTS[draw(st.sampled_from(SUMMARIES))],
                etag=draw(st.sampled_from(ETAGS)),
                managed=True,
                deleted=kind in ("tombstone", "delete"),
                pending_op=None if kind in ("synced", "tombstone") else kind,  # type: ignore[arg-type]
                change_seq=seq,
                pushes=draw(pushes(seq)),
            )
        )
    return CalendarState(tuple(events))


listed = st.builds(
    lambda rid, summary, etag: RemoteEvent(rid, content(summary), etag=etag),
    st.sampled_from(REMOTE_IDS),
    st.sampled_from(SUMMARIES),
    st.sampled_from(ETAGS),
)


@st.composite
def pulls(draw: st.DrawFn) -> Pulled:
    full = draw(st.booleans())
    return Pulled(
        changed=tuple(draw(st.lists(listed, max_size=6, unique_by=lambda e: e.remote_id))),
        deleted=() if full else tuple(draw(st.lists(st.sampled_from(REMOTE_IDS), max_size=3))),
        cursor="c1",
        full_listing=full,
        from_scratch=full,
        final=True,
    )


policies = st.builds(
    SyncPolicy,
    conflict=st.sampled_from(["remote", "local"]),
    allow_mass_delete=st.just(True),
)


def by_uid(state: CalendarState) -> dict[str, EventState]:
    return {e.event_uid: e for e in state.events}


def by_remote(state: CalendarState) -> dict[str, EventState]:
    return {e.remote_id: e for e in state.events if e.remote_id is not None}


def ours(local: EventState, event: RemoteEvent) -> PushedVersion | None:
    key = round_trip_key(event.content)
    matching = [p for p in local.pushes if p.op != "delete" and p.content_key == key]
    return matching[-1] if matching else None


def conflicts(actions: list[Action]) -> set[str]:
    return {a.event_uid for a in actions if isinstance(a, RecordConflict)}


@given(states(), pulls(), policies)
def test_our_own_push_coming_back_is_never_a_conflict(
    state: CalendarState, pulled: Pulled, policy: SyncPolicy
) -> None:
    actions = plan(state, pulled, policy)
    stored = by_remote(state)
    for event in pulled.changed:
        local = stored.get(event.remote_id)
        if local is None or ours(local, event) is None:
            continue
        assert local.event_uid not in conflicts(actions), (local, event)


@given(states(), pulls(), policies)
def test_our_echo_never_overwrites_a_newer_pending_change(
    state: CalendarState, pulled: Pulled, policy: SyncPolicy
) -> None:
    actions = plan(state, pulled, policy)
    stored = by_remote(state)
    dropping = {
        a.event.remote_id for a in actions if isinstance(a, UpsertFromRemote) and a.drop_pending
    }
    keeping = {a.event_uid for a in actions if isinstance(a, KeepLocal)}
    for event in pulled.changed:
        local = stored.get(event.remote_id)
        if local is None or local.pending_op is None:
            continue
        push = ours(local, event)
        if push is None or local.fingerprint == event.content.fingerprint():
            continue
        if push.seq == local.change_seq and local.live:
            assert event.remote_id in dropping  # the pending version itself landed
        else:
            assert event.remote_id not in dropping
            # The push goes on: on top of the provider's version (its identity
            # adopted), or as planned when that is the version it is based on.
            based_on = local.etag == event.etag
            assert local.event_uid in keeping or based_on


@given(states(), pulls(), policies)
def test_pushes_matching_no_listed_version_change_nothing_but_forgetting(
    state: CalendarState, pulled: Pulled, policy: SyncPolicy
) -> None:
    listed_keys = {round_trip_key(e.content) for e in pulled.changed}
    foreign = CalendarState(
        tuple(
            replace(
                e,
                pushes=tuple(
                    p for p in e.pushes if p.op != "delete" and p.content_key not in listed_keys
                ),
            )
            for e in state.events
        )
    )
    without = CalendarState(tuple(replace(e, pushes=()) for e in state.events))
    with_pushes = [a for a in plan(foreign, pulled, policy) if not isinstance(a, ForgetPushes)]
    assert with_pushes == plan(without, pulled, policy)


@given(states(), pulls(), policies)
def test_a_pull_forgets_the_pushes_of_every_event_it_names(
    state: CalendarState, pulled: Pulled, policy: SyncPolicy
) -> None:
    actions = plan(state, pulled, policy)
    forgotten = {a.event_uid for a in actions if isinstance(a, ForgetPushes)}
    stored = by_remote(state)
    for event in pulled.changed:
        local = stored.get(event.remote_id)
        if local is not None and local.pushes:
            assert local.event_uid in forgotten
    uids = by_uid(state)
    assert forgotten <= {uid for uid, e in uids.items() if e.pushes}


@given(states(), policies, st.sampled_from(["update", "create"]))
def test_our_delete_coming_back_sends_a_later_write_as_a_new_event(
    state: CalendarState, policy: SyncPolicy, op: PendingOp
) -> None:
    local = EventState(
        event_uid="evt_x",
        remote_id="rx",
        fingerprint=FINGERPRINTS["b"],
        managed=True,
        pending_op=op,
        change_seq=5,
        pushes=(PushedVersion(3, "delete"),),
    )
    full = Pulled(changed=(), deleted=("rx",), cursor="c1", final=True)
    actions = plan(CalendarState((*state.events, local)), full, policy)
    assert RecreateRemote("evt_x") in actions
    assert "evt_x" not in conflicts(actions)
    assert not any(isinstance(a, TombstoneFromRemote) and a.event_uid == "evt_x" for a in actions)
