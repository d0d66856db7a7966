"""patternedRecurrence for the fake Graph server: validation, normal form and expansion.

Written independently of calsync's own RRULE handling: each of Graph's six pattern
types is turned into occurrence dates here, with dateutil's rrule only as a date
generator. Rules, with their sources:

- pattern types and required properties, "Include only the properties that you
  need ... Any property that you include that does not have a supported value
  would result in an error":
  https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern
- range types ``endDate`` / ``noEnd`` / ``numbered``; ``startDate`` must equal the
  event's start date; ``numberOfOccurrences`` positive:
  https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange
- relativeMonthly/Yearly with several ``daysOfWeek``: "the event falls on the first day
  that satisfies the pattern", i.e. the index-th day among those weekdays (RFC 5545
  BYSETPOS semantics);
- absoluteMonthly/Yearly on a day a month lacks falls on the month's last day
  (Exchange: "If for a particular month this value is larger than the number of days in
  the month, the last day of the month is assumed",
  https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/
  absolutemonthlyrecurrence); interval is 1..99 there, enforced here as the strict reading.

Graph returns every pattern property, with zeros and defaults for unused ones, and
``endDate`` ``0001-01-01`` for ranges without one; `normal_form` does the same.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from dateutil.rrule import (  # type: ignore[import-untyped]
    DAILY,
    FR,
    MO,
    MONTHLY,
    SA,
    SU,
    TH,
    TU,
    WE,
    WEEKLY,
    YEARLY,
    rrule,
)

from tests.fakes._graph_wire import bad_request

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RRULE_DAYS = dict(zip(DAYS, (MO, TU, WE, TH, FR, SA, SU), strict=True))
INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
PATTERN_TYPES = {
    "daily": {"type", "interval"},
    "weekly": {"type", "interval", "daysOfWeek", "firstDayOfWeek"},
    "absoluteMonthly": {"type", "interval", "dayOfMonth"},
    "relativeMonthly": {"type", "interval", "daysOfWeek", "index"},
    "absoluteYearly": {"type", "interval", "dayOfMonth", "month"},
    "relativeYearly": {"type", "interval", "daysOfWeek", "month", "index"},
}
_REQUIRED = {
    "daily": {"type", "interval"},
    # "firstDayOfWeek ... Required if type is weekly" (the strict reading of "Default is sunday")
    "weekly": {"type", "interval", "daysOfWeek", "firstDayOfWeek"},
    "absoluteMonthly": {"type", "interval", "dayOfMonth"},
    "relativeMonthly": {"type", "interval", "daysOfWeek"},
    "absoluteYearly": {"type", "interval", "dayOfMonth", "month"},
    "relativeYearly": {"type", "interval", "daysOfWeek", "month"},
}
RANGE_TYPES = {
    "endDate": {"type", "startDate", "endDate", "recurrenceTimeZone"},
    "noEnd": {"type", "startDate", "recurrenceTimeZone"},
    "numbered": {"type", "startDate", "numberOfOccurrences", "recurrenceTimeZone"},
}
#: Properties Graph echoes with neutral values; accepted when sent at those values.
_NEUTRAL = {
    "month": 0,
    "dayOfMonth": 0,
    "daysOfWeek": [],
    "index": "first",
    "numberOfOccurrences": 0,
    "endDate": "0001-01-01",
    "firstDayOfWeek": "sunday",
}
#: No series is expanded past this many occurrences (a noEnd daily series is infinite).
MAX_OCCURRENCES = 5000


def _invalid(message: str) -> Exception:
    return bad_request(message, "ErrorInvalidRequest")


def _date(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise _invalid(f"Invalid date '{value}' for {what}.") from exc


def validate(recurrence: Any, start_date: date) -> dict[str, Any]:
    """The recurrence in Graph's normal form; 400 for anything Graph would refuse."""
    if not isinstance(recurrence, dict) or set(recurrence) - {"pattern", "range"}:
        raise _invalid("recurrence must be an object with 'pattern' and 'range'.")
    pattern, rng = recurrence.get("pattern"), recurrence.get("range")
    if not isinstance(pattern, dict) or not isinstance(rng, dict):
        raise _invalid("recurrence needs both 'pattern' and 'range'.")
    kind = pattern.get("type")
    if kind not in PATTERN_TYPES:
        raise _invalid(f"Invalid recurrence pattern type '{kind}'.")
    sent = {k for k, v in pattern.items() if not (k in _NEUTRAL and v == _NEUTRAL[k])}
    extra = sent - PATTERN_TYPES[kind]
    if extra:
        raise _invalid(f"Property {sorted(extra)} is not supported for pattern type '{kind}'.")
    missing = _REQUIRED[kind] - set(pattern)
    if missing:
        raise _invalid(f"Pattern type '{kind}' requires {sorted(missing)}.")
    interval = pattern["interval"]
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 99:
        raise _invalid(f"Invalid recurrence interval '{interval}'.")
    days = pattern.get("daysOfWeek", [])
    if "daysOfWeek" in _REQUIRED[kind] and (
        not isinstance(days, list) or not days or any(d not in DAYS for d in days)
    ):
        raise _invalid(f"Invalid daysOfWeek {days!r}.")
    first_day = pattern.get("firstDayOfWeek", "sunday")
    if first_day not in DAYS:
        raise _invalid(f"Invalid firstDayOfWeek '{first_day}'.")
    index = pattern.get("index", "first")
    if index not in INDEXES:
        raise _invalid(f"Invalid index '{index}'.")
    month = pattern.get("month", 0)
    if "month" in _REQUIRED[kind] and (not isinstance(month, int) or not 1 <= month <= 12):
        raise _invalid(f"Invalid month '{month}'.")
    day_of_month = pattern.get("dayOfMonth", 0)
    if "dayOfMonth" in _REQUIRED[kind]:
        limit = calendar.monthrange(2000, month)[1] if kind == "absoluteYearly" else 31
        if not isinstance(day_of_month, int) or not 1 <= day_of_month <= limit:
            raise _invalid(f"Invalid dayOfMonth '{day_of_month}'.")
    range_kind = rng.get("type")
    if range_kind not in RANGE_TYPES:
        raise _invalid(f"Invalid recurrence range type '{range_kind}'.")
    sent_range = {k for k, v in rng.items() if not (k in _NEUTRAL and v == _NEUTRAL[k])}
    extra = sent_range - RANGE_TYPES[range_kind]
    if extra:
        raise _invalid(f"Property {sorted(extra)} is not supported for range type '{range_kind}'.")
    range_start = _date(rng.get("startDate"), "range.startDate")
    if range_start != start_date:
        raise _invalid(
            f"range.startDate {range_start} must be the start date of the event ({start_date})."
        )
    end_date = "0001-01-01"
    count = 0
    if range_kind == "endDate":
        end = _date(rng.get("endDate"), "range.endDate")
        if end < range_start:
            raise _invalid("range.endDate must not be before range.startDate.")
        end_date = end.isoformat()
    if range_kind == "numbered":
        number = rng.get("numberOfOccurrences")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise _invalid(f"Invalid numberOfOccurrences '{number}'.")
        count = number
    return {
        "pattern": {
            "type": kind,
            "interval": interval,
            "month": month if "month" in PATTERN_TYPES[kind] else 0,
            "dayOfMonth": day_of_month if "dayOfMonth" in PATTERN_TYPES[kind] else 0,
            "daysOfWeek": list(days) if "daysOfWeek" in PATTERN_TYPES[kind] else [],
            "firstDayOfWeek": first_day,
            "index": index,
        },
        "range": {
            "type": range_kind,
            "startDate": range_start.isoformat(),
            "endDate": end_date,
            "recurrenceTimeZone": rng.get("recurrenceTimeZone") or "",
            "numberOfOccurrences": count,
        },
    }


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _absolute(pattern: dict[str, Any], first: date) -> Iterator[date]:
    """One date per period (month, or year), clamped to the period's last day."""
    yearly = pattern["type"] == "absoluteYearly"
    step = 12 * pattern["interval"] if yearly else pattern["interval"]
    month_index = first.year * 12 + (pattern["month"] if yearly else first.month) - 1
    while True:
        year, month = divmod(month_index, 12)
        yield _clamped(year, month + 1, pattern["dayOfMonth"])
        month_index += step


