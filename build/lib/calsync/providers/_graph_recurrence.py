"""RFC 5545 RRULE <-> Microsoft Graph ``patternedRecurrence``, both ways.

Graph has six pattern types (daily, weekly, absolute/relative monthly and yearly)
and three range types (endDate, noEnd, numbered)
(https://learn.microsoft.com/en-us/graph/api/resources/patternedrecurrence).
Only what maps exactly is translated; anything else is refused with
`RecurrenceNotExpressible`, never approximated:

- more than one RRULE, RDATE, EXDATE, EXRULE;
- FREQ other than DAILY..YEARLY; BYHOUR/BYMINUTE/BYSECOND/BYWEEKNO/BYYEARDAY;
  BYDAY on DAILY; several BYMONTHDAY or BYMONTH values; a negative BYMONTHDAY;
- BYMONTHDAY above 28 (29 for February): Graph falls back to the month's last day
  where RFC 5545 skips the month;
- ordinals other than 1..4 and -1 (Graph's first..fourth, last).

Reading writes a canonical rule: ``FREQ``, then ``INTERVAL`` (when not 1),
``BYMONTH``, ``BYMONTHDAY``, ``BYDAY``, ``BYSETPOS``, ``WKST`` (when not Monday), then
``COUNT`` or ``UNTIL``; parts that DTSTART already implies (the start's weekday
for WEEKLY, its day and month for MONTHLY/YEARLY) are left out, so a rule written in
that form comes back unchanged. ``UNTIL`` becomes Graph's inclusive ``endDate`` (the
local date of the last allowed start); read back it is the last possible start on
that date (a date for all-day series).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]

from calsync.errors import ProviderError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TO_GRAPH_DAY = dict(zip(ICAL_DAYS, DAYS, strict=True))
_TO_ICAL_DAY = dict(zip(DAYS, ICAL_DAYS, strict=True))
_INDEX = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_ORDINAL = {v: k for k, v in _INDEX.items()}
_SUPPORTED = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH"}
_SUPPORTED |= {"BYSETPOS", "WKST"}


class RecurrenceNotExpressible(ProviderError):
    """A recurrence Microsoft Graph cannot hold exactly; the push is refused."""

    hint = "Graph supports daily/weekly/monthly/yearly rules without EXDATE or RDATE."


def _refuse(rule: str, why: str) -> RecurrenceNotExpressible:
    return RecurrenceNotExpressible(f"Microsoft Graph cannot express {rule!r}: {why}")


def _parts(line: str) -> dict[str, str]:
    _name, _, value = line.partition(":")
    parts: dict[str, str] = {}
    for part in value.split(";"):
        key, _, val = part.partition("=")
        if key:
            parts[key.strip().upper()] = val.strip().upper()
    return parts


def _by_days(rule: str, text: str) -> list[tuple[int | None, str]]:
    found: list[tuple[int | None, str]] = []
    for item in text.split(","):
        day = item[-2:]
        ordinal = item[:-2]
        if day not in _TO_GRAPH_DAY:
            raise _refuse(rule, f"unknown weekday {item!r}")
        try:
            found.append((int(ordinal) if ordinal else None, day))
        except ValueError as exc:
            raise _refuse(rule, f"unknown weekday {item!r}") from exc
    return found


def _local_start(start: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(start, datetime):
        return start.astimezone(zone).replace(tzinfo=None)
    return datetime.combine(start, time())


def _single_int(rule: str, parts: dict[str, str], key: str) -> int | None:
    if key not in parts:
        return None
    try:
        return int(parts[key])
    except ValueError as exc:
        raise _refuse(rule, f"{key} must be one number for Graph") from exc


def to_graph(
    lines: tuple[str, ...], start: date | datetime, zone: ZoneInfo, zone_label: str
) -> dict[str, Any]:
    """The ``recurrence`` body for an event starting at ``start`` in ``zone``."""
    rules = [line for line in lines if line.upper().startswith("RRULE:")]
    others = [line for line in lines if not line.upper().startswith("RRULE:")]
    if others:
        raise _refuse(others[0], "Graph has no RDATE, EXDATE or EXRULE")
    if len(rules) != 1:
        raise _refuse("; ".join(lines), "Graph holds exactly one rule per series")
    rule = rules[0]
    parts = _parts(rule)
    unknown = set(parts) - _SUPPORTED
    if unknown:
        raise _refuse(rule, f"Graph has no {', '.join(sorted(unknown))}")
    local = _local_start(start, zone)
    interval = _single_int(rule, parts, "INTERVAL") or 1
    if not 1 <= interval <= 99:
        raise _refuse(rule, "INTERVAL must be within 1..99")
    freq = parts.get("FREQ")
    days = _by_days(rule, parts["BYDAY"]) if "BYDAY" in parts else []
    month_day = _single_int(rule, parts, "BYMONTHDAY")
    month = _single_int(rule, parts, "BYMONTH")
    setpos = _single_int(rule, parts, "BYSETPOS")
    wkst = parts.get("WKST", "MO")
    if wkst not in _TO_GRAPH_DAY:
        raise _refuse(rule, f"unknown WKST {wkst!r}")
    pattern: dict[str, Any] = {"interval": interval}
    if freq == "DAILY":
        if days or month_day or month or setpos:
            raise _refuse(rule, "a daily Graph pattern has no BY* parts")
        pattern["type"] = "daily"
    elif freq == "WEEKLY":
        if month_day or month or setpos or any(n is not None for n, _ in days):
            raise _refuse(rule, "a weekly Graph pattern takes plain weekdays only")
        weekdays = [d for _, d in days] or [ICAL_DAYS[local.weekday()]]
        pattern |= {
            "type": "weekly",
            "daysOfWeek": [_TO_GRAPH_DAY[d] for d in weekdays],
            "firstDayOfWeek": _TO_GRAPH_DAY[wkst],
        }
    elif freq in ("MONTHLY", "YEARLY"):
        yearly = freq == "YEARLY"
        if month is not None and not yearly:
            raise _refuse(rule, "Graph's monthly patterns take no BYMONTH")
        the_month = month if month is not None else local.month
        if not 1 <= the_month <= 12:
            raise _refuse(rule, "BYMONTH out of range")
        if days:
            pattern |= _relative(rule, days, setpos)
            pattern["type"] = "relativeYearly" if yearly else "relativeMonthly"
        else:
            if setpos is not None:
                raise _refuse(rule, "BYSETPOS needs BYDAY")
            day = month_day if month_day is not None else local.day
            limit = 29 if yearly and the_month == 2 else 28
            if not 1 <= day <= limit:
                raise _refuse(
                    rule,
                    f"day {day} is not in every month (Graph would move it to the last day)",
                )
            pattern |= {"type": "absoluteYearly" if yearly else "absoluteMonthly"}
            pattern["dayOfMonth"] = day
        if yearly:
            pattern["month"] = the_month
    else:
        raise _refuse(rule, f"Graph has no FREQ={freq}")
    _check_first(rule, local)
    return {"pattern": pattern, "range": _range(rule, parts, local, zone, zone_label)}


def _check_first(rule: str, local: datetime) -> None:
    """Graph starts a series at the pattern's first date on or after the start; RFC 5545
    counts DTSTART itself. Only a start the rule names means the same to both."""
    # Without its end (an UNTIL in UTC does not mix with a local DTSTART in dateutil).
    unbounded = ";".join(
        part
        for part in rule.partition(":")[2].split(";")
        if part.split("=")[0].upper() not in ("UNTIL", "COUNT")
    )
    try:
        first = rrulestr(unbounded, dtstart=local).after(local - timedelta(seconds=1), inc=True)
    except (ValueError, TypeError) as exc:
        raise _refuse(rule, f"unreadable rule ({exc})") from exc
    if first != local:
        raise _refuse(rule, "the event's start is not an occurrence of the rule")


def _relative(rule: str, days: list[tuple[int | None, str]], setpos: int | None) -> dict[str, Any]:
    ordinals = {n for n, _ in days}
    if len(ordinals) != 1:
        raise _refuse(rule, "Graph needs one ordinal for all BYDAY days")
    ordinal = ordinals.pop()
    if ordinal is not None and setpos is not None:
        raise _refuse(rule, "BYDAY ordinals and BYSETPOS together")
    index = ordinal if ordinal is not None else setpos
    if index not in _INDEX:
        raise _refuse(rule, "Graph's index is first..fourth or last")
    if ordinal is not None and len(days) > 1:
        raise _refuse(rule, "several ordinal weekdays")
    return {"daysOfWeek": [_TO_GRAPH_DAY[d] for _, d in days], "index": _INDEX[index]}


def _range(
    rule: str, parts: dict[str, str], local: datetime, zone: ZoneInfo, zone_label: str
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "startDate": local.date().isoformat(),
        "recurrenceTimeZone": zone_label,
    }
    if "COUNT" in parts and "UNTIL" in parts:
        raise _refuse(rule, "COUNT and UNTIL together")
    if "COUNT" in parts:
        count = _single_int(rule, parts, "COUNT")
        if count is None or count < 1:
            raise _refuse(rule, "COUNT must be positive")
        return found | {"type": "numbered", "numberOfOccurrences": count}
    if "UNTIL" in parts:
        return found | {"type": "endDate", "endDate": _end_date(rule, parts["UNTIL"], local, zone)}
    return found | {"type": "noEnd"}


def _end_date(rule: str, until: str, local: datetime, zone: ZoneInfo) -> str:
    try:
        if "T" not in until:
            return date(int(until[:4]), int(until[4:6]), int(until[6:8])).isoformat()
        stamp = datetime.strptime(until.rstrip("Z"), "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise _refuse(rule, f"unreadable UNTIL {until!r}") from exc
    last = stamp.replace(tzinfo=UTC).astimezone(zone) if until.endswith("Z") else stamp
    last_local = last.replace(tzinfo=None)
    # The occurrence on UNTIL's own date counts only if it starts by UNTIL.
    day = last_local.date()
    if last_local.time() < local.time():
        day -= timedelta(days=1)
    return day.isoformat()


# -- reading ---------------------------------------------------------------------------


def from_graph(
    recurrence: dict[str, Any], start: date | datetime, zone: ZoneInfo
) -> tuple[str, ...]:
    """The RRULE line of a Graph series starting at ``start`` (its master's start)."""
    pattern, rng = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    local = _local_start(start, zone)
    kind = pattern.get("type")
    interval = int(pattern.get("interval") or 1)
    parts: list[str] = []
    days = [d for d in pattern.get("daysOfWeek") or [] if d in _TO_ICAL_DAY]
    if kind == "daily":
        parts.append("FREQ=DAILY")
    elif kind == "weekly":
        parts.append("FREQ=WEEKLY")
    elif kind in ("absoluteMonthly", "relativeMonthly"):
        parts.append("FREQ=MONTHLY")
    elif kind in ("absoluteYearly", "relativeYearly"):
        parts.append("FREQ=YEARLY")
    else:
        raise ProviderError(f"Graph sent an unknown recurrence pattern {kind!r}")
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    month = int(pattern.get("month") or local.month)
    if kind == "relativeYearly" or (kind == "absoluteYearly" and month != local.month):
        parts.append(f"BYMONTH={month}")
    if kind in ("absoluteMonthly", "absoluteYearly"):
        day = int(pattern.get("dayOfMonth") or local.day)
        if day != local.day or (kind == "absoluteYearly" and month != local.month):
            parts.append(f"BYMONTHDAY={day}")
    if kind == "weekly":
        if days != [DAYS[local.weekday()]]:
            parts.append("BYDAY=" + ",".join(_TO_ICAL_DAY[d] for d in days))
    elif kind in ("relativeMonthly", "relativeYearly"):
        ordinal = _ORDINAL.get(pattern.get("index") or "first", 1)
        if len(days) == 1:
            parts.append(f"BYDAY={ordinal}{_TO_ICAL_DAY[days[0]]}")
        else:
            parts.append("BYDAY=" + ",".join(_TO_ICAL_DAY[d] for d in days))
            parts.append(f"BYSETPOS={ordinal}")
    first_day = pattern.get("firstDayOfWeek") or "sunday"
    if kind == "weekly" and first_day != "monday" and first_day in _TO_ICAL_DAY:
        parts.append(f"WKST={_TO_ICAL_DAY[first_day]}")
    range_kind = rng.get("type")
    if range_kind == "numbered":
        parts.append(f"COUNT={int(rng.get('numberOfOccurrences') or 1)}")
    elif range_kind == "endDate":
        end = date.fromisoformat(str(rng.get("endDate")))
        if isinstance(start, datetime):
            last = datetime.combine(end, local.time()).replace(tzinfo=zone).astimezone(UTC)
            parts.append(f"UNTIL={last.strftime('%Y%m%dT%H%M%SZ')}")
        else:
            parts.append(f"UNTIL={end.strftime('%Y%m%d')}")
    return ("RRULE:" + ";".join(parts),)


def starts_between(
    lines: tuple[str, ...], start: date | datetime, zone: ZoneInfo, first: datetime, last: datetime
) -> list[date | datetime]:
    """Original starts of a series (one RRULE, as `from_graph` writes it) within
    ``[first, last)``: UTC instants, or dates for an all-day series."""
    [line] = lines
    parts = []
    for part in line.partition(":")[2].split(";"):
        if part.startswith("UNTIL=") and part.endswith("Z"):
            until = datetime.strptime(part[6:], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            part = "UNTIL=" + until.astimezone(zone).strftime("%Y%m%dT%H%M%S")
        parts.append(part)
    local = _local_start(start, zone)
    rule = rrulestr(";".join(parts), dtstart=local)
    if not isinstance(start, datetime):
        low = datetime.combine(first.date(), time())
        high = datetime.combine(last.date(), time())
        return [d.date() for d in rule.between(low, high, inc=True) if d < high]
    low = first.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    high = last.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    found: list[date | datetime] = []
    for occurrence in rule.between(low, high, inc=True):
        instant = occurrence.replace(tzinfo=zone).astimezone(UTC)
        if first <= instant < last:
            found.append(instant)
    return found
