"""The pure planner, driven by hypothesis: deletions, conflicts, the mass-delete guard, cursors."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from calsync.model import EventContent, RemoteEvent
from calsync.sync import CalendarState, EventState, Pulled, SyncPolicy, plan
from calsync.sync.actions import (
    AbortMassDelete,
    Action,
    AdvanceCursor,
    DropPendingPush,
    KeepLocal,
    RecordConflict,
    RecreateRemote,
    TombstoneFromRemote,
    UpsertFromRemote,
)

START = datetime(2026, 6, 1, 9, tzinfo=UTC)
REMOTE_IDS = [f"r{i}" for i in range(10)]
SUMMARIES = ["a", "b", "c"]
ETAGS = ['"1"', '"2"', '"3"']


def content(summary: str) -> EventContent:
    return EventContent(summary=summary, start=START, end=START + timedelta(hours=1))


FINGERPRINTS = {s: content(s).fingerprint() for s in SUMMARIES}


@st.composite
def event_states(draw: st.DrawFn) -> CalendarState:
    """A consistent stored state: unique uids and remote ids, pending ops the store can make."""
    remote_ids = draw(st.lists(st.sampled_from(REMOTE_IDS), unique=True, max_size=8))
    events = []
    for index, remote_id in enumerate(remote_ids):
        kind = draw(st.sampled_from(["synced", "synced", "tombstone", "update", "delete"]))
        events.append(
            EventState(
                event_uid=f"evt_{index}",
                remote_id=remote_id,
                fingerprint=FINGERPRINTS[draw(st.sampled_from(SUMMARIES))],
                etag=draw(st.sampled_from(ETAGS)),
                managed=kind in ("update", "delete"),
                deleted=kind in ("tombstone", "delete"),
                pending_op="update" if kind == "update" else "delete" if kind == "delete" else None,
                change_seq=index + 1,
            )
        )
    for extra in range(draw(st.integers(0, 2))):  # pending creates: never pushed yet
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


remote_events = st.builds(
    lambda rid, summary, etag: RemoteEvent(rid, content(summary), etag=etag),
    st.sampled_from(REMOTE_IDS),
    st.sampled_from(SUMMARIES),
    st.sampled_from(ETAGS),
)


@st.composite
def pulls(draw: st.DrawFn, *, full_listing: bool | None = None) -> Pulled:
    full = draw(st.booleans()) if full_listing is None else full_listing
    changed = draw(st.lists(remote_events, max_size=8))
    deleted = [] if full else draw(st.lists(st.sampled_from(REMOTE_IDS), max_size=4))
    cursor = draw(st.none() | st.just("c1"))
    return Pulled(
        changed=tuple(changed),
        deleted=tuple(deleted),
        cursor=cursor,
        full_listing=full and cursor is not None,
        from_scratch=full,
        final=True,
    )


policies = st.builds(
    SyncPolicy,
    conflict=st.sampled_from(["remote", "local"]),
    max_delete_fraction=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    allow_mass_delete=st.booleans(),
)


def tombstoned(actions: list[Action]) -> set[str]:
    return {a.remote_id for a in actions if isinstance(a, TombstoneFromRemote)}


@given(event_states(), pulls(full_listing=False), policies)
def test_a_partial_listing_deletes_only_what_the_provider_names(
    state: CalendarState, pulled: Pulled, policy: SyncPolicy
) -> None:
    actions = plan(state, pulled, policy)
    assert tombstoned(actions) <= set(pulled.deleted)
    without_deletions = Pulled(changed=pulled.changed, cursor=pulled.cursor, final=True)
    assert tombstoned(plan(state, without_deletions, policy)) == set()


@given(event_states(), policies)
def test_an_empty_listing_never_deletes_nor_stores_its_cursor(
    state: CalendarState, policy: SyncPolicy
) -> None:
    for full in (False, True):
        pulled = Pulled(cursor="c1", full_listing=full, final=True)
        actions = plan(state, pulled, policy)
        assert tombstoned(actions) == set() or policy.allow_mass_delete
        if full:
            assert not any(isinstance(a, AdvanceCursor) for a in actions)
    remote_backed = any(e.live and e.remote_id for e in state.events)
    actions = plan(state, Pulled(cursor="c1", full_listing=True, final=True), policy)
    if remote_backed and not policy.allow_mass_delete:
        assert len(actions) == 1 and isinstance(actions[0], AbortMassDelete)


@given(event_states(), pulls(full_listing=True), st.sampled_from(["remote", "local"]))
def test_a_full_listing_tombstones_exactly_the_absent_events(
    state: CalendarState, pulled: Pulled, conflict: str
) -> None:
    assume(pulled.full_listing and pulled.changed)
    policy = SyncPolicy(conflict=conflict, allow_mass_delete=True)  # type: ignore[arg-type]
    actions = plan(state, pulled, policy)
    listed = {e.remote_id for e in pulled.changed}
    absent = [e for e in state.events if e.live and e.remote_id and e.remote_id not in listed]
    expected = {e.remote_id for e in absent if e.pending_op is None}
    edited_here = {e.remote_id for e in absent if e.pending_op == "update"}
    if conflict == "remote":
        expected |= edited_here
    else:
        recreated = {a.event_uid for a in actions if isinstance(a, RecreateRemote)}
        assert recreated == {e.event_uid for e in absent if e.pending_op == "update"}
    assert tombstoned(actions) == expected
    # Never-pushed events are never considered gone.
    never_pushed = {e.event_uid for e in state.events if e.remote_id is None}
    touched = {getattr(a, "event_uid", None) for a in actions}
    assert not never_pushed & touched


@given(event_states(), pulls(), policies)
def test_the_guard_stands_alone_and_the_cursor_moves_only_without_it(
    state: CalendarState, pulled: Pulled, policy: SyncPolicy
) -> None:
    actions = plan(state, pulled, policy)
    aborts = [a for a in actions if isinstance(a, AbortMassDelete)]
    cursors = [a for a in actions if isinstance(a, AdvanceCursor)]
    if aborts:
        assert actions == aborts and len(aborts) == 1
    else:
        empty_listing = pulled.full_listing and not pulled.changed
        assert len(cursors) == (pulled.cursor is not None and not empty_listing)
        if cursors:
            assert actions[-1] == cursors[0]
    for conflict in (a for a in actions if isinstance(a, RecordConflict)):
        local = next(e for e in state.events if e.event_uid == conflict.event_uid)
        assert local.pending_op is not None  # only local edits can conflict
        assert conflict.winner == policy.conflict


@given(
    live=st.integers(0, 12),
    kept=st.integers(1, 12),
    fraction=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.75, 1.0]),
)
def test_the_mass_delete_guard_triggers_iff_the_fraction_is_exceeded(
    live: int, kept: int, fraction: float
) -> None:
    kept = min(kept, live)
    events = tuple(
        EventState(f"evt_{i}", f"r{i}", FINGERPRINTS["a"], etag='"1"') for i in range(live)
    )
    listed = tuple(RemoteEvent(f"r{i}", content("a"), etag='"1"') for i in range(kept))
    listed = listed or (RemoteEvent("brand-new", content("a")),)
    pulled = Pulled(changed=listed, cursor="c2", full_listing=True, final=True)
    actions = plan(CalendarState(events), pulled, SyncPolicy(max_delete_fraction=fraction))
    would_delete = live - kept
    expect_abort = live >= 4 and would_delete / live > fraction
    assert any(isinstance(a, AbortMassDelete) for a in actions) == expect_abort
    if not expect_abort:
        assert len(tombstoned(actions)) == would_delete


@given(st.sampled_from(SUMMARIES), st.sampled_from(ETAGS))
def test_our_own_push_coming_back_is_not_a_change(summary: str, etag: str) -> None:
    stored = EventState("evt_1", "r1", FINGERPRINTS[summary], etag=etag, managed=True)
    echo = RemoteEvent("r1", content(summary), etag=etag, origin_event_uid="evt_1")
    actions = plan(CalendarState((stored,)), Pulled(changed=(echo,), final=True), SyncPolicy())
    assert actions == []


@given(st.booleans())
def test_a_pushed_create_missing_from_the_next_incremental_pull_is_gone(listed: bool) -> None:
    pushed = EventState("evt_1", "r1", FINGERPRINTS["a"], etag=None, managed=True)
    echo = RemoteEvent("r1", content("a"), etag='"4"', origin_event_uid="evt_1")
    other = RemoteEvent("r2", content("b"), etag='"5"')
    pulled = Pulled(changed=(echo, other) if listed else (other,), cursor="c", final=True)
    actions = plan(CalendarState((pushed,)), pulled, SyncPolicy(expect_echoes=True))
    assert (TombstoneFromRemote("r1", "evt_1") in actions) == (not listed)
    if listed:  # the echo confirms it: its etag is stored
        assert UpsertFromRemote(echo) in actions
    assert tombstoned(plan(CalendarState((pushed,)), pulled, SyncPolicy())) == set()


def test_a_lost_create_response_is_matched_by_event_uid_and_settled() -> None:
    pending = EventState(
        "evt_1", None, FINGERPRINTS["a"], managed=True, pending_op="create", change_seq=7
    )
    echo = RemoteEvent("r9", content("a"), etag='"5"', origin_event_uid="evt_1")
    [action] = plan(CalendarState((pending,)), Pulled(changed=(echo,), final=True), SyncPolicy())
    assert action == UpsertFromRemote(
        echo, drop_pending=True, local_event_uid="evt_1", local_change_seq=7
    )


def _edited_both_sides() -> tuple[CalendarState, RemoteEvent]:
    local = EventState(
        "evt_1", "r1", FINGERPRINTS["b"], etag='"1"', managed=True, pending_op="update"
    )
    remote = RemoteEvent("r1", content("c"), etag='"2"')
    return CalendarState((local,)), remote


def test_conflict_remote_wins_by_default_and_drops_the_push() -> None:
    state, remote = _edited_both_sides()
    actions = plan(state, Pulled(changed=(remote,), final=True), SyncPolicy())
    assert actions == [
        RecordConflict("evt_1", "remote", remote),
        UpsertFromRemote(remote, drop_pending=True, local_event_uid="evt_1", local_change_seq=0),
    ]


def test_conflict_local_wins_keeps_the_push_with_the_new_etag() -> None:
    state, remote = _edited_both_sides()
    actions = plan(state, Pulled(changed=(remote,), final=True), SyncPolicy(conflict="local"))
    assert actions == [
        RecordConflict("evt_1", "local", remote),
        KeepLocal("evt_1", "r1", '"2"', remote.content.fingerprint()),
    ]


def test_an_unmoved_remote_version_is_not_a_conflict() -> None:
    state, _ = _edited_both_sides()
    same_version = RemoteEvent("r1", content("a"), etag='"1"')
    assert plan(state, Pulled(changed=(same_version,), final=True), SyncPolicy()) == []


@given(st.sampled_from(["remote", "local"]))
def test_deleted_on_both_sides_only_drops_the_push(conflict: str) -> None:
    local = EventState(
        "evt_1", "r1", FINGERPRINTS["a"], deleted=True, pending_op="delete", change_seq=3
    )
    pulled = Pulled(deleted=("r1",), cursor="c", final=True)
    policy = SyncPolicy(conflict=conflict)  # type: ignore[arg-type]
    assert plan(CalendarState((local,)), pulled, policy) == [
        DropPendingPush("evt_1", 3),
        AdvanceCursor("c"),
    ]


def test_pages_accumulate_and_only_the_final_page_counts() -> None:
    from calsync.providers.base import PullPage

    first = PullPage(changed=(RemoteEvent("r1", content("a")),), cursor=None)
    last = PullPage(deleted=("r2",), final=True, cursor="c9", full_listing=True)
    pulled = Pulled.from_pages([first, last], from_scratch=True)
    assert [e.remote_id for e in pulled.changed] == ["r1"]
    assert pulled.deleted == ("r2",) and pulled.cursor == "c9" and pulled.full_listing
    assert pulled.final and pulled.pages == 2


# -- series: masters and their overrides ---------------------------------------------------

MASTERS = ["/cal/a.ics", "/cal/b.ics", "/cal/c.ics"]


@st.composite
def series_states(draw: st.DrawFn) -> CalendarState:
    """Masters (CalDAV hrefs) with overrides ``href#RID`` stored under them."""
    events: list[EventState] = []
    for m_index, master in enumerate(MASTERS):
        if not draw(st.booleans()):
            continue
        events.append(EventState(f"evt_m{m_index}", master, FINGERPRINTS["a"], etag='"1"'))
        for o_index in draw(st.lists(st.integers(0, 3), unique=True, max_size=4)):
            kind = draw(st.sampled_from(["synced", "synced", "tombstone", "update"]))
            events.append(
                EventState(
                    f"evt_m{m_index}_o{o_index}",
                    f"{master}#2026060{o_index + 1}T090000Z",
                    FINGERPRINTS["b"],
                    etag='"1"',
                    managed=kind == "update",
                    deleted=kind == "tombstone",
                    pending_op="update" if kind == "update" else None,
                    master_remote_id=master,
                )
            )
    return CalendarState(tuple(events))


