"""Query and body parameters the way Cronofy clients (pycronofy above all) send them.

* Booleans arrive as ``True``/``False`` (Python's ``str(bool)``): parsed
  case-insensitively, also ``1``/``0``/``yes``/``no``.
* Lists arrive as repeated ``calendar_ids[]=…``; plain repeated ``calendar_ids=…``
  works too.
* GETs and bodiless DELETEs carry a JSON body ``{}``; it is ignored on reads.

`ReadQuery` is the parsed form of a Read Events / Free-Busy query. It
round-trips through `to_json` / `from_json` so a page token can carry it.
`parse_event_body` validates an upsert body into an `EventInput`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from calsync.api.expand import recurrence_lines_valid
from calsync.api.formats import LATITUDE, LONGITUDE, matches
from calsync.api.times import (
    ensure_order,
    parse_boundary,
    parse_query_time,
    parse_tzid,
    window_defaults,
)
from calsync.api.validation import Problems
from calsync.errors import ValidationError
from calsync.model import Attendee, EventContent, Location
from calsync.model.events import TRANSPARENCIES, EventTime

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
MAX_CALENDAR_IDS = 100


def parse_bool(value: object, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError.single(field, "errors.invalid", "must be true or false")


def query_list(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """All values of ``name[]`` and ``name`` in order, without blanks or repeats."""
    seen: dict[str, None] = {}
    for key in (f"{name}[]", name):
        for value in params.get(key, ()):
            if value:
                seen.setdefault(value, None)
    return list(seen)


def first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class ReadQuery:
    """A Read Events / Free-Busy query, resolved: window in UTC, flags as booleans."""

    tzid: str
    start: datetime
    end: datetime
    last_modified: datetime | None = None
    include_deleted: bool = False
    include_managed: bool = False
    only_managed: bool = False
    calendar_ids: tuple[str, ...] = ()
    localized_times: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tzid)

    @property
    def window(self) -> tuple[datetime, datetime]:
        return (self.start, self.end)

    @property
    def managed_filter(self) -> bool | None:
        """True = managed only, False = unmanaged only, None = both."""
        if self.only_managed:
            return True
        return None if self.include_managed else False

    def to_json(self) -> dict[str, Any]:
        return {
            "z": self.tzid,
            "f": self.start.isoformat(),
            "t": self.end.isoformat(),
            "m": self.last_modified.isoformat() if self.last_modified else None,
            "d": self.include_deleted,
            "im": self.include_managed,
            "om": self.only_managed,
            "c": list(self.calendar_ids),
            "l": self.localized_times,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReadQuery:
        modified = data.get("m")
        return cls(
            tzid=str(data["z"]),
            start=datetime.fromisoformat(data["f"]),
            end=datetime.fromisoformat(data["t"]),
            last_modified=datetime.fromisoformat(modified) if modified else None,
            include_deleted=bool(data.get("d")),
            include_managed=bool(data.get("im")),
            only_managed=bool(data.get("om")),
            calendar_ids=tuple(str(c) for c in data.get("c", ())),
            localized_times=bool(data.get("l")),
        )


def parse_read_query(
    params: Mapping[str, Sequence[str]],
    *,
    now: datetime,
    past_days: int,
    future_days: int,
) -> ReadQuery:
    """Parse the query string of ``GET /v1/events`` or ``/v1/free_busy``.

    ``from``/``to`` are dates in ``tzid`` (times are accepted too); ``to`` is
    exclusive. ``last_modified`` is floored to whole seconds, because output
    times have whole-second resolution and the comparison is inclusive: a
    client passing back the ``updated`` it saw must see later changes made in
    that same second.
    """
    problems = Problems()
    zone = problems.check(lambda: parse_tzid(first(params, "tzid")))
    # Without a zone the dates cannot be placed; their form is still checked (in UTC).
    in_zone = zone if zone is not None else ZoneInfo("UTC")
    default_start, default_end = window_defaults(now, in_zone, past_days, future_days)
    start = _query_time(problems, params, "from", in_zone, default_start)
    end = _query_time(problems, params, "to", in_zone, default_end)
    if start is not None and end is not None and end <= start and not problems.has("tzid"):
        problems.add("to", "errors.invalid", "to must be after from")
    last_modified = _query_time(problems, params, "last_modified", in_zone, None)
    if last_modified is not None:
        last_modified = last_modified.astimezone(UTC).replace(microsecond=0)
    calendar_ids = query_list(params, "calendar_ids")
    for name in ("calendar_ids[]", "calendar_ids"):
        if len(params.get(name, ())) > MAX_CALENDAR_IDS:
            problems.add(name, "errors.invalid", f"at most {MAX_CALENDAR_IDS} calendar ids")
    flags = {
        name: problems.check(partial(parse_bool, first(params, name), name))
        for name in ("include_deleted", "include_managed", "only_managed", "localized_times")
    }
    problems.raise_if_any()
    assert zone is not None and start is not None and end is not None
    return ReadQuery(
        tzid=zone.key,
        start=start,
        end=end,
        last_modified=last_modified,
        include_deleted=bool(flags["include_deleted"]),
        include_managed=bool(flags["include_managed"]),
        only_managed=bool(flags["only_managed"]),
        calendar_ids=tuple(calendar_ids),
        localized_times=bool(flags["localized_times"]),
    )


def _query_time(
    problems: Problems,
    params: Mapping[str, Sequence[str]],
    name: str,
    zone: ZoneInfo,
    default: datetime | None,
) -> datetime | None:
    raw = first(params, name)
    if not raw:
        return default
    return problems.check(partial(parse_query_time, raw, name, zone))


def with_calendar_ids(query: ReadQuery, calendar_ids: Sequence[str]) -> ReadQuery:
    return replace(query, calendar_ids=tuple(calendar_ids))


# -- event bodies (POST /v1/calendars/{id}/events) ----------------------------------

MAX_EVENT_ID = 1024
MAX_SUMMARY = 1024
MAX_DESCRIPTION = 4096
MAX_TEXT = 1024
MAX_ATTENDEES = 500
MAX_URL = 2048
MAX_COLOR = 32
MAX_RECURRENCE_LINES = 50
_SUB_HOURLY = ("FREQ=SECONDLY", "FREQ=MINUTELY")


def _text(
    body: Mapping[str, Any],
    name: str,
    limit: int,
    *,
    required: bool = False,
    field: str | None = None,
) -> str | None:
    field = field or name
    value = body.get(name)
    if value is None or (required and value == ""):
        if required:
            raise ValidationError.single(field, "errors.required", f"{field} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError.single(field, "errors.invalid", "must be a string")
    if len(value) > limit:
        raise ValidationError.single(field, "errors.too_long", f"at most {limit} characters")
    return value


def _coord(value: object, field: str) -> str | None:
    """A latitude or longitude: a JSON number, or a decimal string, within its bounds."""
    if value is None:
        return None
    bound = 90 if field.endswith("lat") else 180
    if isinstance(value, str):
        if not matches(LATITUDE if bound == 90 else LONGITUDE, value):
            raise ValidationError.single(
                field, "errors.invalid", f"must be a decimal number within ±{bound}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError.single(field, "errors.invalid", "must be a number")
    if not -bound <= value <= bound:  # also refuses NaN
        raise ValidationError.single(field, "errors.invalid", f"must lie within ±{bound}")
    return str(value)


def parse_location(value: object) -> Location | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError.single("location", "errors.invalid", "must be an object")
    problems = Problems()
    description = problems.check(
        partial(_text, value, "description", MAX_TEXT, field="location.description")
    )
    lat = problems.check(partial(_coord, value.get("lat"), "location.lat"))
    long = problems.check(partial(_coord, value.get("long"), "location.long"))
    problems.raise_if_any()
    return Location(description=description, lat=lat, long=long)


def _emails(value: object, field: str) -> list[tuple[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ATTENDEES:
        raise ValidationError.single(
            field, "errors.invalid", f"must be a list of at most {MAX_ATTENDEES} attendees"
        )
    found: list[tuple[str, str | None]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise ValidationError.single(field, "errors.invalid", "each attendee is an object")
        email = item.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 320:
            raise ValidationError.single(field, "errors.invalid", "each attendee needs an email")
        name = item.get("display_name")
        found.append((email, name if isinstance(name, str) else None))
    return found


def merge_attendees(value: object, existing: Sequence[Attendee]) -> tuple[Attendee, ...]:
    """Cronofy's ``attendees{invite[], reject[]}``: add the invited, drop the rejected."""
    if value is None:
        return tuple(existing)
    if not isinstance(value, Mapping):
        raise ValidationError.single("attendees", "errors.invalid", "must be an object")
    problems = Problems()
    invite = problems.check(partial(_emails, value.get("invite"), "attendees.invite")) or []
    rejected = problems.check(partial(_emails, value.get("reject"), "attendees.reject")) or []
    problems.raise_if_any()
    reject = {e.lower() for e, _ in rejected}
    merged = {a.email.lower(): a for a in existing if a.email.lower() not in reject}
    for email, name in invite:
        if email.lower() not in reject and email.lower() not in merged:
            merged[email.lower()] = Attendee(email=email, display_name=name)
    return tuple(merged.values())