def _candidates(pattern: dict[str, Any], first: date) -> Iterator[date]:
    """Every date the pattern names, from the month/week/day of ``first`` on, in order."""
    kind, interval = pattern["type"], pattern["interval"]
    if kind in ("absoluteMonthly", "absoluteYearly"):
        yield from _absolute(pattern, first)
        return
    days = [_RRULE_DAYS[d] for d in pattern["daysOfWeek"]]
    index = INDEXES[pattern["index"]]
    start = datetime.combine(first, time())
    if kind == "daily":
        rule = rrule(DAILY, interval=interval, dtstart=start)
    elif kind == "weekly":
        # Weeks are counted from the week of the start, beginning on firstDayOfWeek.
        rule = rrule(
            WEEKLY,
            interval=interval,
            byweekday=days,
            wkst=_RRULE_DAYS[pattern["firstDayOfWeek"]],
            dtstart=start,
        )
    elif kind == "relativeMonthly":
        rule = rrule(
            MONTHLY, interval=interval, byweekday=days, bysetpos=index, dtstart=start.replace(day=1)
        )
    else:  # relativeYearly
        rule = rrule(
            YEARLY,
            interval=interval,
            bymonth=pattern["month"],
            byweekday=days,
            bysetpos=index,
            dtstart=start.replace(month=1, day=1),
        )
    for value in rule:
        yield value.date()


def occurrence_dates(recurrence: dict[str, Any], *, until: date | None = None) -> Iterator[date]:
    """Dates of the series' occurrences in order (normal-form ``recurrence``).

    ``until`` bounds the walk for series without an end; it is inclusive.
    """
    pattern, rng = recurrence["pattern"], recurrence["range"]
    first = date.fromisoformat(rng["startDate"])
    last = date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else None
    limit = rng["numberOfOccurrences"] if rng["type"] == "numbered" else MAX_OCCURRENCES
    produced = 0
    for day in _candidates(pattern, first):
        if day < first:
            continue
        if (last is not None and day > last) or (until is not None and day > until):
            return
        yield day
        produced += 1
        if produced >= limit:
            return


def last_date(recurrence: dict[str, Any]) -> date | None:
    """The last occurrence date, or None for a series without end."""
    if recurrence["range"]["type"] == "noEnd":
        return None
    found = None
    for found in occurrence_dates(recurrence):  # noqa: B007 - walk to the end
        pass
    return found
