"""Bulk loading of events for benchmarks: fast, and deliberately outside the write path.

`Store.bulk_load_events` inserts fully formed rows (built with the store's own
codec, so every column is what the write path would write) with multi-row
INSERTs in one transaction. It skips what a read benchmark does not need, the
change log and the outbox, and keeps the store's invariants: each account's
change clock is moved past the loaded rows. Never call it from the daemon.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, insert, select, update

from calsync.ids import new_id
from calsync.model import EventContent, content_fingerprint
from calsync.store.event_codec import content_columns
from calsync.store.models import Account, Calendar, Event


@dataclass(frozen=True, slots=True)
class BulkEvent:
    """One event to load; ``event_id`` makes it managed, else ``remote_id`` names it."""

    calendar_pk: int
    content: EventContent
    updated: datetime
    event_id: str | None = None
    remote_id: str | None = None


def _batches(events: Iterable[BulkEvent], size: int) -> Iterator[list[BulkEvent]]:
    it = iter(events)
    while batch := list(islice(it, size)):
        yield batch


def load(connection: Connection, events: Iterable[BulkEvent], chunk: int) -> int:
    """Insert the events; returns how many. The caller owns the transaction."""
    owners = dict(connection.execute(select(Calendar.id, Calendar.account_id)).tuples().all())
    clocks: dict[int, tuple[datetime | None, int]] = {
        pk: (at, seq)
        for pk, at, seq in connection.execute(
            select(Account.id, Account.last_change_at, Account.last_change_seq)
        ).tuples()
    }
    loaded = 0
    for batch in _batches(events, chunk):
        rows: list[dict[str, Any]] = []
        for ev in batch:
            account_pk = owners[ev.calendar_pk]
            at, seq = clocks[account_pk]
            seq += 1
            clocks[account_pk] = (ev.updated if at is None else max(at, ev.updated), seq)
            rows.append(_row(ev, account_pk, seq))
        connection.execute(insert(Event), rows)
        loaded += len(rows)
    for account_pk, (at, seq) in clocks.items():
        connection.execute(
            update(Account)
            .where(Account.id == account_pk)
            .values(last_change_at=at, last_change_seq=seq)
        )
    return loaded


def _row(ev: BulkEvent, account_pk: int, seq: int) -> dict[str, Any]:
    managed = ev.event_id is not None
    return {
        "event_uid": new_id("evt"),
        "account_id": account_pk,
        "calendar_id": ev.calendar_pk,
        "event_id": ev.event_id,
        "managed": managed,
        "remote_id": None if managed else ev.remote_id,
        "ical_uid": None,
        "etag": None,
        "remote_updated": None,
        "recurring_event_uid": None,
        "deleted": False,
        "created": ev.updated,
        "updated": ev.updated,
        "change_seq": seq,
        "fingerprint": content_fingerprint(ev.content),
        "push_state": "none",
        "pending_op": None,
        **content_columns(ev.content),
    }
