"""A fast reader for the VEVENTs of one VCALENDAR: only the model's fields.

icalendar builds a full object tree (every property typed, every VTIMEZONE
turned into a tzinfo) at about 1 ms per event, which dominates a large CalDAV
sync. This reader scans the content lines once, keeps the lines of the
properties `calsync.providers._ical.vevent_to_content` reads, and converts
only those, in about a tenth of the time.

It must give exactly what the icalendar path gives, so it is deliberately
narrow: whenever a resource holds anything outside the shapes it knows (a TZID
that is not an IANA zone, RFC 6868 ``^`` escapes or backslashes in parameters,
``VALUE=`` on a property it reads, a repeated single-valued property, nested
VEVENTs, a floating series with zoned EXDATE / RDATE values, unparsable
values...) it returns None and `parse_events` falls back to icalendar for that
resource. Both readers share the decisions that need care (`_ical.event_times`,
`_ical.kept_recurrence_id`). tests/unit/test_ical_fast.py and
tests/unit/test_recurrence_fidelity.py check the two paths agree on generated
events and series.

Recurrence lines are re-serialised through icalendar (the slow path's
canonical form), on a small VEVENT holding only those lines, and memoised: a
calendar's recurring events tend to share their RRULE lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from icalendar import Event

from calsync.model import Attendee, EventContent, Location
from calsync.providers import _ical

__all__ = ["parse_events", "parse_events_fast"]

#: A fold: CRLF (or LF) followed by one space or tab. The same pattern as icalendar's.
_UNFOLD = re.compile(r"(?:(?<!\n)\r\n|(?<![\r\n])\n)(?:\r?\n)*[ \t]")
_NEWLINE = re.compile(r"\r?\n")
_PARAM_VALUE = r'(?:"[^"\\^]*"|[^";:,\\^]*)'
_PARAMS = rf"(?:;[A-Za-z0-9-]+={_PARAM_VALUE}(?:,{_PARAM_VALUE})*)*"
#: name, parameter section, then the value after the first colon outside quotes.
_LINE = re.compile(rf"([A-Za-z0-9-]+)({_PARAMS}):")
_PARAM = re.compile(rf";([A-Za-z0-9-]+)=({_PARAM_VALUE}(?:,{_PARAM_VALUE})*)")
_TEXT_ESCAPE = re.compile(r"\\([\\,;:nN])")
_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)\Z")
_DATETIME = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(Z?)\Z")
_DURATION = re.compile(r"([-+]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?\Z")

_SINGLE = frozenset(
    (
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "SUMMARY",
        "DESCRIPTION",
        "LOCATION",
        "GEO",
        "ORGANIZER",
        "TRANSP",
        "STATUS",
        "RECURRENCE-ID",
        "URL",
        "COLOR",
        "CLASS",
        "LAST-MODIFIED",
        "DTSTAMP",
        _ical.ORIGIN_PROPERTY,
    )
)
_RECURRENCE = frozenset(_ical.RECURRENCE_PROPERTIES)
_WANTED = _SINGLE | _RECURRENCE | {"ATTENDEE"}
_VERBATIM = frozenset(("COLOR", _ical.ORIGIN_PROPERTY))
#: Properties whose value may carry a TZID / VALUE parameter we interpret.
_DATED = frozenset(("DTSTART", "DTEND", "RECURRENCE-ID"))

#: (parameter section, value as written) per property name, in document order.
_Props = dict[str, list[tuple[str, str]]]


class _Unsupported(Exception):
    """The resource is outside the fast reader's shapes: use icalendar."""


