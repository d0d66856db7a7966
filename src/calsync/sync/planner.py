"""The pure planner: ``plan(state, pulled, policy) -> [Action]``. No I/O.

Rules, in the order they are applied:

* A listed event nobody changed locally is stored as listed (the store skips
  it when neither content nor etag moved, which is how our own pushes coming
  back are suppressed: they carry the remote id and etag recorded at push time).
* A listed event with a pending local change is a *conflict* only when the
  remote version moved (its etag differs from the one we last stored), the
  contents differ, it is not our own push coming back and it is not the
  version the local change was made on (its base, below). Equal contents
  settle it quietly; an unmoved etag means the push simply goes ahead. That
  includes the echo of our own create edited here again before it came back:
  it carries the etag the create returned (kept, marked unconfirmed; see
  `calsync.sync.etags`). The account's ``conflict`` policy picks the winner.
* A moved etag alone is not an edit either: servers re-tag versions nobody
  edited. A listed version equal to the pending change's *base* (the last
  version known to be on the provider: `EventState.base`, see
  `calsync.sync.bases`) is the version the change was made on, so the change
  is pushed on top of it (`KeepLocal` with the new etag), never a conflict.
  An unknown base (rows stored before it was recorded) proves nothing.
* Our own pushes are recognised by the push journal, not by etags: every push
  is recorded (with the `round_trip_key` of the content sent) before it is
  made, so when its answer is lost (a timeout, a crash) the provider's version
  still reads as ours. A listed version equal to one of our recorded pushes
  is our echo, never somebody's edit: when it is the pending version itself,
  nothing is left to push; when the local side has a newer version since (or
  deleted the event), the provider's identity and etag are adopted and the
  newer version is pushed on top (`KeepLocal`, no conflict). Likewise an event
  the provider no longer has after we recorded a delete of it is our delete
  coming back: written again since, it is pushed as a new event.
* An event is gone when the provider says so (``deleted``) or when a
  *complete, non-empty* listing (``full_listing``) omits it; a listing of a
  window (``window``) proves only the absence of events that reach into it
  (`calsync.sync.spans`), never of one that left the window. Nothing else
  deletes: a partial listing never proves an absence, and an empty "complete"
  listing is the classic outage, so it aborts instead (unless overridden);
  let through (no live event at stake, or overridden), it still never settles
  a pending delete, which is pushed instead. Events never pushed (no remote id
  yet) are never considered gone, nor are events queued as a create: their
  remote id, if any, names an earlier incarnation that is gone already.
* Mass-delete guard: when the plan would tombstone more than
  ``max_delete_fraction`` of the calendar's live events, and the calendar has
  at least ``mass_delete_min_events`` live events, the whole plan is replaced
  by one `AbortMassDelete`: nothing is stored and the cursor does not move.
* A series' children go with it: every stored event whose master is gone
  (including a master the provider names in ``deleted`` that we never stored
  whole) is gone too, even when the same pull lists it (cancelled). With
  ``series_as_unit`` (CalDAV, ICS: a changed master is always listed together
  with all its overrides), a stored override of a listed master that the pull
  omits is gone as well.
* An event we created whose echo an incremental pull should have carried but
  did not is gone (`SyncPolicy.expect_echoes`): providers may omit an event
  created and deleted since the cursor.
* The cursor advances (in the same transaction) only when the pull ended with
  one, and never on an empty full listing.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import replace

from calsync.model import RemoteEvent, round_trip_key
from calsync.providers.base import PullPage, SyncWindow
from calsync.sync.actions import (
    AbortMassDelete,
    Action,
    AdvanceCursor,
    DropPendingPush,
    ForgetPushes,
    KeepLocal,
    RecordConflict,
    RecreateRemote,
    TombstoneFromRemote,
    UpsertFromRemote,
)
from calsync.sync.bases import listed, unchanged_since
from calsync.sync.spans import reaches
from calsync.sync.state import (
    CalendarState,
    EventState,
    ListingEnd,
    Pulled,
    PushedVersion,
    SyncPolicy,
)

__all__ = ["plan", "plan_listing_end", "plan_page"]


def plan(state: CalendarState, pulled: Pulled, policy: SyncPolicy) -> list[Action]:
    if pulled.full_listing and not state.complete:
        raise ValueError("a full listing is planned against the whole calendar's state")
    by_remote = {e.remote_id: e for e in state.events if e.remote_id is not None}
    by_uid = {e.event_uid: e for e in state.events}
    changed = _latest_per_remote_id(pulled.changed)
    listed = {event.remote_id for event in changed}

    explicit = [rid for rid in dict.fromkeys(pulled.deleted) if rid not in listed]
    # Instances listed beside their deleted master (Google cancels them all
    # together) die with it rather than linger as orphans.
    orphans = {e.remote_id for e in changed if e.master_remote_id in set(explicit)}
    actions: list[Action] = []
    for event in changed:
        if event.remote_id not in orphans:
            actions.extend(_plan_listed(_match(event, by_remote, by_uid), event, policy))

    gone = [by_remote[rid] for rid in explicit if rid in by_remote]
    incremental = not (pulled.full_listing or pulled.from_scratch or pulled.unchanged)
    if incremental and policy.expect_echoes:
        named = listed | set(explicit)
        gone += [e for e in state.events if _unconfirmed(e) and e.remote_id not in named]
    if pulled.full_listing:
        if not changed and _remote_backed_live(state) and not policy.allow_mass_delete:
            return [_abort_empty_listing(state.live_count())]
        gone += _absent(state, listed | set(explicit), pulled.window, empty=not changed)
    if policy.series_as_unit:
        gone += _dropped_overrides(state, changed, listed)
    gone_ids = {e.remote_id for e in gone if e.remote_id is not None}
    gone += _children_of(state, gone_ids | set(explicit), listed - orphans)
    for local in _unique(gone):
        actions.extend(_plan_gone(local, policy))

    guard = _mass_delete_guard(state.live_count(), _tombstones(actions), policy)
    if guard is not None:
        return [guard]
    # An empty "complete" listing is not trusted with a cursor either: from it,
    # an outage on the first sync would skip every existing event for good.
    # Listing an empty calendar again next time costs next to nothing.
    empty_listing = pulled.full_listing and not changed
    if pulled.cursor is not None and not empty_listing:
        actions.append(AdvanceCursor(pulled.cursor, full_sync_completed=pulled.full_listing))
    return actions


def plan_page(state: CalendarState, page: PullPage, policy: SyncPolicy) -> list[Action]:
    """One page of a listing pulled from scratch, planned and applied on its own
    so memory stays bounded by the page (`calsync.sync.paged`): the listed and
    deleted events with their series. No guard and no cursor here: the pull's
    absences, guard and cursor are `plan_listing_end`'s."""
    pulled = Pulled(changed=page.changed, deleted=page.deleted, from_scratch=True)
    return plan(state, pulled, replace(policy, allow_mass_delete=True))