def _children(state: CalendarState, masters: Collection[str | None]) -> list[EventState]:
    return [e for e in state.events if e.master_remote_id in masters]


@given(series_states(), st.sets(st.sampled_from(MASTERS)), st.sampled_from(["remote", "local"]))
def test_a_deleted_master_takes_every_stored_child_with_it(
    state: CalendarState, deleted: set[str], conflict: str
) -> None:
    """CalDAV names a deleted resource by its href alone; the overrides go too (any provider)."""
    policy = SyncPolicy(conflict=conflict, allow_mass_delete=True)  # type: ignore[arg-type]
    pulled = Pulled(deleted=tuple(sorted(deleted)), cursor="c", final=True)
    actions = plan(state, pulled, policy)
    gone = [e for e in state.events if e.remote_id in deleted] + _children(state, deleted)
    expected = {e.remote_id for e in gone if e.live and e.pending_op is None}
    edited_here = {e.event_uid for e in gone if e.live and e.pending_op == "update"}
    if conflict == "remote":
        expected |= {e.remote_id for e in gone if e.event_uid in edited_here}
    else:
        recreated = {a.event_uid for a in actions if isinstance(a, RecreateRemote)}
        assert recreated == edited_here
    assert tombstoned(actions) == expected
    assert len(tombstoned(actions)) == sum(isinstance(a, TombstoneFromRemote) for a in actions)


