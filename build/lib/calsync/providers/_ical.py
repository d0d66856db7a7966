"""iCalendar <-> unified model, shared by the CalDAV and ICS-feed providers.

Reading decisions (the engine and the read API rely on them):

- A ``DATE`` DTSTART makes an all-day event: ``date`` start and exclusive ``date`` end.
- A ``TZID``'d time becomes an aware UTC instant; ``content.tzid`` keeps the zone
  (the IANA key when the zone resolved to one, else the TZID text as written).
- A UTC (``Z``) time gets ``tzid = "Etc/UTC"``.
- A *floating* time (no zone at all) is read as UTC with ``tzid = "Etc/UTC"``: a feed
  or resource carries no reliable "calendar zone" to interpret it in, and UTC is
  at least stable across machines. Except where recurring-ical-events (which
  expands series for the read API) reads it otherwise: a floating DTSTART next
  to an aware DTEND, EXDATE or RDATE takes that value's zone, as it does there.
- The end is what recurring-ical-events makes of DTEND / DURATION: the
  duration is added in the start's wall-clock time (``DURATION:PT2H`` across a
  DST change ends two wall-clock hours later), and an end before the start
  swaps the two. See `event_times`.
- RRULE / RDATE / EXDATE / EXRULE lines of a master are kept as iCalendar content
  lines, *with their TZID parameter as written* (not normalised to UTC), so an
  RRULE keeps repeating in local time and recurring-ical-events can expand them
  against DTSTART in ``content.tzid``. Lines are re-serialised by icalendar:
  values and parameters are kept, but RRULE parts come back in icalendar's
  canonical order (``FREQ=WEEKLY;BYDAY=MO;COUNT=6`` reads as
  ``FREQ=WEEKLY;COUNT=6;BYDAY=MO``). Lines we write go out exactly as given.
- An override (same UID plus RECURRENCE-ID) carries ``content.original_start``;
  its key inside a resource is `recurrence_key` (UTC basic form). When its
  RECURRENCE-ID says more than that (``RANGE=THISANDFUTURE``, or another zone
  or value type than the override's own), ``content.recurrence_id`` keeps the
  line (see `kept_recurrence_id`), and the read side expands with it.

Each resource or feed is parsed exactly once (icalendar costs about 1 ms per
event); conversion reads only the properties the model has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event
from icalendar.parser import Contentline

from calsync.errors import ProviderError, UserError
from calsync.model import Attendee, EventContent, Location

#: Marks events calsync pushed, carrying our ``event_uid`` (RemoteEvent.origin_event_uid).
ORIGIN_PROPERTY = "X-CALSYNC-EVENT-UID"
RECURRENCE_PROPERTIES = ("RRULE", "RDATE", "EXDATE", "EXRULE")
PRODID = "-//calsync//calsync//EN"

#: Properties `apply_content` owns; everything else on a VEVENT (alarms, X- props,
#: categories) survives an update untouched.
_MODELLED = (
    "SUMMARY",
    "DTSTART",
    "DTEND",
    "DURATION",
    "DESCRIPTION",
    "LOCATION",
    "GEO",
    "ATTENDEE",
    "ORGANIZER",
    "TRANSP",
    "STATUS",
    *RECURRENCE_PROPERTIES,
    "RECURRENCE-ID",
    "URL",
    "COLOR",
    "CLASS",
    "DTSTAMP",
    "LAST-MODIFIED",
)

_PARTSTAT_TO_STATUS = {
    "NEEDS-ACTION": "needs_action",
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
}
_STATUS_TO_PARTSTAT = {v: k for k, v in _PARTSTAT_TO_STATUS.items()}


#: icalendar's components and property values are typed as wide unions that
#: strict mypy cannot narrow by attribute; we read them by shape and let the
#: conversion's own exceptions (caught in `events_of`) catch malformed input.
Component = Any


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One VEVENT converted to the model, with its identity inside the resource."""

    uid: str
    #: `recurrence_key` of RECURRENCE-ID on an override; None on a master or single event.
    recurrence_key: str | None
    content: EventContent
    origin_event_uid: str | None
    remote_updated: datetime | None


# -- reading -------------------------------------------------------------------


def parse_calendar(data: bytes | str) -> Calendar:
    """Parse one VCALENDAR; `ProviderError` when it is not valid iCalendar."""
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise ProviderError(f"invalid iCalendar data: {exc}") from exc
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise ProviderError("invalid iCalendar data: no VCALENDAR")
    return calendar


def parse_events(data: bytes | str) -> list[ParsedEvent]:
    """Every VEVENT of one VCALENDAR, converted. A VEVENT without UID or DTSTART is skipped."""
    return list(events_of(parse_calendar(data)))


