"""Carry a plan out against the store, inside the caller's write transaction.

The engine opens one unit of work per calendar pass and, in it, reads the
state, plans and applies: the data and the cursor that covers it commit
together, and an API write cannot slip in between the snapshot and the apply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from calsync.store import EventRecord, EventSyncState, PushAttemptRecord, UnitOfWork
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
from calsync.sync.bases import listed
from calsync.sync.etags import UNCONFIRMED_PREFIX, split_stored
from calsync.sync.state import (
    CalendarState,
    EventState,
    PendingOp,
    Pulled,
    PushedVersion,
    mentioned,
)

log = logging.getLogger(__name__)

#: A change sequence no event has: `EventRepo.mark_pushed` with it records the
#: remote id and etag but keeps the push pending (see `KeepLocal`).
_KEEP_PENDING = -1


@dataclass(slots=True)
class ApplyResult:
    upserted: int = 0
    tombstoned: int = 0
    conflicts: list[RecordConflict] = field(default_factory=list)
    aborted: AbortMassDelete | None = None
    cursor_advanced: bool = False


def load_state(uow: UnitOfWork, calendar_pk: int, pulled: Pulled | None = None) -> CalendarState:
    """The planner's snapshot of one calendar, tombstones included.

    Reads only the compared columns, never the content, plus the push journal
    (small: the pushes made since the last pull). For a pull that is not a
    full listing, only what it can touch (`calsync.sync.state.mentioned`,
    pending pushes, unconfirmed creates, their series) plus an indexed live
    count: an incremental pass costs O(changes), not O(stored events).
    """
    pushes = uow.push_journal.for_calendar(calendar_pk)
    if pulled is None or pulled.full_listing:
        return CalendarState(_event_states(uow.events.sync_states(calendar_pk), pushes))
    remote_ids, event_uids = mentioned(pulled)
    rows = uow.events.sync_states_near(
        calendar_pk,
        remote_ids=remote_ids,
        event_uids=event_uids,
        unconfirmed_etag_prefix=UNCONFIRMED_PREFIX,
    )
    live = uow.events.count_live(calendar_pk)
    return CalendarState(_event_states(rows, pushes), complete=False, live=live)


def _event_states(
    rows: list[EventSyncState], pushes: dict[str, tuple[PushAttemptRecord, ...]]
) -> tuple[EventState, ...]:
    remote_ids = {r.event_uid: r.remote_id for r in rows}
    return tuple(_event_state(r, remote_ids, pushes.get(r.event_uid, ())) for r in rows)


def _event_state(
    r: EventSyncState,
    remote_ids: dict[str, str | None],
    pushes: tuple[PushAttemptRecord, ...],
) -> EventState:
    etag, confirmed = split_stored(r.etag)
    return EventState(
        event_uid=r.event_uid,
        remote_id=r.remote_id,
        fingerprint=r.fingerprint,
        etag=etag,
        unconfirmed=r.managed and r.remote_id is not None and not confirmed,
        managed=r.managed,
        deleted=r.deleted,
        pending_op=cast(PendingOp | None, r.pending_op) if r.push_state == "pending" else None,
        change_seq=r.change_seq,
        base=r.base_fingerprint,
        master_remote_id=None
        if r.recurring_event_uid is None
        else remote_ids.get(r.recurring_event_uid),
        pushes=tuple(
            PushedVersion(p.change_seq, cast(PendingOp, p.op), p.content_key) for p in pushes
        ),
        start_at=_utc(r.start_at),
        end_at=_utc(r.end_at),
        all_day=r.all_day,
        tzid=r.tzid,
        rules=tuple(r.recurrence or ()),
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def apply_plan(uow: UnitOfWork, calendar_pk: int, actions: list[Action]) -> ApplyResult:
    result = ApplyResult()
    for action in actions:
        if isinstance(action, AbortMassDelete):
            result.aborted = action
            return result  # the planner emits it alone; nothing else may be written

    upserts = [a for a in actions if isinstance(a, UpsertFromRemote)]
    if upserts:
        writes = uow.events.upsert_remote_many(calendar_pk, [a.event for a in upserts])
        for upsert, write in zip(upserts, writes, strict=True):
            result.upserted += write.changed
            if upsert.drop_pending:
                _drop_superseded_push(uow, upsert, write.event)

    tombstones = [a.remote_id for a in actions if isinstance(a, TombstoneFromRemote)]
    if tombstones:
        writes = uow.events.delete_remote_many(calendar_pk, tombstones)
        result.tombstoned += sum(w.changed for w in writes)

    forgets: list[tuple[str, int | None]] = []
    for action in actions:
        if isinstance(action, KeepLocal):
            uow.events.mark_pushed(
                action.event_uid,
                remote_id=action.remote_id,
                etag=action.etag,
                base=action.base,
                pushed_seq=_KEEP_PENDING,
            )
        elif isinstance(action, DropPendingPush):
            uow.events.mark_pushed(
                action.event_uid,
                remote_id=None,
                etag=None,
                base=None,  # deleted on both sides
                pushed_seq=action.change_seq,
            )
        elif isinstance(action, RecreateRemote):
            uow.events.requeue_create(action.event_uid)
        elif isinstance(action, RecordConflict):
            result.conflicts.append(action)
            _log_conflict(action)
            if action.winner == "local":
                # A remote win logs the local version through the write path
                # (``previous``); a local win changes nothing stored, so the
                # losing remote version gets a change-log row of its own.
                uow.events.record_conflict(action.event_uid, action.remote)
        elif isinstance(action, ForgetPushes):
            forgets.append((action.event_uid, action.up_to_seq))
        elif isinstance(action, AdvanceCursor):
            uow.cursors.set(
                calendar_pk, action.cursor, full_sync_completed=action.full_sync_completed
            )
            result.cursor_advanced = True
    uow.push_journal.forget(forgets)
    return result


def _drop_superseded_push(
    uow: UnitOfWork, upsert: UpsertFromRemote, written: EventRecord | None
) -> None:
    if written is not None:
        uid, seq = written.event_uid, written.change_seq
    else:  # a no-op write: the stored version is the one the planner saw
        assert upsert.local_event_uid is not None and upsert.local_change_seq is not None
        uid, seq = upsert.local_event_uid, upsert.local_change_seq
    uow.events.mark_pushed(
        uid,
        remote_id=upsert.event.remote_id,
        etag=upsert.event.etag,
        base=listed(upsert.event.content),
        pushed_seq=seq,
    )


def _log_conflict(conflict: RecordConflict) -> None:
    remote = conflict.remote
    log.warning(
        "conflict on event %s: both sides changed it; %s wins (remote %s)",
        conflict.event_uid,
        conflict.winner,
        "deleted it" if remote is None else f"version {remote.remote_id} etag {remote.etag}",
    )
