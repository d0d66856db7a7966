"""Times at the API edge: parse Cronofy's Time / Date / ``{time, tzid}`` forms, render output.

Inside calsync an event boundary is an aware UTC ``datetime`` or, for all-day
events, a ``date`` (end exclusive). This module is the only place that turns
request text into those values and back, so every route agrees on the rules:

* a Time is RFC 3339, ``YYYY-MM-DDTHH:MM:SS`` with ``Z`` or a numeric offset
  (converted to UTC); fractional seconds are accepted only when they are zero,
  because Cronofy times have whole-second resolution and silently truncating
  would change the event. The exact forms (and the years 1900-2499) are in
  `calsync.api.formats`, which the OpenAPI schema is written from too;
* a Time without an offset is a local time in the tzid in scope (the
  ``{time, tzid}`` object's, else the event's ``tzid``); with no tzid in scope
  it is rejected rather than guessed;
* a Date is ``YYYY-MM-DD`` and means an all-day boundary;
* output is always UTC ``...Z`` with whole seconds, or, with
  ``localized_times``, the same instant rendered in the query's zone with its
  offset (``2026-01-15T09:00:00-05:00``). All-day values stay dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.api.formats import (
    DATE,
    FRACTIONAL_TIME,
    LOCAL_TIME,
    MAX_YEAR,
    MIN_YEAR,
    TIME,
    is_time_zone,
    matches,
)
from calsync.errors import ValidationError
from calsync.model.events import EventTime


def _invalid(field: str, description: str, key: str = "errors.invalid") -> ValidationError:
    return ValidationError.single(field, key, description)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    # Only the ids the schema lists (`formats.time_zones`): ZoneInfo would also
    # try odd paths ("../x") and names that are files but not zones.
    if not is_time_zone(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_tzid(value: object, field: str = "tzid") -> ZoneInfo:
    """An IANA zone, or 422 ``errors.required`` / ``errors.invalid_timezone``."""
    if value is None or value == "":
        raise _invalid(field, "required", "errors.required")
    if not isinstance(value, str):
        raise _invalid(field, "must be an IANA time zone id", "errors.invalid_timezone")
    zone = _zone(value)
    if zone is None:
        raise _invalid(field, f"unknown time zone {value!r}", "errors.invalid_timezone")
    return zone


def is_valid_tzid(value: str) -> bool:
    return _zone(value) is not None


def _parse_clock(text: str, field: str, zone: ZoneInfo | None) -> datetime:
    absolute = matches(TIME, text)
    if not absolute and not matches(LOCAL_TIME, text):
        if matches(FRACTIONAL_TIME, text):
            raise _invalid(field, "times have whole-second resolution; milliseconds must be zero")
        raise _invalid(field, f"not a valid time: {text[:64]!r}")
    naive = datetime.fromisoformat(f"{text[:10]}T{text[11:19]}")
    if not absolute:
        if zone is None:
            raise _invalid(field, "a time without an offset needs a tzid")
        return _local_to_utc(naive, zone)
    offset = text[19:].lstrip(".0123456789")
    if offset in ("Z", "z"):
        return naive.replace(tzinfo=UTC)
    sign = 1 if offset[0] == "+" else -1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    return (naive - delta).replace(tzinfo=UTC)


def _local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous wall time (autumn) is its first occurrence, a missing
    # one (spring gap) maps forward, as zoneinfo and RFC 5545 both do.
    return naive.replace(tzinfo=zone).astimezone(UTC)


def parse_instant(value: object, field: str, zone: ZoneInfo | None = None) -> datetime:
    """A Time string as an aware UTC datetime (a Date is rejected here)."""
    if not isinstance(value, str):
        raise _invalid(field, "must be a time string")
    return _parse_clock(value, field, zone)


def _parse_date(text: str, field: str) -> date:
    if not matches(DATE, text):
        raise _invalid(field, f"not a valid date between {MIN_YEAR} and {MAX_YEAR}: {text[:64]!r}")
    return date.fromisoformat(text)


def _is_date(text: str) -> bool:
    # The shape of a date; `_parse_date` then says whether it is a real one.
    return len(text) == 10 and text[4:5] == "-" and text[7:8] == "-"


@dataclass(frozen=True, slots=True)
class ParsedBoundary:
    """One event boundary: the value, and the zone the request named for it."""

    value: EventTime
    tzid: str | None


def parse_boundary(value: object, field: str, event_tzid: str | None = None) -> ParsedBoundary:
    """Parse an event ``start``/``end`` in any of Cronofy's three forms."""
    if value is None or value == "":
        raise _invalid(field, "required", "errors.required")
    tzid = event_tzid
    raw: object = value
    if isinstance(value, Mapping):
        raw = value.get("time")
        if raw is None or raw == "":
            raise _invalid(field, "time is required", "errors.required")
        if value.get("tzid") is not None:
            tzid = value["tzid"]
            parse_tzid(tzid, f"{field}.tzid")
    if not isinstance(raw, str):
        raise _invalid(field, "must be a time, a date or {time, tzid}")
    text = raw
    if _is_date(text):
        return ParsedBoundary(_parse_date(text, field), tzid)
    zone = parse_tzid(tzid, field) if isinstance(tzid, str) else None
    return ParsedBoundary(_parse_clock(text, field, zone), tzid)