def events_of(calendar: Calendar) -> Iterator[ParsedEvent]:
    vevent: Component
    for vevent in calendar.walk("VEVENT"):
        uid = vevent.get("UID")
        if uid is None or vevent.get("DTSTART") is None:
            continue
        try:
            content = vevent_to_content(vevent)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(f"invalid VEVENT {str(uid)!r}: {exc}") from exc
        recurrence_id = vevent.get("RECURRENCE-ID")
        origin = vevent.get(ORIGIN_PROPERTY)
        yield ParsedEvent(
            uid=str(uid),
            recurrence_key=None if recurrence_id is None else recurrence_key(recurrence_id.dt),
            content=content,
            origin_event_uid=None if origin is None else str(origin),
            remote_updated=_updated(vevent),
        )


def recurrence_key(value: date | datetime) -> str:
    """An occurrence's id inside its series: ``20260301T140000Z`` (UTC) or ``20260301`` (date)."""
    if isinstance(value, datetime):
        return _to_utc(value).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def vevent_to_content(vevent: Component) -> EventContent:
    dtstart = vevent["DTSTART"]
    recurrence_id = vevent.get("RECURRENCE-ID")
    dtend = vevent.get("DTEND")
    duration = vevent.get("DURATION")
    start, end, tzid = event_times(
        dtstart.dt,
        dtstart.params.get("TZID"),
        None if dtend is None else dtend.dt,
        None if dtend is None else dtend.params.get("TZID"),
        duration.dt if duration is not None and isinstance(duration.dt, timedelta) else None,
        floating_zone=None if recurrence_id is not None else _floating_zone(vevent),
    )
    original_start = None if recurrence_id is None else _instant(recurrence_id.dt, None)[0]
    return EventContent(
        summary=_text(vevent.get("SUMMARY")),
        start=start,
        end=end,
        tzid=tzid,
        description=_text(vevent.get("DESCRIPTION")),
        location=_location(vevent),
        attendees=tuple(_attendee(a) for a in _as_list(vevent.get("ATTENDEE"))),
        organizer=None if vevent.get("ORGANIZER") is None else _attendee(vevent["ORGANIZER"]),
        transparency="transparent" if _upper(vevent.get("TRANSP")) == "TRANSPARENT" else "opaque",
        status={"TENTATIVE": "tentative", "CANCELLED": "cancelled"}.get(
            _upper(vevent.get("STATUS")), "confirmed"
        ),
        recurrence=() if recurrence_id is not None else _recurrence_lines(vevent),
        original_start=original_start,
        url=_text(vevent.get("URL")) or None,
        color=_text(vevent.get("COLOR")) or None,
        private=_upper(vevent.get("CLASS")) in ("PRIVATE", "CONFIDENTIAL"),
        recurrence_id=None
        if recurrence_id is None or original_start is None
        else kept_recurrence_id(
            str(vevent.content_line("RECURRENCE-ID", recurrence_id)), original_start, tzid
        ),
    )


def event_times(
    start_value: date | datetime,
    start_tzid: Any,
    end_value: date | datetime | None,
    end_tzid: Any,
    duration: timedelta | None,
    *,
    floating_zone: tzinfo | None = None,
) -> tuple[date | datetime, date | datetime, str]:
    """``(start, end, tzid)`` of DTSTART and DTEND / DURATION, as recurring-ical-events
    reads them (its ``EventAdapter.raw_end`` and ``span``): the read API expands
    series with it, and a series' first occurrence must be the stored event.

    * A floating DTSTART with ``floating_zone`` (see `_floating_zone`) is in that zone.
    * No DTEND: DTSTART plus DURATION, else a day (DATE) or nothing (DATE-TIME).
    * Start and end are made comparable the library's way (a DATE or floating
      value takes the other's zone); an end before the start swaps them.
    * A timed end is the start plus the duration *in the start's wall-clock
      time*: Python's aware arithmetic, which is what the library repeats.
    """
    if floating_zone is not None and _is_floating(start_value):
        start_value = start_value.replace(tzinfo=floating_zone)
        if end_value is not None and _is_floating(end_value):
            end_value = end_value.replace(tzinfo=floating_zone)
    if not isinstance(start_value, datetime):
        return _all_day_times(start_value, end_value, duration)
    if end_value is None:
        end_value = start_value if duration is None else start_value + duration
        end_tzid = start_tzid
    first, last = _comparable(start_value, end_value)
    if first > last:
        first, last, start_tzid = last, first, end_tzid
    start, tzid = _instant(first, start_tzid)
    return start, _instant(first + (last - first), None)[0], tzid


