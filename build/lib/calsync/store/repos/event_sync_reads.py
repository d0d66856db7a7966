"""The sync planner's light reads: whole calendars, or just what one pull touches.

Rows carry only the columns the planner compares (`EventSyncState`), never the
content. The narrow read keeps an incremental pass O(changes): it selects by
indexed keys (remote id, event uid, master, push state) rather than the calendar.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from calsync.store.models import Event
from calsync.store.records import EventSyncState
from calsync.store.sql import chunks

_COLUMNS = tuple(getattr(Event, name) for name in EventSyncState._fields)


def all_states(session: Session, calendar_pk: int) -> list[EventSyncState]:
    stmt = select(*_COLUMNS).where(Event.calendar_id == calendar_pk).order_by(Event.id)
    return [EventSyncState(*row) for row in session.execute(stmt)]


def states_near(
    session: Session,
    calendar_pk: int,
    *,
    remote_ids: Collection[str],
    event_uids: Collection[str],
    unconfirmed_etag_prefix: str,
) -> list[EventSyncState]:
    """The named events, every pending push, every live managed event with a
    remote id whose etag is None or starts with ``unconfirmed_etag_prefix``;
    then the overrides of all these and the masters of all these (one level
    each way: series are one level deep). In calendar order, like `all_states`."""
    found: dict[str, tuple[int, EventSyncState]] = {}

    def collect(*where: Any) -> None:
        stmt = select(Event.id, *_COLUMNS).where(Event.calendar_id == calendar_pk, *where)
        for row in session.execute(stmt):
            found[row.event_uid] = (row[0], EventSyncState(*row[1:]))

    for part in chunks(sorted(remote_ids)):
        collect(Event.remote_id.in_(part))
    for part in chunks(sorted(event_uids)):
        collect(Event.event_uid.in_(part))
    collect(Event.push_state == "pending")
    collect(
        Event.managed.is_(True),
        Event.deleted.is_(False),
        Event.remote_id.is_not(None),
        or_(Event.etag.is_(None), Event.etag.startswith(unconfirmed_etag_prefix, autoescape=True)),
    )
    for part in chunks(sorted(found)):
        collect(Event.recurring_event_uid.in_(part))
    masters = {s.recurring_event_uid for _, s in found.values() if s.recurring_event_uid}
    for part in chunks(sorted(masters - found.keys())):
        collect(Event.event_uid.in_(part))
    return [state for _, state in sorted(found.values(), key=lambda item: item[0])]