@given(series_states(), st.sets(st.sampled_from(MASTERS)), st.data())
def test_an_override_missing_from_its_listed_master_is_gone_only_for_whole_series(
    state: CalendarState, masters: set[str], data: st.DataObject
) -> None:
    """``series_as_unit`` (CalDAV, ICS): a changed master comes with all its overrides,
    so one it no longer lists was removed. Google lists instances separately: no rule."""
    stored_masters: set[str | None] = {
        e.remote_id for e in state.events if e.master_remote_id is None
    }
    listed_masters = sorted(m for m in masters if m in stored_masters)
    children = _children(state, set(listed_masters))
    kept = (
        data.draw(st.sets(st.sampled_from([c.remote_id for c in children]))) if children else set()
    )
    changed = tuple(RemoteEvent(m, content("c"), etag='"2"') for m in listed_masters) + tuple(
        RemoteEvent(rid, content("b"), etag='"1"', master_remote_id=rid.split("#")[0])
        for rid in sorted(r for r in kept if r is not None)
    )
    pulled = Pulled(changed=changed, cursor="c", final=True)
    whole = plan(state, pulled, SyncPolicy(series_as_unit=True, allow_mass_delete=True))
    dropped = [c for c in children if c.remote_id not in kept and c.live]
    assert tombstoned(whole) == {c.remote_id for c in dropped}
    # The local edit of a dropped override is a conflict; remote wins by default.
    conflicts = {a.event_uid for a in whole if isinstance(a, RecordConflict)}
    assert conflicts >= {c.event_uid for c in dropped if c.pending_op == "update"}
    separate = plan(state, pulled, SyncPolicy(series_as_unit=False, allow_mass_delete=True))
    assert tombstoned(separate) == set()
    # Overrides of masters the pull did not list are never touched.
    others = {e.remote_id for e in _children(state, stored_masters - set(listed_masters))}
    assert not tombstoned(whole) & others