def _all_day_times(
    start: date, end_value: date | datetime | None, duration: timedelta | None
) -> tuple[date, date, str]:
    """An all-day event's dates (a timed DTEND or a DURATION in hours keeps its day)."""
    if end_value is not None:
        end = end_value.date() if isinstance(end_value, datetime) else end_value
    elif duration is not None:
        end = start + duration
    else:
        end = start + timedelta(days=1)
    return (end, start, "Etc/UTC") if end < start else (start, end, "Etc/UTC")


def _is_floating(value: date | datetime) -> TypeGuard[datetime]:
    return isinstance(value, datetime) and value.tzinfo is None


def _comparable(start: datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """recurring-ical-events' ``make_comparable`` for a (DATE-TIME start, end) pair."""
    zone = start.tzinfo
    if zone is None and isinstance(end, datetime):
        zone = end.tzinfo
    if not isinstance(end, datetime):
        end = datetime(end.year, end.month, end.day)
    if zone is not None:
        start = start if start.tzinfo is not None else start.replace(tzinfo=zone)
        end = end if end.tzinfo is not None else end.replace(tzinfo=zone)
    return start, end


def _floating_zone(vevent: Component) -> tzinfo | None:
    """The zone recurring-ical-events reads a floating series in: that of its first
    aware EXDATE, else RDATE value (an aware DTEND is `_comparable`'s business).

    None when the series has no aware value (then floating means UTC here).
    """
    start = vevent["DTSTART"].dt
    if not _is_floating(start):
        return None
    for name in ("EXDATE", "RDATE"):
        for prop in _as_list(vevent.get(name)):
            for item in getattr(prop, "dts", ()):
                value = item.dt[0] if isinstance(item.dt, tuple) else item.dt
                if isinstance(value, datetime) and value.tzinfo is not None:
                    zone: tzinfo = value.tzinfo
                    return zone
    return None


def kept_recurrence_id(line: str, original_start: date | datetime, tzid: str) -> str | None:
    """The RECURRENCE-ID line to keep for an override, or None when ``original_start``
    in the override's own zone says the same (so the read side can rebuild it, and
    an override calsync wrote reads back as it was written)."""
    return None if line == _rebuilt_recurrence_id(original_start, tzid) else line


@lru_cache(maxsize=1024)
def _rebuilt_recurrence_id(original_start: date | datetime, tzid: str) -> str:
    """The RECURRENCE-ID line `apply_content` writes (and the read side rebuilds)."""
    holder = Event()
    holder.add("RECURRENCE-ID", _local(original_start, tzid))
    return str(holder.content_line("RECURRENCE-ID", holder["RECURRENCE-ID"]))


def _instant(value: date | datetime, tzid_param: Any) -> tuple[date | datetime, str]:
    if not isinstance(value, datetime):
        return value, "Etc/UTC"
    tz = value.tzinfo
    if tz is None:  # floating: read as UTC (see module docstring)
        return value.replace(tzinfo=UTC), "Etc/UTC"
    if isinstance(tz, ZoneInfo):
        name = tz.key
    elif tzid_param:
        name = str(tzid_param)
    else:
        name = "Etc/UTC"
    if name in ("UTC", "Z", "GMT"):
        name = "Etc/UTC"
    return value.astimezone(UTC), name


def _to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _recurrence_lines(vevent: Component) -> tuple[str, ...]:
    lines: list[str] = []
    for name in RECURRENCE_PROPERTIES:
        for value in _as_list(vevent.get(name)):
            lines.append(str(vevent.content_line(name, value)))
    return tuple(lines)


def _location(vevent: Component) -> Location | None:
    text = _text(vevent.get("LOCATION")) or None
    geo = vevent.get("GEO")
    if text is None and geo is None:
        return None
    if geo is None:
        return Location(description=text)
    return Location(description=text, lat=str(geo.latitude), long=str(geo.longitude))


def _attendee(value: Any) -> Attendee:
    address = str(value)
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:") :]
    params = getattr(value, "params", {})
    name = params.get("CN")
    return Attendee(
        email=address,
        display_name=str(name) if name else None,
        status=_PARTSTAT_TO_STATUS.get(
            str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(), "unknown"
        ),
    )


def _updated(vevent: Component) -> datetime | None:
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        prop = vevent.get(name)
        if prop is not None and isinstance(prop.dt, datetime):
            return _to_utc(prop.dt)
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _upper(value: Any) -> str:
    return _text(value).upper()


# -- writing -------------------------------------------------------------------


class _RawValue:
    """A property value written exactly as given (recurrence lines from any provider)."""

    def __init__(self, value: str, params: Any) -> None:
        self.value = value
        self.params = params

    def to_ical(self) -> bytes:
        return self.value.encode()


def new_calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    return calendar


def new_vevent(uid: str, content: EventContent, *, origin_event_uid: str | None) -> Component:
    vevent = Event()
    vevent.add("UID", uid)
    if origin_event_uid is not None:
        vevent.add(ORIGIN_PROPERTY, origin_event_uid)
    apply_content(vevent, content)
    return vevent


def apply_content(vevent: Component, content: EventContent) -> None:
    """Rewrite the modelled properties of ``vevent`` from ``content``; keep the rest."""
    for name in _MODELLED:
        while name in vevent:
            del vevent[name]
    vevent.add("DTSTAMP", datetime.now(UTC).replace(microsecond=0))
    vevent.add("SUMMARY", content.summary)
    vevent.add("DTSTART", _local(content.start, content.tzid))
    vevent.add("DTEND", _local(content.end, content.tzid))
    if content.original_start is not None:
        vevent.add("RECURRENCE-ID", _recurrence_id_value(content), encode=False)
    if content.description:
        vevent.add("DESCRIPTION", content.description)
    if content.location is not None:
        if content.location.description:
            vevent.add("LOCATION", content.location.description)
        if content.location.lat and content.location.long:
            vevent.add("GEO", (float(content.location.lat), float(content.location.long)))
    if content.organizer is not None:
        vevent.add("ORGANIZER", *_address(content.organizer, partstat=False))
    for attendee in content.attendees:
        vevent.add("ATTENDEE", *_address(attendee))
    vevent.add("TRANSP", "TRANSPARENT" if content.transparency == "transparent" else "OPAQUE")
    vevent.add("STATUS", content.status.upper())
    for line in content.recurrence:
        name, params, value = _split_line(line)
        vevent.add(name, _RawValue(value, params), encode=False)
    if content.url:
        vevent.add("URL", content.url)
    if content.color:
        vevent.add("COLOR", content.color)
    if content.private:
        vevent.add("CLASS", "PRIVATE")
    sequence = vevent.get("SEQUENCE")
    if sequence is not None:
        del vevent["SEQUENCE"]
        vevent.add("SEQUENCE", int(sequence) + 1)


def _recurrence_id_value(content: EventContent) -> Any:
    """The override's RECURRENCE-ID: the provider's own line while it still names
    ``original_start`` (so RANGE=THISANDFUTURE survives an update), else rebuilt."""
    assert content.original_start is not None
    rebuilt = Event()
    rebuilt.add("RECURRENCE-ID", _local(content.original_start, content.tzid))
    if content.recurrence_id:
        try:
            kept: Component = Event.from_ical(
                f"BEGIN:VEVENT\r\n{content.recurrence_id}\r\nEND:VEVENT\r\n"
            )
            value = kept["RECURRENCE-ID"]
            if recurrence_key(value.dt) == recurrence_key(content.original_start):
                return value
        except (ValueError, KeyError, TypeError):
            pass  # a line we cannot read back: write what the model says
    return rebuilt["RECURRENCE-ID"]


def _split_line(line: str) -> tuple[str, Any, str]:
    try:
        name, params, value = Contentline(line.strip()).parts()  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise UserError(f"invalid recurrence line {line!r}: {exc}") from exc
    name = name.upper()
    if name not in RECURRENCE_PROPERTIES:
        raise UserError(f"not a recurrence line: {line!r}")
    return name, params, value


def _local(value: date | datetime, tzid: str) -> date | datetime:
    """An instant in its zone, so the server stores TZID'd local time; dates stay dates."""
    if not isinstance(value, datetime):
        return value
    instant = _to_utc(value)
    if tzid in ("Etc/UTC", "UTC", ""):
        return instant
    try:
        return instant.astimezone(ZoneInfo(tzid))
    except (ZoneInfoNotFoundError, ValueError):
        return instant


def _address(person: Attendee, *, partstat: bool = True) -> tuple[str, dict[str, str]]:
    params: dict[str, str] = {}
    if partstat:
        params["PARTSTAT"] = _STATUS_TO_PARTSTAT.get(person.status, "NEEDS-ACTION")
    if person.display_name:
        params["CN"] = person.display_name
    return f"mailto:{person.email}", params


def serialize(calendar: Calendar) -> bytes:
    """The resource body; adds the VTIMEZONEs RFC 5545 requires for every TZID used."""
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


def calendar_of(vevents: Iterable[Component]) -> Calendar:
    calendar = new_calendar()
    for vevent in vevents:
        calendar.add_component(vevent)
    return calendar