def parse_events(data: str | bytes) -> list[_ical.ParsedEvent]:
    """Every VEVENT of one VCALENDAR, converted; the same result as `_ical.parse_events`."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    fast = parse_events_fast(text)
    return fast if fast is not None else _ical.parse_events(data)


def parse_events_fast(data: str) -> list[_ical.ParsedEvent] | None:
    """The fast path alone: None when this resource needs icalendar."""
    try:
        return [event for props in _vevents(data) if (event := _convert(props)) is not None]
    except (_Unsupported, ValueError, TypeError, OverflowError, KeyError):
        return None


# -- scanning --------------------------------------------------------------------


def _vevents(data: str) -> list[_Props]:
    if "\n " in data or "\n\t" in data:
        data = _UNFOLD.sub("", data)
    stack: list[str] = []
    found: list[_Props] = []
    current: _Props | None = None
    for line in _NEWLINE.split(data):
        if not line:
            continue
        # A property of VCALENDAR, VTIMEZONE, VALARM...: nothing the model reads.
        # (Any line that might be BEGIN/END, in any case, takes the full path below.)
        if stack and stack[-1] != "VEVENT" and line[:1] not in ("b", "B", "e", "E"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise _Unsupported(line)
        name = match.group(1).upper()
        value = line[match.end() :]
        if name == "BEGIN" or name == "END":
            if match.group(2) or value != value.upper() or not value:
                raise _Unsupported(line)
            if name == "BEGIN":
                if not stack and value != "VCALENDAR":
                    raise _Unsupported(line)
                if value == "VEVENT":
                    if stack != ["VCALENDAR"]:
                        raise _Unsupported("nested VEVENT")
                    current = {}
                    found.append(current)
                stack.append(value)
            else:
                if not stack or stack.pop() != value:
                    raise _Unsupported("unbalanced END")
                if value == "VEVENT":
                    current = None
                if not stack and value == "VCALENDAR":
                    stack.append("<done>")  # anything after the calendar: icalendar decides
            continue
        if not stack or stack[-1] == "<done>":
            raise _Unsupported(line)
        if current is not None and stack[-1] == "VEVENT" and name in _WANTED:
            params = match.group(2)
            raw = line if name in _RECURRENCE else value
            current.setdefault(name, []).append((params, raw))
    if stack != ["<done>"]:
        raise _Unsupported("no complete VCALENDAR")
    return found


def _params(section: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in _PARAM.findall(section):
        key = key.upper()
        if key in params or ("," in value and not value.startswith('"')):
            raise _Unsupported(section)  # repeated or list-valued: icalendar's business
        if value.startswith('"'):
            if not (len(value) >= 2 and value.endswith('"')) or '"' in value[1:-1]:
                raise _Unsupported(section)
            value = value[1:-1]
        elif value != value.strip(" \t"):
            raise _Unsupported(section)
        params[key] = value
    return params


# -- converting --------------------------------------------------------------------


def _convert(props: _Props) -> _ical.ParsedEvent | None:
    for name, values in props.items():
        if name in _SINGLE and len(values) > 1:
            raise _Unsupported(f"repeated {name}")
        if name not in _DATED and name not in _RECURRENCE:
            for section, _ in values:
                if section and "VALUE=" in section.upper():
                    raise _Unsupported(f"VALUE on {name}")
    if "UID" not in props or "DTSTART" not in props:
        return None
    start_value = _when(*props["DTSTART"][0])
    recurrence_id = None if "RECURRENCE-ID" not in props else _when(*props["RECURRENCE-ID"][0])
    if recurrence_id is None and _ical._is_floating(start_value) and _aware_recurrence(props):
        raise _Unsupported("a floating series with zoned dates")  # see _ical._floating_zone
    end_value, duration = _end(props)
    start, end, tzid = _ical.event_times(start_value, None, end_value, None, duration)
    original_start = None if recurrence_id is None else _ical._instant(recurrence_id, None)[0]
    organizer = props.get("ORGANIZER")
    content = EventContent(
        summary=_text(props, "SUMMARY"),
        start=start,
        end=end,
        tzid=tzid,
        description=_text(props, "DESCRIPTION"),
        location=_location(props),
        attendees=tuple(_attendee(*a) for a in props.get("ATTENDEE", ())),
        organizer=None if organizer is None else _attendee(*organizer[0]),
        transparency="transparent" if _text(props, "TRANSP").upper() == "TRANSPARENT" else "opaque",
        status={"TENTATIVE": "tentative", "CANCELLED": "cancelled"}.get(
            _text(props, "STATUS").upper(), "confirmed"
        ),
        recurrence=() if recurrence_id is not None else _recurrence(props),
        original_start=original_start,
        url=_text(props, "URL") or None,
        color=_text(props, "COLOR") or None,
        private=_text(props, "CLASS").upper() in ("PRIVATE", "CONFIDENTIAL"),
        recurrence_id=None
        if recurrence_id is None or original_start is None
        else _recurrence_id(props["RECURRENCE-ID"][0], recurrence_id, original_start, tzid),
    )
    origin = props.get(_ical.ORIGIN_PROPERTY)
    return _ical.ParsedEvent(
        uid=_text(props, "UID"),
        recurrence_key=None if recurrence_id is None else _ical.recurrence_key(recurrence_id),
        content=content,
        origin_event_uid=None if origin is None else origin[0][1],  # X- values stay verbatim
        remote_updated=_updated(props),
    )


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _text(props: _Props, name: str) -> str:
    values = props.get(name)
    if values is None:
        return ""
    # icalendar reads COLOR (and X- properties) as UNKNOWN: verbatim, no unescaping.
    return values[0][1] if name in _VERBATIM else _unescape(values[0][1])


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(tzid: str) -> ZoneInfo:
    # icalendar resolves an IANA key to ZoneInfo(key) whatever VTIMEZONE the
    # resource carries; anything else (Windows names, vendor prefixes, custom
    # VTIMEZONEs) goes to icalendar.
    if tzid not in _known_zones():
        raise _Unsupported(f"TZID {tzid}")
    return ZoneInfo(tzid)


def _when(section: str, value: str) -> date | datetime:
    """A DATE or DATE-TIME value with its TZID / VALUE parameters."""
    params = _params(section) if section else {}
    kind = params.get("VALUE")
    tzid = params.get("TZID")
    found = _DATE.match(value)
    if found is not None:
        if kind not in (None, "DATE") or tzid is not None:
            raise _Unsupported(value)
        return date(int(found[1]), int(found[2]), int(found[3]))
    found = _DATETIME.match(value)
    if found is None or kind not in (None, "DATE-TIME"):
        raise _Unsupported(value)
    if found[7]:
        if tzid is not None:
            raise _Unsupported(value)
        zone: ZoneInfo | None = None
        tz: object = UTC
    else:
        zone = None if tzid is None else _zone(tzid)
        tz = zone
    year, month, day, hour, minute, second = (int(found[i]) for i in range(1, 7))
    return datetime(year, month, day, hour, minute, second, tzinfo=tz)  # type: ignore[arg-type]


def _end(props: _Props) -> tuple[date | datetime | None, timedelta | None]:
    """DTEND's value, or DURATION's (for `_ical.event_times`)."""
    dtend = props.get("DTEND")
    if dtend is not None:
        return _when(*dtend[0]), None
    duration = props.get("DURATION")
    if duration is None:
        return None, None
    section, value = duration[0]
    if section:
        raise _Unsupported("DURATION parameters")
    found = _DURATION.match(value)
    if found is None:
        raise _Unsupported(value)
    sign, weeks, days, hours, minutes, seconds = found.groups()
    delta = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return None, -delta if sign == "-" else delta


def _aware_recurrence(props: _Props) -> bool:
    """Whether an RDATE or EXDATE value carries a zone (TZID or UTC)."""
    for name in ("RDATE", "EXDATE"):
        for section, line in props.get(name, ()):
            if "TZID" in section.upper() or "Z" in line[line.index(":") :].upper():
                return True
    return False


def _recurrence_id(
    raw: tuple[str, str], value: date | datetime, original_start: date | datetime, tzid: str
) -> str | None:
    """`_ical.kept_recurrence_id` of the RECURRENCE-ID line as icalendar re-serialises it."""
    if _as_rebuilt(raw[0], value, tzid):
        return None
    line = f"RECURRENCE-ID{raw[0]}:{raw[1]}"
    return _ical.kept_recurrence_id(_canonical_line(line), original_start, tzid)


def _as_rebuilt(section: str, value: date | datetime, tzid: str) -> bool:
    """Whether the line is written exactly as `_ical` rebuilds it from the override's
    original start in its own zone (the common case, decided without icalendar)."""
    if not isinstance(value, datetime):
        return section == ";VALUE=DATE"
    if value.tzinfo is UTC:
        return section == "" and tzid == "Etc/UTC"
    zone = value.tzinfo
    if not isinstance(zone, ZoneInfo) or zone.key != tzid or section != f";TZID={tzid}":
        return False
    wall = value.replace(tzinfo=None)
    return value.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall  # not in a gap


@lru_cache(maxsize=1024)
def _canonical_line(line: str) -> str:
    vevent = Event.from_ical(f"BEGIN:VEVENT\r\n{line}\r\nEND:VEVENT\r\n")
    name = line.partition(";")[0].partition(":")[0].upper()
    return str(vevent.content_line(name, vevent[name]))


def _location(props: _Props) -> Location | None:
    text = _text(props, "LOCATION") or None
    geo = props.get("GEO")
    if geo is None:
        return None if text is None else Location(description=text)
    value = geo[0][1]
    if "\\" in value:
        raise _Unsupported(value)
    latitude, longitude = value.split(";")
    lat, long = float(latitude), float(longitude)
    if lat != lat or long != long or abs(lat) == float("inf") or abs(long) == float("inf"):
        raise _Unsupported(value)
    return Location(description=text, lat=str(lat), long=str(long))


def _attendee(section: str, value: str) -> Attendee:
    address = _unescape(value)
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:") :]
    params = _params(section) if section else {}
    name = params.get("CN")
    return Attendee(
        email=address,
        display_name=name or None,
        status=_ical._PARTSTAT_TO_STATUS.get(
            params.get("PARTSTAT", "NEEDS-ACTION").upper(), "unknown"
        ),
    )


def _updated(props: _Props) -> datetime | None:
    for name in ("LAST-MODIFIED", "DTSTAMP"):
        values = props.get(name)
        if values is None:
            continue
        section, value = values[0]
        if section:
            raise _Unsupported(f"{name} parameters")
        found = _DATETIME.match(value)
        if found is not None:
            return _ical._to_utc(_when("", value))  # type: ignore[arg-type]
        if _DATE.match(value) is None:
            raise _Unsupported(value)
    return None


def _recurrence(props: _Props) -> tuple[str, ...]:
    lines = [line for name, values in props.items() if name in _RECURRENCE for _, line in values]
    if not lines:
        return ()
    for name in _RECURRENCE:
        for section, _ in props.get(name, ()):
            tzid = _params(section).get("TZID") if section else None
            if tzid is not None:
                _zone(tzid)
    return _canonical_recurrence(tuple(lines))


@lru_cache(maxsize=4096)
def _canonical_recurrence(lines: Sequence[str]) -> tuple[str, ...]:
    """The recurrence lines as icalendar re-serialises them (see `_ical._recurrence_lines`)."""
    vevent = Event.from_ical("BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n")
    return _ical._recurrence_lines(vevent)