def test_a_deleted_series_is_subject_to_the_mass_delete_guard() -> None:
    master = EventState("evt_m", "/cal/a.ics", FINGERPRINTS["a"], etag='"1"')
    overrides = tuple(
        EventState(f"evt_o{i}", f"/cal/a.ics#{i}", FINGERPRINTS["b"], master_remote_id="/cal/a.ics")
        for i in range(4)
    )
    single = EventState("evt_s", "/cal/s.ics", FINGERPRINTS["c"], etag='"1"')
    state = CalendarState((master, *overrides, single))
    pulled = Pulled(deleted=("/cal/a.ics",), cursor="c", final=True)
    [abort] = plan(state, pulled, SyncPolicy())
    assert isinstance(abort, AbortMassDelete) and abort.would_delete == 5 and abort.live == 6


@given(st.sampled_from(["update", "delete"]), st.sampled_from(["remote", "local"]))
def test_the_echo_of_our_create_after_a_further_local_change_is_not_a_conflict(
    pending_op: str, conflict: str
) -> None:
    """Pushed as a create (its etag kept, unconfirmed), edited or deleted here again,
    then the echo arrives with that etag: the pending change is simply pushed."""
    local = EventState(
        "evt_1",
        "r1",
        FINGERPRINTS["b"],
        etag='"7"',
        managed=True,
        deleted=pending_op == "delete",
        pending_op=pending_op,  # type: ignore[arg-type]
        change_seq=5,
        unconfirmed=True,
    )
    echo = RemoteEvent("r1", content("a"), etag='"7"', origin_event_uid="evt_1")
    pulled = Pulled(changed=(echo,), cursor="c", final=True)
    policy = SyncPolicy(conflict=conflict, expect_echoes=True)  # type: ignore[arg-type]
    assert plan(CalendarState((local,)), pulled, policy) == [AdvanceCursor("c")]
    # Another client's edit of it since (a new etag, our mark kept) is a conflict.
    theirs = RemoteEvent("r1", content("a"), etag='"8"', origin_event_uid="evt_1")
    actions = plan(CalendarState((local,)), Pulled(changed=(theirs,), final=True), policy)
    assert RecordConflict("evt_1", conflict, theirs) in actions  # type: ignore[arg-type]


