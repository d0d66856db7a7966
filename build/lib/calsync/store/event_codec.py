"""Between `EventContent` and the columns of an ``events`` row."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from calsync.model import Attendee, EventContent, Location
from calsync.model.events import EventTime
from calsync.store.models import Event

# Zones span UTC-12 .. UTC+14: an all-day event is stored with an instant range
# covering its dates in every zone, so a window query never misses it; the API
# trims by the caller's tzid.
_EARLIEST_OFFSET = timedelta(hours=14)
_LATEST_OFFSET = timedelta(hours=12)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _instant(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} in event content; use aware UTC")
    return value.astimezone(UTC)


def range_of(content: EventContent) -> tuple[datetime, datetime]:
    """The UTC ``(start_at, end_at)`` range keys for window queries."""
    start, end = content.start, content.end
    if isinstance(start, datetime) and isinstance(end, datetime):
        return _instant(start), _instant(end)
    start_day = start.date() if isinstance(start, datetime) else start
    end_day = end.date() if isinstance(end, datetime) else end
    return _midnight(start_day) - _EARLIEST_OFFSET, _midnight(end_day) + _LATEST_OFFSET


def _attendee_json(a: Attendee | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"email": a.email, "display_name": a.display_name, "status": a.status}


def _attendee(data: dict[str, Any]) -> Attendee:
    return Attendee(data["email"], data.get("display_name"), data["status"])


def _time_split(value: EventTime | None) -> tuple[datetime | None, date | None]:
    if value is None:
        return None, None
    if isinstance(value, datetime):
        return _instant(value), None
    return None, value


def content_columns(content: EventContent) -> dict[str, Any]:
    """The column values an `EventContent` maps to (fingerprint excluded)."""
    start_at, end_at = range_of(content)
    all_day = content.all_day
    loc = content.location
    original_at, original_date = _time_split(content.original_start)
    return {
        "start_at": start_at,
        "end_at": end_at,
        "all_day": all_day,
        "start_date": content.start if all_day else None,
        "end_date": content.end if all_day else None,
        "tzid": content.tzid,
        "summary": content.summary,
        "description": content.description,
        "location": None
        if loc is None
        else {"description": loc.description, "lat": loc.lat, "long": loc.long},
        "attendees": [_attendee_json(a) for a in content.attendees],
        "organizer": _attendee_json(content.organizer),
        "transparency": content.transparency,
        "status": content.status,
        "recurrence": recurrence_json(content),
        "recurring": content.recurring,
        "original_start_at": original_at,
        "original_start_date": original_date,
        "url": content.url,
        "color": content.color,
        "private": content.private,
    }


#: Marks the override's kept RECURRENCE-ID line inside the ``recurrence`` list
#: (its content lines are RRULE / RDATE / EXDATE otherwise). Rows written before
#: `EventContent.recurrence_id` existed simply have no such line.
_RECURRENCE_ID = "RECURRENCE-ID"


def recurrence_json(content: EventContent) -> list[str]:
    """The ``recurrence`` column: the rule lines, then an override's kept RECURRENCE-ID."""
    lines = list(content.recurrence)
    if content.recurrence_id:
        lines.append(content.recurrence_id)
    return lines


def _split_recurrence(lines: list[str] | None) -> tuple[tuple[str, ...], str | None]:
    if not lines:
        return (), None
    rules = tuple(line for line in lines if not _is_recurrence_id(line))
    kept = [line for line in lines if _is_recurrence_id(line)]
    return rules, (kept[-1] if kept else None)


def _is_recurrence_id(line: str) -> bool:
    name = line[: len(_RECURRENCE_ID) + 1].upper()
    return name in (_RECURRENCE_ID + ":", _RECURRENCE_ID + ";")


def content_of(row: Event) -> EventContent:
    return content_from_values(
        summary=row.summary,
        all_day=row.all_day,
        start_at=row.start_at,
        end_at=row.end_at,
        start_date=row.start_date,
        end_date=row.end_date,
        tzid=row.tzid,
        description=row.description,
        location=row.location,
        attendees=row.attendees,
        organizer=row.organizer,
        transparency=row.transparency,
        status=row.status,
        recurrence=row.recurrence,
        original_start_at=row.original_start_at,
        original_start_date=row.original_start_date,
        url=row.url,
        color=row.color,
        private=row.private,
    )


def content_from_values(
    *,
    summary: str,
    all_day: bool,
    start_at: datetime,
    end_at: datetime,
    start_date: date | None,
    end_date: date | None,
    tzid: str,
    description: str,
    location: dict[str, Any] | None,
    attendees: list[dict[str, Any] | None] | None,
    organizer: dict[str, Any] | None,
    transparency: str,
    status: str,
    recurrence: list[str] | None,
    original_start_at: datetime | None,
    original_start_date: date | None,
    url: str | None,
    color: str | None,
    private: bool,
) -> EventContent:
    """The `EventContent` of decoded column values (the read side of `content_columns`)."""
    start: EventTime
    end: EventTime
    if all_day and start_date is not None and end_date is not None:
        start, end = start_date, end_date
    else:
        start, end = start_at, end_at
    original: EventTime | None = original_start_at or original_start_date
    rules, recurrence_id = _split_recurrence(recurrence)
    return EventContent(
        summary,
        start,
        end,
        tzid,
        description,
        None
        if location is None
        else Location(location.get("description"), location.get("lat"), location.get("long")),
        tuple(_attendee(a) for a in attendees if a is not None) if attendees else (),
        None if organizer is None else _attendee(organizer),
        transparency,
        status,
        rules,
        original,
        url,
        color,
        private,
        recurrence_id,
    )


def _json_time(value: EventTime | None) -> str | None:
    return None if value is None else value.isoformat()


def snapshot(row: Event) -> dict[str, Any]:
    """The row's version as JSON, kept in the change log as ``previous``."""
    cols = content_columns(content_of(row))
    for key in ("start_at", "end_at", "original_start_at"):
        cols[key] = _json_time(cols[key])
    for key in ("start_date", "end_date", "original_start_date"):
        cols[key] = _json_time(cols[key])
    return {
        "event_uid": row.event_uid,
        "event_id": row.event_id,
        "managed": row.managed,
        "remote_id": row.remote_id,
        "ical_uid": row.ical_uid,
        "etag": row.etag,
        "remote_updated": _json_time(row.remote_updated),
        "recurring_event_uid": row.recurring_event_uid,
        "deleted": row.deleted,
        "updated": _json_time(row.updated),
        "change_seq": row.change_seq,
        "fingerprint": row.fingerprint,
        **cols,
    }
