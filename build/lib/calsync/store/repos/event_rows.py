"""Event reads without the ORM: one Core SELECT of plain columns, records built from tuples.

Loading ``Event`` entities costs ~150 µs a row (identity map, attribute
instrumentation, JSON processors); a Read Events page is 100 rows, so that
alone was ~15 ms. Selecting the columns as a tuple and building the frozen
records directly costs ~10 µs a row. JSON columns are fetched as text and
decoded only when they hold something: most events have no location,
organizer or recurrence, and ``[]``/``null`` need no parser.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, Text, cast, select

from calsync.store.event_codec import content_from_values
from calsync.store.models import Calendar, Event
from calsync.store.records import EventRecord

_E = Event.__table__.c

#: The columns of a record, in the order `record_from_row` reads them.
RECORD_COLUMNS = (
    _E.id,
    _E.event_uid,
    _E.account_id,
    _E.calendar_id,
    Calendar.__table__.c.public_id,
    _E.event_id,
    _E.managed,
    _E.remote_id,
    _E.ical_uid,
    _E.etag,
    _E.remote_updated,
    _E.recurring_event_uid,
    _E.deleted,
    _E.created,
    _E.updated,
    _E.change_seq,
    _E.fingerprint,
    _E.push_state,
    _E.pending_op,
    # content
    _E.summary,
    _E.all_day,
    _E.start_at,
    _E.end_at,
    _E.start_date,
    _E.end_date,
    _E.tzid,
    _E.description,
    cast(_E.location, Text),
    cast(_E.attendees, Text),
    cast(_E.organizer, Text),
    _E.transparency,
    _E.status,
    cast(_E.recurrence, Text),
    _E.original_start_at,
    _E.original_start_date,
    _E.url,
    _E.color,
    _E.private,
)


def record_select() -> Select[Any]:
    """``SELECT <record columns> FROM events JOIN calendars``; add WHERE/ORDER/LIMIT."""
    return select(*RECORD_COLUMNS).join_from(
        Event.__table__, Calendar.__table__, _E.calendar_id == Calendar.__table__.c.id
    )


def decode_json(text: str | None) -> Any:
    """A JSON column fetched as text; the common empty values skip the parser."""
    if text is None or text == "null":
        return None
    if text == "[]":
        return []
    return json.loads(text)


def record_from_row(row: Any) -> EventRecord:
    """An `EventRecord` from one row of `record_select` (a tuple in `RECORD_COLUMNS` order)."""
    (
        pk,
        event_uid,
        account_pk,
        calendar_pk,
        calendar_id,
        event_id,
        managed,
        remote_id,
        ical_uid,
        etag,
        remote_updated,
        recurring_event_uid,
        deleted,
        created,
        updated,
        change_seq,
        fingerprint,
        push_state,
        pending_op,
        summary,
        all_day,
        start_at,
        end_at,
        start_date,
        end_date,
        tzid,
        description,
        location,
        attendees,
        organizer,
        transparency,
        status,
        recurrence,
        original_start_at,
        original_start_date,
        url,
        color,
        private,
    ) = row
    content = content_from_values(
        summary=summary,
        all_day=all_day,
        start_at=start_at,
        end_at=end_at,
        start_date=start_date,
        end_date=end_date,
        tzid=tzid,
        description=description,
        location=decode_json(location),
        attendees=decode_json(attendees),
        organizer=decode_json(organizer),
        transparency=transparency,
        status=status,
        recurrence=decode_json(recurrence),
        original_start_at=original_start_at,
        original_start_date=original_start_date,
        url=url,
        color=color,
        private=private,
    )
    return EventRecord(
        pk,
        event_uid,
        account_pk,
        calendar_pk,
        calendar_id,
        event_id,
        managed,
        remote_id,
        ical_uid,
        etag,
        remote_updated,
        content,
        recurring_event_uid,
        deleted,
        created,
        updated,
        change_seq,
        fingerprint,
        push_state,
        pending_op,
    )