def test_an_unconfirmed_create_is_confirmed_by_its_echo_even_when_nothing_moved() -> None:
    local = EventState("evt_1", "r1", FINGERPRINTS["a"], etag='"7"', managed=True, unconfirmed=True)
    echo = RemoteEvent("r1", content("a"), etag='"7"', origin_event_uid="evt_1")
    actions = plan(CalendarState((local,)), Pulled(changed=(echo,), final=True), SyncPolicy())
    assert actions == [UpsertFromRemote(echo)]  # stores the etag in its confirmed form
    silent = Pulled(changed=(RemoteEvent("r2", content("b")),), cursor="c", final=True)
    gone = plan(CalendarState((local,)), silent, SyncPolicy(expect_echoes=True))
    assert TombstoneFromRemote("r1", "evt_1") in gone


def test_instances_listed_beside_their_deleted_master_are_gone_too() -> None:
    """Google cancels a series' instances with it and lists them: no orphans stay."""
    master = EventState("evt_m", "m1", FINGERPRINTS["a"], etag='"1"')
    moved = EventState("evt_i", "m1_2", FINGERPRINTS["b"], etag='"1"', master_remote_id="m1")
    cancelled = RemoteEvent("m1_2", content("c"), etag='"2"', master_remote_id="m1")
    unknown = RemoteEvent("m1_3", content("c"), etag='"2"', master_remote_id="m1")
    pulled = Pulled(changed=(cancelled, unknown), deleted=("m1",), cursor="c", final=True)
    actions = plan(CalendarState((master, moved)), pulled, SyncPolicy(allow_mass_delete=True))
    assert tombstoned(actions) == {"m1", "m1_2"}
    assert not [a for a in actions if isinstance(a, UpsertFromRemote)]