def plan_listing_end(
    state: CalendarState,
    end: ListingEnd,
    policy: SyncPolicy,
) -> list[Action]:
    """The end of a listing planned page by page: what a complete listing
    omitted is gone (with its series), then the mass-delete guard over the
    whole pull, then the cursor. ``state``: the whole calendar after the pages
    were applied; ``end``: what the pages added up to."""
    actions: list[Action] = []
    if end.full_listing:
        # Nothing listed, so the pages wrote nothing but tombstones: remote-backed
        # live events were stored before iff some are left or a page removed one.
        backed = end.tombstoned > 0 or _remote_backed_live(state)
        if not end.listed and backed and not policy.allow_mass_delete:
            return [_abort_empty_listing(end.live_before)]
        gone = _absent(state, end.listed | end.deleted, end.window, empty=not end.listed)
        gone_ids = {e.remote_id for e in gone if e.remote_id is not None}
        gone += _children_of(state, gone_ids, end.listed)
        for local in _unique(gone):
            actions.extend(_plan_gone(local, policy))
    guard = _mass_delete_guard(end.live_before, end.tombstoned + _tombstones(actions), policy)
    if guard is not None:
        return [guard]
    empty_listing = end.full_listing and not end.listed
    if end.cursor is not None and not empty_listing:
        actions.append(AdvanceCursor(end.cursor, full_sync_completed=end.full_listing))
    return actions


def _absent(
    state: CalendarState,
    named: AbstractSet[str],
    window: SyncWindow | None,
    *,
    empty: bool = False,
) -> list[EventState]:
    """What a complete listing that names only ``named`` proves gone: with a
    ``window``, only what it covers (an event that left the window is not gone).

    An ``empty`` listing (let through because no live event is at stake, or
    by the operator) does not settle a pending delete either: it is the
    classic outage, and taking it for "deleted on both sides" would drop the
    app's delete while the provider still has the event. The delete is pushed
    instead: deleting an event that is already gone succeeds (`Provider.delete_event`)."""
    return [
        e
        for e in state.events
        if _on_provider(e)
        and e.remote_id not in named
        and (window is None or reaches(e, window))
        and not (empty and e.pending_op == "delete")
    ]


