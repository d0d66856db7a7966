"""Events in the unified model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

#: An event boundary: an aware UTC ``datetime``, or a ``date`` for all-day events.
#: All-day ends are exclusive, as in iCalendar and Cronofy.
EventTime = datetime | date

TRANSPARENCIES = ("opaque", "transparent")
STATUSES = ("confirmed", "tentative", "cancelled")
ATTENDEE_STATUSES = ("needs_action", "accepted", "declined", "tentative", "unknown")


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    display_name: str | None = None
    status: str = "needs_action"


@dataclass(frozen=True, slots=True)
class Location:
    description: str | None = None
    lat: str | None = None
    long: str | None = None


@dataclass(frozen=True, slots=True)
class EventContent:
    """What an event says, independent of where it is stored.

    This is exactly the part that is fingerprinted: two versions with equal
    content are the same event, whatever their etags say.
    """

    summary: str
    start: EventTime
    end: EventTime
    #: The zone the event was written in; instants stay UTC, this is for display
    #: and recurrence expansion (an RRULE repeats in local time).
    tzid: str = "Etc/UTC"
    description: str = ""
    location: Location | None = None
    attendees: tuple[Attendee, ...] = ()
    organizer: Attendee | None = None
    transparency: str = "opaque"
    status: str = "confirmed"
    #: RRULE / RDATE / EXDATE lines of a recurring master, verbatim iCalendar
    #: content lines ("RRULE:FREQ=WEEKLY;COUNT=5"); empty for single events.
    recurrence: tuple[str, ...] = ()
    #: On an override of one occurrence: the occurrence's original start
    #: (iCalendar RECURRENCE-ID, Google originalStartTime, Graph originalStart).
    original_start: EventTime | None = None
    url: str | None = None
    color: str | None = None
    private: bool = False
    #: On an override read from iCalendar: its RECURRENCE-ID content line as the
    #: provider wrote it, when that says more than ``original_start`` does:
    #: ``RANGE=THISANDFUTURE`` (the change applies to the later occurrences too),
    #: or a zone or value type other than the override's own ``tzid``. The read
    #: side hands it to the expansion as is. None otherwise (and for other providers).
    recurrence_id: str | None = None

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def recurring(self) -> bool:
        return bool(self.recurrence)

    def fingerprint(self) -> str:
        return content_fingerprint(self)


#: Fields added after fingerprints were first stored: left out while unset, so
#: every fingerprint computed before they existed stays valid.
_OMITTED_WHEN_UNSET = frozenset(("recurrence_id",))


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    slots = getattr(type(value), "__slots__", ())
    return {
        name: _canonical(getattr(value, name))
        for name in slots
        if not (name in _OMITTED_WHEN_UNSET and getattr(value, name) is None)
    }


def content_fingerprint(content: EventContent) -> str:
    """A stable hash of the content; equal content gives an equal fingerprint."""
    return _digest(_canonical(content))


def round_trip_view(content: EventContent) -> dict[str, Any]:
    """The part of the content every writable provider stores and lists back
    unchanged (the provider contract tests exactly this).

    A provider may add to what it was sent (Google sets the organizer, a
    CalDAV server may add attendees' defaults), so the whole fingerprint of an
    event calsync pushed can differ from the fingerprint of the same event
    listed back. This view cannot: it is what recognises our own push coming
    back (`round_trip_key`).
    """
    location = content.location.description if content.location else None
    return {
        "summary": content.summary,
        "start": content.start,
        "end": content.end,
        "all_day": content.all_day,
        "tzid": None if content.all_day else content.tzid,
        "description": content.description or "",
        "location": location or None,
        "recurrence": tuple(content.recurrence),
        "original_start": content.original_start,
        "transparency": content.transparency,
        "status": content.status,
    }


def round_trip_key(content: EventContent) -> str:
    """A hash of `round_trip_view`: equal for what calsync sent and what the
    provider lists back for it."""
    view = round_trip_view(content)
    return _digest({name: _canonical(value) for name, value in view.items()})


def _digest(canonical: Any) -> str:
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """One event as a provider lists it: its content plus the remote identity."""

    #: Opaque, unique within its remote calendar (Google id, Graph id, CalDAV
    #: href, or href plus RECURRENCE-ID for an override inside one resource).
    remote_id: str
    content: EventContent
    ical_uid: str | None = None
    #: Version tag; may change without the content changing (we compare content).
    etag: str | None = None
    remote_updated: datetime | None = None
    #: For an override or instance of a series: the master's ``remote_id``.
    master_remote_id: str | None = None
    #: Set on events calsync itself pushed (Google extendedProperties.private,
    #: an X- property on CalDAV), so our own writes coming back are recognised.
    origin_event_uid: str | None = field(default=None, compare=False)