def parse_recurrence(value: object) -> tuple[str, ...]:
    """Our extension: ``{"rules": ["RRULE:…", "EXDATE:…"]}``, a list of lines, or one line."""
    if value is None:
        return ()
    lines: object = value.get("rules") if isinstance(value, Mapping) else value
    if isinstance(lines, str):
        lines = [lines]
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines) or not lines:
        raise ValidationError.single(
            "recurrence", "errors.invalid", 'give {"rules": ["RRULE:FREQ=…"]}'
        )
    cleaned = tuple(line.strip() for line in lines)
    if len(cleaned) > MAX_RECURRENCE_LINES or not recurrence_lines_valid(cleaned):
        raise ValidationError.single(
            "recurrence", "errors.invalid", "not valid RRULE/RDATE/EXDATE lines"
        )
    if any(part in line.upper() for line in cleaned for part in _SUB_HOURLY):
        raise ValidationError.single(
            "recurrence", "errors.invalid", "rules repeating more than hourly are not supported"
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class EventInput:
    """A validated upsert body; `content` needs the stored attendees to finish."""

    event_id: str
    summary: str
    description: str
    start: EventTime
    end: EventTime
    tzid: str
    location: Location | None
    transparency: str
    attendees: object
    url: str | None
    color: str | None
    recurrence: tuple[str, ...]

    def content(self, existing: Sequence[Attendee] = ()) -> EventContent:
        return EventContent(
            summary=self.summary,
            start=self.start,
            end=self.end,
            tzid=self.tzid,
            description=self.description,
            location=self.location,
            attendees=merge_attendees(self.attendees, existing),
            transparency=self.transparency,
            recurrence=self.recurrence,
            url=self.url,
            color=self.color,
        )


def parse_event_body(body: Mapping[str, Any]) -> EventInput:
    """Validate an upsert body; every problem is reported at once (422)."""
    problems = Problems()
    event_id = problems.check(partial(_text, body, "event_id", MAX_EVENT_ID, required=True))
    summary = problems.check(partial(_text, body, "summary", MAX_SUMMARY, required=True))
    description = problems.check(partial(_text, body, "description", MAX_DESCRIPTION))
    event_tzid = body.get("tzid")
    if event_tzid is not None and problems.check(partial(parse_tzid, event_tzid)) is None:
        event_tzid = None  # reported; the boundaries are read as if no tzid was given
    start = problems.check(partial(parse_boundary, body.get("start"), "start", event_tzid))
    end = problems.check(partial(parse_boundary, body.get("end"), "end", event_tzid))
    if start is not None and end is not None:
        problems.check(partial(ensure_order, start.value, end.value))
    transparency = body.get("transparency")
    if transparency is None:
        transparency = "opaque"
    elif transparency not in TRANSPARENCIES:
        problems.add("transparency", "errors.invalid", "must be opaque or transparent")
    # Validated now, merged with the stored attendees in the write transaction.
    problems.check(partial(merge_attendees, body.get("attendees"), ()))
    location = problems.check(partial(parse_location, body.get("location")))
    url = problems.check(partial(_text, body, "url", MAX_URL))
    color = problems.check(partial(_text, body, "color", MAX_COLOR))
    recurrence = problems.check(partial(parse_recurrence, body.get("recurrence")))
    problems.raise_if_any()
    assert event_id is not None and summary is not None
    assert start is not None and end is not None and recurrence is not None
    return EventInput(
        event_id=event_id,
        summary=summary,
        description=description or "",
        start=start.value,
        end=end.value,
        tzid=str(event_tzid or start.tzid or end.tzid or "Etc/UTC"),
        location=location,
        transparency=str(transparency),
        attendees=body.get("attendees"),
        url=url,
        color=color,
        recurrence=recurrence,
    )