def _tombstones(actions: list[Action]) -> int:
    return sum(isinstance(a, TombstoneFromRemote) for a in actions)


def _abort_empty_listing(live: int) -> AbortMassDelete:
    reason = (
        f"the provider listed no events at all, but {live} are stored; "
        "refusing to delete them (an empty listing is more likely an outage)"
    )
    return AbortMassDelete(would_delete=live, live=live, reason=reason)


def _latest_per_remote_id(events: tuple[RemoteEvent, ...]) -> list[RemoteEvent]:
    """One version per remote id (the last listed), masters before their overrides."""
    latest: dict[str, RemoteEvent] = {}
    for event in events:
        latest.pop(event.remote_id, None)
        latest[event.remote_id] = event
    # Masters first, so the store can link an override to a master in the same batch.
    return sorted(latest.values(), key=lambda e: e.master_remote_id is not None)


def _children_of(
    state: CalendarState, gone_masters: set[str], listed: AbstractSet[str]
) -> list[EventState]:
    """Overrides and instances of a gone master are gone with it (a deleted CalDAV
    resource is reported by its href alone; a series' children die with it)."""
    return [
        e
        for e in state.events
        if e.master_remote_id in gone_masters
        and e.remote_id is not None
        and e.remote_id not in listed
    ]


def _dropped_overrides(
    state: CalendarState, changed: list[RemoteEvent], listed: set[str]
) -> list[EventState]:
    """With `SyncPolicy.series_as_unit`: stored overrides of a listed master that
    the pull omits were removed from the series."""
    masters = {e.remote_id for e in changed if e.master_remote_id is None}
    return _children_of(state, masters, listed)


def _unique(events: list[EventState]) -> list[EventState]:
    return list({e.event_uid: e for e in events}.values())


def _match(
    event: RemoteEvent, by_remote: dict[str, EventState], by_uid: dict[str, EventState]
) -> EventState | None:
    local = by_remote.get(event.remote_id)
    if local is None and event.origin_event_uid is not None:
        # Our own create coming back before its remote id was recorded (the
        # response was lost): the same rule the store's write path applies.
        candidate = by_uid.get(event.origin_event_uid)
        if candidate is not None and candidate.remote_id is None:
            local = candidate
    return local


def _unconfirmed(event: EventState) -> bool:
    """Pushed as a create, its echo not pulled yet (see `SyncPolicy.expect_echoes`)."""
    return (
        event.managed
        and event.live
        and event.pending_op is None
        and event.remote_id is not None
        and (event.etag is None or event.unconfirmed)
    )


def _remote_backed_live(state: CalendarState) -> bool:
    return any(e.live and _on_provider(e) for e in state.events)


def _on_provider(event: EventState) -> bool:
    """Whether the provider should hold a version of ``event``: it has a remote
    id and is not waiting to be created (again). The remote id of an event
    queued as a create names an earlier incarnation that is gone (deleted
    there, or by us, and written again here since): no listing's silence
    about it says anything about the event."""
    return event.remote_id is not None and event.pending_op != "create"


def _plan_listed(local: EventState | None, event: RemoteEvent, policy: SyncPolicy) -> list[Action]:
    if local is None:
        return [UpsertFromRemote(event)]
    ours = _our_push(local, event)
    actions = _plan_listed_version(local, event, ours, policy)
    if local.pushes:
        # The provider's version is seen: pushes up to it can no longer come back unseen.
        actions.append(ForgetPushes(local.event_uid, None if ours is None else ours.seq))
    return actions


