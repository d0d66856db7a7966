"""Pushing pending local (API) changes to the provider.

Each batch of pushes is first recorded in the push journal, in its own
committed transaction (write-ahead): if an answer is lost afterwards (a
timeout, a crash between the provider applying the write and calsync
recording it), the next pull still recognises the provider's version as our
own write (`calsync.sync.planner`), so a later local edit is pushed on top of
it rather than overwritten as a "conflict".

Each push is one provider call followed by its own small write transaction
(`EventRepo.mark_pushed`), so a failure part-way keeps every push already
made and leaves the rest pending. Creates are idempotent on ``event_uid`` by
the provider contract, so a retry after a lost response never duplicates; a
retry that finds the provider holding other content is refused
(`PreconditionFailed`) and left to the next pull to sort out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from calsync.errors import NotFound, PreconditionFailed
from calsync.model import round_trip_key
from calsync.providers.base import Provider, WriteResult
from calsync.store import CalendarRecord, EventRecord, PushAttemptRecord
from calsync.sync.bases import sent
from calsync.sync.etags import split_stored, unconfirmed
from calsync.sync.ownership import StoreView

log = logging.getLogger(__name__)

PUSH_BATCH = 100


@dataclass(frozen=True, slots=True)
class PushResult:
    pushed: int = 0
    #: A push was refused because the remote moved on (stale etag, or gone):
    #: the calendar needs a full reconcile to re-plan it.
    stale: bool = False


def push_pending(store: StoreView, provider: Provider, calendar: CalendarRecord) -> PushResult:
    """Push every pending change of ``calendar``. Provider errors other than a
    stale precondition propagate; what was not pushed stays pending."""
    assert calendar.remote_id is not None
    pushed, stale = 0, False
    attempted: set[str] = set()
    while True:
        with store.read() as uow:
            batch = [
                e
                for e in uow.events.pending_pushes(calendar_pk=calendar.pk, limit=PUSH_BATCH)
                if e.event_uid not in attempted
            ]
            # Masters first: an override is created against its master's remote id.
            batch.sort(key=lambda e: e.recurring_event_uid is not None)
        if not batch:
            return PushResult(pushed, stale)
        with store.write() as uow:
            uow.push_journal.record(calendar.pk, [_attempt(record) for record in batch])
        for record in batch:
            attempted.add(record.event_uid)
            master_remote_id = _master_remote_id(store, record)
            try:
                remote_id, etag = _push_one(provider, calendar.remote_id, record, master_remote_id)
            except (PreconditionFailed, NotFound) as exc:
                log.info(
                    "push of %s refused (%s); the calendar will be reconciled",
                    record.event_uid,
                    exc.message,
                )
                stale = True
                continue
            with store.write() as uow:
                uow.events.mark_pushed(
                    record.event_uid,
                    remote_id=remote_id,
                    etag=etag,
                    # The provider now holds what we sent (in its own form).
                    base=None if record.pending_op == "delete" else sent(record.content),
                    pushed_seq=record.change_seq,
                )
            pushed += 1


def _attempt(record: EventRecord) -> PushAttemptRecord:
    op = record.pending_op or "update"
    key = None if op == "delete" else round_trip_key(record.content)
    return PushAttemptRecord(record.event_uid, record.change_seq, op, key)


def _master_remote_id(store: StoreView, record: EventRecord) -> str | None:
    if record.recurring_event_uid is None:
        return None
    with store.read() as uow:
        master = uow.events.get(record.recurring_event_uid)
    return None if master is None else master.remote_id


def _push_one(
    provider: Provider,
    calendar_remote_id: str,
    record: EventRecord,
    master_remote_id: str | None,
) -> tuple[str | None, str | None]:
    """Make the call; returns the remote id and etag to record (None: keep the id)."""
    etag, _ = split_stored(record.etag)
    if record.pending_op == "delete":
        if record.remote_id is not None:
            provider.delete_event(calendar_remote_id, record.remote_id, etag)
        return None, None
    result: WriteResult
    if record.remote_id is None or record.pending_op == "create":
        result = provider.create_event(
            calendar_remote_id,
            record.event_uid,
            record.content,
            master_remote_id=master_remote_id,
        )
        # Marked unconfirmed until its echo is pulled (see `calsync.sync.etags`).
        return result.remote_id, unconfirmed(result.etag)
    result = provider.update_event(calendar_remote_id, record.remote_id, record.content, etag)
    return result.remote_id, result.etag
