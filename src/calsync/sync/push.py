"""Pushing pending local (API) changes to the provider.

Each push is one provider call followed by its own small write transaction
(`EventRepo.mark_pushed`), so a failure part-way keeps every push already
made and leaves the rest pending. Creates are idempotent on ``event_uid`` by
the provider contract, so a retry after a lost response never duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from calsync.errors import NotFound, PreconditionFailed
from calsync.providers.base import Provider, WriteResult
from calsync.store import CalendarRecord, EventRecord, Store
from calsync.sync.etags import split_stored, unconfirmed

log = logging.getLogger(__name__)

PUSH_BATCH = 100


@dataclass(frozen=True, slots=True)
class PushResult:
    pushed: int = 0
    #: A push was refused because the remote moved on (stale etag, or gone):
    #: the calendar needs a full reconcile to re-plan it.
    stale: bool = False


def push_pending(
    store: Store,
    provider: Provider,
    calendar: CalendarRecord,
    *,
    recreate: Collection[str] = (),
) -> PushResult:
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
        for record in batch:
            attempted.add(record.event_uid)
            master_remote_id = _master_remote_id(store, record)
            try:
                remote_id, etag = _push_one(
                    provider, calendar.remote_id, record, master_remote_id, recreate
                )
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
                    pushed_seq=record.change_seq,
                )
            pushed += 1


def _master_remote_id(store: Store, record: EventRecord) -> str | None:
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
    recreate: Collection[str],
) -> tuple[str | None, str | None]:
    """Make the call; returns the remote id and etag to record (None: keep the id)."""
    etag, _ = split_stored(record.etag)
    if record.pending_op == "delete":
        if record.remote_id is not None:
            provider.delete_event(calendar_remote_id, record.remote_id, etag)
        return None, None
    result: WriteResult
    if record.remote_id is None or record.event_uid in recreate:
        result = provider.create_event(
            calendar_remote_id,
            record.event_uid,
            record.content,
            master_remote_id=master_remote_id,
        )
        # Marked unconfirmed until its echo is pulled (see `calsync.sync.etags`).
        return result.remote_id, unconfirmed(result.etag)
    else:
        result = provider.update_event(calendar_remote_id, record.remote_id, record.content, etag)
    return result.remote_id, result.etag
