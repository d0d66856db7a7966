"""``GET /ical/{feed_token}.ics``: a live RFC 5545 feed of one calendar.

No bearer auth: the unguessable per-calendar token (the calendar's ``ical_url``)
is the credential, and an unknown token or deleted calendar is a plain 404.

The feed is generated with icalendar:

* single events are emitted in UTC (or as DATE values when all-day);
* recurring masters keep their RRULE/RDATE/EXDATE and are emitted in their own
  zone (with a generated VTIMEZONE), because a rule repeats in local time; their
  overrides in theirs;
* overrides share the master's UID and carry RECURRENCE-ID (the provider's own
  line when calsync kept it, so ``RANGE=THISANDFUTURE`` reaches the feed's readers).

The ETag is strong: a SHA-256 of the exact bytes served, so ``If-None-Match``
is answered with 304 only when the content is byte-identical.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar
from fastapi import APIRouter, Request, Response

from calsync.api.deps import Services
from calsync.api.expand import recurrence_id_property, recurrence_properties
from calsync.api.openapi import responses
from calsync.api.times import is_valid_tzid
from calsync.errors import NotFound
from calsync.model.events import EventTime
from calsync.store.records import CalendarRecord, EventRecord

router = APIRouter(tags=["ical"])

_PRODID = "-//calsync//calsync feed//EN"


def _zoned(value: EventTime, tzid: str) -> EventTime:
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tzid) if is_valid_tzid(tzid) else UTC)
    return value


def _utc(value: EventTime) -> EventTime:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _vevent(event: EventRecord, uid: str, series_tzid: str | None) -> icalendar.Event:
    content = event.content
    # Series members are written in a zone (a rule repeats in local time); singles in UTC.
    place = (lambda v: _zoned(v, series_tzid)) if series_tzid is not None else _utc
    vevent = icalendar.Event()
    vevent.add("uid", uid)
    vevent.add("dtstamp", event.updated.astimezone(UTC))
    vevent.add("created", event.created.astimezone(UTC))
    vevent.add("last-modified", event.updated.astimezone(UTC))
    vevent.add("sequence", event.change_seq % 2**31)
    vevent.add("dtstart", place(content.start))
    vevent.add("dtend", place(content.end))
    vevent.add("summary", content.summary)
    if content.description:
        vevent.add("description", content.description)
    if content.location is not None and content.location.description:
        vevent.add("location", content.location.description)
    vevent.add("status", content.status.upper())
    vevent.add("transp", content.transparency.upper())
    if content.private:
        vevent.add("class", "PRIVATE")
    if content.url:
        vevent.add("url", content.url)
    if content.organizer is not None:
        organizer = icalendar.vCalAddress(f"mailto:{content.organizer.email}")
        if content.organizer.display_name:
            organizer.params["CN"] = content.organizer.display_name
        vevent.add("organizer", organizer)
    for attendee in content.attendees:
        address = icalendar.vCalAddress(f"mailto:{attendee.email}")
        if attendee.display_name:
            address.params["CN"] = attendee.display_name
        address.params["PARTSTAT"] = attendee.status.upper().replace("_", "-")
        vevent.add("attendee", address)
    if content.recurrence:
        for name, value in recurrence_properties(content.recurrence):
            vevent.add(name, value, encode=False)
    if content.original_start is not None and series_tzid is not None:
        # The provider's own RECURRENCE-ID when calsync kept it (RANGE=THISANDFUTURE).
        vevent.add("recurrence-id", recurrence_id_property(content), encode=False)
    return vevent


def render_feed(calendar: CalendarRecord, events: list[EventRecord]) -> bytes:
    """The VCALENDAR of a calendar's live events (masters, overrides, singles)."""
    cal = icalendar.Calendar()
    cal.add("prodid", _PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", calendar.name)
    masters = {e.event_uid: e for e in events if e.content.recurring}
    for event in sorted(events, key=lambda e: e.pk):
        master = masters.get(event.recurring_event_uid or "")
        if event.content.recurring:
            vevent = _vevent(event, event.event_uid, event.content.tzid)
        elif master is not None and event.content.original_start is not None:
            # In its own zone, as the read API expands it: a RANGE=THISANDFUTURE
            # shift is its start less its RECURRENCE-ID, wall-clock within one zone.
            vevent = _vevent(event, master.event_uid, event.content.tzid)
        else:  # a single event, or an instance whose master is gone
            vevent = _vevent(event, event.event_uid, None)
        cal.add_component(vevent)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {part.strip() for part in header.split(",")}
    return "*" in candidates or etag in candidates


_ETAG = {"ETag": {"description": "The feed's version.", "schema": {"type": "string"}}}


@router.get(
    "/ical/{feed_token}.ics",
    response_class=Response,
    responses={
        200: {
            "description": "The calendar as RFC 5545 iCalendar.",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
            "headers": _ETAG,
        },
        304: {"description": "Unchanged since the ETag given in If-None-Match.", "headers": _ETAG},
        **responses(404, 429, 503),
    },
    openapi_extra={
        "parameters": [
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "ETags already held; a match is answered 304.",
            }
        ]
    },
)
def ical_feed(feed_token: str, request: Request, services: Services) -> Response:
    if len(feed_token) > 128:
        raise NotFound("unknown feed")
    with services.store.read() as uow:
        calendar = uow.calendars.get_by_feed_token(feed_token)
        if calendar is None or calendar.deleted:
            raise NotFound("unknown feed")
        events = uow.events.list_calendar(calendar.pk)
    body = render_feed(calendar, events)
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