def _plan_listed_version(
    local: EventState, event: RemoteEvent, ours: PushedVersion | None, policy: SyncPolicy
) -> list[Action]:
    fingerprint = event.content.fingerprint()
    if local.pending_op is None:
        if ours is not None and _replaced_since(local, ours):
            # An older push of ours landed after all (its answer was lost), but
            # the local side has moved on since: put the local version back.
            return [_keep_local(local, event)]
        moved = (
            local.deleted
            or local.unconfirmed  # the echo: store its etag in plain form
            or local.fingerprint != fingerprint
            or local.etag != event.etag
            or local.remote_id != event.remote_id
        )
        return [UpsertFromRemote(event)] if moved else []
    if local.live and (
        local.fingerprint == fingerprint or (ours is not None and ours.seq == local.change_seq)
    ):
        # Both sides say the same thing (the pending version itself landed, its
        # answer lost): record the remote identity, nothing to push.
        return [_superseding(event, local)]
    if local.remote_id == event.remote_id and local.etag is not None and local.etag == event.etag:
        return []  # the remote version is the one our pending change is based on
    if ours is not None:
        # An earlier push of ours coming back, not an edit: the pending change
        # is newer, so it goes ahead on top of the provider's version.
        return [_keep_local(local, event)]
    if local.remote_id == event.remote_id and unchanged_since(local.base, event.content):
        # Only the etag moved (servers re-tag versions nobody edited): the
        # provider still holds the version the pending change was made on,
        # so the change goes on top of it. Compared as `calsync.sync.bases`
        # says: exactly when the base was listed, by round-trip key when it
        # is what we pushed (the provider's form of it not seen yet).
        return [_keep_local(local, event)]
    if policy.conflict == "remote":
        return [
            RecordConflict(local.event_uid, "remote", event),
            _superseding(event, local),
        ]
    return [RecordConflict(local.event_uid, "local", event), _keep_local(local, event)]


def _keep_local(local: EventState, event: RemoteEvent) -> KeepLocal:
    """Push the local version on top of the listed one, which becomes the base."""
    return KeepLocal(local.event_uid, event.remote_id, event.etag, listed(event.content))


def _our_push(local: EventState, event: RemoteEvent) -> PushedVersion | None:
    """The latest recorded push of ``local`` whose content the listed version
    carries, if any (content compared as every provider round-trips it)."""
    if not local.pushes:
        return None
    key = round_trip_key(event.content)
    for pushed in reversed(local.pushes):
        if pushed.op != "delete" and pushed.content_key == key:
            return pushed
    return None


def _replaced_since(local: EventState, ours: PushedVersion) -> bool:
    """With nothing pending: the local side deleted the event or pushed another
    version after ``ours``."""
    latest = local.pushes[-1]
    return local.deleted or latest.op == "delete" or latest.content_key != ours.content_key


def _superseding(event: RemoteEvent, local: EventState) -> UpsertFromRemote:
    """Store the remote version and drop the local change it supersedes."""
    return UpsertFromRemote(
        event,
        drop_pending=True,
        local_event_uid=local.event_uid,
        local_change_seq=local.change_seq,
    )


def _plan_gone(local: EventState, policy: SyncPolicy) -> list[Action]:
    assert local.remote_id is not None
    forget: list[Action] = [ForgetPushes(local.event_uid)] if local.pushes else []
    if not _on_provider(local):
        # An earlier incarnation is gone; the version queued as a create stands
        # and stays queued as one (not a conflict: it was never on the provider).
        return [RecreateRemote(local.event_uid), *forget]
    if local.deleted:
        if local.pending_op == "delete":  # deleted on both sides: nothing left to push
            return [DropPendingPush(local.event_uid, local.change_seq), *forget]
        return forget
    if local.pending_op is None:
        return [TombstoneFromRemote(local.remote_id, local.event_uid), *forget]
    if any(pushed.op == "delete" for pushed in local.pushes):
        # Our own delete went through (its answer was lost) and the event was
        # written again since: not a conflict; it goes back as a new event.
        return [RecreateRemote(local.event_uid), *forget]
    # Edited here, deleted there.
    if policy.conflict == "remote":
        return [
            RecordConflict(local.event_uid, "remote", None),
            TombstoneFromRemote(local.remote_id, local.event_uid),
            *forget,
        ]
    return [
        RecordConflict(local.event_uid, "local", None),
        RecreateRemote(local.event_uid),
        *forget,
    ]


def _mass_delete_guard(live: int, would_delete: int, policy: SyncPolicy) -> AbortMassDelete | None:
    if policy.allow_mass_delete:
        return None
    if live == 0 or live < policy.mass_delete_min_events:
        return None
    if would_delete / live <= policy.max_delete_fraction:
        return None
    reason = (
        f"this sync would delete {would_delete} of {live} events, more than "
        f"max_delete_fraction = {policy.max_delete_fraction:g}; nothing was changed "
        "(run `calsync sync --once --allow-mass-delete` if the deletions are real)"
    )
    return AbortMassDelete(would_delete=would_delete, live=live, reason=reason)