def parse_query_time(value: str, field: str, zone: ZoneInfo) -> datetime:
    """A ``from``/``to``/``last_modified`` value: a Date (midnight in ``zone``) or a Time."""
    if _is_date(value):
        return local_midnight(_parse_date(value, field), zone)
    return _parse_clock(value, field, zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``zone``."""
    return _local_to_utc(datetime.combine(day, time(0)), zone)


def window_defaults(
    now: datetime, zone: ZoneInfo, past_days: int, future_days: int
) -> tuple[datetime, datetime]:
    """Cronofy's default window, from ``past_days`` ago to ``future_days`` ahead, in ``zone``."""
    today = now.astimezone(zone).date()
    start = local_midnight(today - timedelta(days=past_days), zone)
    end = local_midnight(today + timedelta(days=future_days), zone)
    return start, end


def instant_range(start: EventTime, end: EventTime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC range an event occupies when viewed in ``zone`` (all-day dates float)."""
    return _as_instant(start, zone), _as_instant(end, zone)


def _as_instant(value: EventTime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return local_midnight(value, zone)


def overlaps(
    start: EventTime, end: EventTime, window: tuple[datetime, datetime], zone: ZoneInfo
) -> bool:
    """Half-open overlap; a zero-length event counts when it sits inside the window."""
    lo, hi = instant_range(start, end, zone)
    w_lo, w_hi = window
    if lo == hi:
        return w_lo <= lo < w_hi
    return lo < w_hi and hi > w_lo


def format_instant(value: datetime, zone: ZoneInfo | None = None) -> str:
    """UTC ``...Z`` whole seconds, or local with offset when ``zone`` is given."""
    utc = value.astimezone(UTC).replace(microsecond=0)
    if zone is not None:
        local = utc.astimezone(zone)
        offset = local.utcoffset()
        # RFC 3339 offsets are whole minutes; a zone's local mean time before
        # ~1972 (Africa/Monrovia: -00:44:30) is not, so such an instant stays UTC.
        if offset is None or offset.seconds % 60 == 0:
            return local.isoformat()
    # isoformat is several times faster than strftime; reads format thousands.
    return utc.replace(tzinfo=None).isoformat() + "Z"


def format_event_time(value: EventTime, zone: ZoneInfo | None = None) -> str:
    """An event boundary for output: a date stays a date, an instant per `format_instant`."""
    if isinstance(value, datetime):
        return format_instant(value, zone)
    return value.isoformat()


def ensure_order(start: EventTime, end: EventTime, field: str = "end") -> None:
    """Both boundaries of one kind, and ``end`` not before ``start``."""
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise _invalid(field, "start and end must both be times or both be dates")
    if isinstance(start, datetime) and isinstance(end, datetime):
        if end < start:
            raise _invalid(field, "end must not be before start")
    elif end <= start:  # all-day: end is exclusive, so at least one day
        raise _invalid(field, "an all-day end must be after its start (end is exclusive)")
