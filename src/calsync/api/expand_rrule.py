"""The fast path of `calsync.api.expand.expand_series`: a plain RRULE on dateutil directly.

`expand_series` gives exactly what ``recurring_ical_events.of(cal).between(from, to)``
gives. Most of that library's cost is not the recurrence arithmetic (dateutil's
``rrule``, which it uses underneath) but building an iCalendar object per series and a
copied component per occurrence: about 0.4 ms for a weekly series of five, which is
most of an uncached availability query (1,000 series). For the common shape, one
series master with exactly ONE ``RRULE`` line and nothing else (no RDATE, no EXDATE, no
overrides, so no RECURRENCE-ID and no RANGE), this module takes the library's own
steps on dateutil without the iCalendar objects:

* the rule text dateutil reads is icalendar's rendering of the stored line (what the
  library reads from the component), a negative COUNT dropped, an UNTIL that dateutil
  refuses beside the start rewritten the way the library rewrites it (and that
  rewritten UNTIL is the one DTSTART and the occurrences are held to, as there);
* DTSTART is the master's start in its own ``tzid`` (dates become naive midnights), and
  it is an occurrence of its own unless it lies after UNTIL (the library adds it as an
  RDATE, so a start the rule does not match still counts);
* the starts are dateutil's ``between(..., inc=True)`` over the window widened at its
  start by the event's duration (in the start's own zone arithmetic, as the library
  does), each one not after UNTIL, each start once. For a *stepped* rule (DAILY or
  WEEKLY with only INTERVAL, COUNT, UNTIL: one occurrence per period at DTSTART's wall
  time) those starts are computed directly (`_arithmetic`: DTSTART's date plus k steps,
  combined with its wall time as dateutil combines them), from dateutil's own reading
  of the rule, parsed once per rule text; that halves the cost again;
* an occurrence ends its start plus the master's (wall-clock) duration, is a date again
  when the master's start and end are dates, and is kept when the library's
  ``time_span_contains_event`` says it is in the window.

Anything else (another FREQ than DAILY, WEEKLY, MONTHLY, YEARLY; a rule part outside
`_PARTS`; any RDATE or EXDATE; any override; more than the series cap; an error) returns
None and `expand_series` takes the library's path. ``tests/unit/test_expand_rrule.py``
compares the two paths on generated series (zones with DST, all-day, UNTIL in each form,
BYDAY, EXDATEs and overrides that must fall back), busy intervals included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from operator import itemgetter
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, WEEKLY, rrule, rrulestr  # type: ignore[import-untyped]
from icalendar.prop import vDDDTypes
from recurring_ical_events.constants import NEGATIVE_RRULE_COUNT_REGEX
from recurring_ical_events.util import (
    compare_greater,
    convert_to_date,
    convert_to_datetime,
    time_span_contains_event,
)

from calsync.api.times import is_valid_tzid
from calsync.model import EventContent
from calsync.model.events import EventTime

#: Frequencies taken here: one occurrence per period at most without BYxxx expansion
#: inside the day, so a DST change cannot make one wall time two instants.
_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
#: Rule parts taken here; anything else (BYHOUR, BYSETPOS, RSCALE, ...) takes the library.
_PARTS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"})

#: A found occurrence: its start and end in the master's own terms (aware in the
#: master's zone, or dates for an all-day series).
Span = tuple[EventTime, EventTime]


@lru_cache(maxsize=4096)
def _rule_text(lines: tuple[str, ...]) -> str | None:
    """The rule text the library would hand dateutil for ``lines``, or None when the
    series is not a plain one-RRULE series. Cached: a store holds few distinct rules,
    and parsing the line with icalendar costs more than expanding it."""
    from calsync.api.expand import recurrence_properties  # (expand imports this module)

    if len(lines) != 1:
        return None
    name, sep, _ = lines[0].partition(":")
    if not sep or name.upper() != "RRULE":
        return None
    try:
        [(prop_name, value)] = recurrence_properties(lines)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    if prop_name != "RRULE" or not set(value) <= _PARTS:
        return None
    freq = value.get("FREQ") or [None]
    if len(freq) != 1 or freq[0] not in _FREQUENCIES:
        return None
    text: str = value.to_ical().decode()
    return text


def _local(value: EventTime, tzid: str) -> EventTime:
    # Exactly expand._local: the master's DTSTART/DTEND as `build_calendar` writes them.
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tzid) if is_valid_tzid(tzid) else UTC)
    return value


def _until_of(text: str) -> date | datetime | None:
    """The UNTIL the library filters by: the value as written, read by icalendar."""
    parts = text.split(";UNTIL=")
    if len(parts) == 1:
        return None
    if len(parts) != 2:
        raise ValueError("more than one UNTIL")
    value = parts[1].split(";", 1)[0]
    until: date | datetime = vDDDTypes.from_ical(value)  # type: ignore[no-untyped-call]
    return until


def _rule(text: str, start: datetime, all_dates: bool) -> tuple[rrule, str]:
    """``RecurrenceRules.create_rule_with_start`` of recurring-ical-events 3.8: the rule,
    and the text it was read from (its UNTIL is the one the occurrences are held to)."""
    text = NEGATIVE_RRULE_COUNT_REGEX.sub("", text)
    try:
        return rrulestr(text, dtstart=start), text
    except ValueError:
        # UNTIL in the wrong form for the start (UTC beside a floating start, local
        # beside a zoned one): the library rewrites it, and so do we.
        head, sep, tail = text.partition(";UNTIL=")
        if not sep:
            raise
        cut = tail.find(";")
        cut = len(tail) if cut == -1 else cut
        until = tail[:cut]
        if all_dates:
            until = until[:8]
        elif start.tzinfo is None:
            until = until[:-1]
        else:
            if len(until) == 8:
                until += "T000000"
            if len(until) != 15:
                raise
            until += "Z"
        text = head + tail[cut:] + ";UNTIL=" + until
        return rrulestr(text, dtstart=start), text


#: The rule parts whose occurrences are plain arithmetic: DAILY or WEEKLY with one
#: occurrence per period, at DTSTART's wall time (`_arithmetic`).
_STEPPED = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL"})


@dataclass(frozen=True, slots=True)
class _Stepped:
    """What dateutil read from a stepped rule: the days between occurrences, COUNT, and
    its UNTIL (a datetime, aware exactly when the start is)."""

    days: int
    count: int | None
    until: datetime | None


@lru_cache(maxsize=4096)
def _stepped(text: str, all_dates: bool) -> tuple[str, _Stepped | None]:
    """The text the rule is read from beside a start of this kind (the library's UNTIL
    rewrite depends only on whether the start is a date, aware or naive), and, for a
    stepped rule, dateutil's own reading of it (so COUNT, INTERVAL and UNTIL mean exactly
    what they mean to dateutil); None for any other rule."""
    probe = datetime(2000, 1, 1) if all_dates else datetime(2000, 1, 1, tzinfo=UTC)
    rule, used = _rule(text, probe, all_dates)
    parts = {part.partition("=")[0] for part in used.split(";")}
    if not parts <= _STEPPED or rule._freq not in (DAILY, WEEKLY):
        return used, None
    days = rule._interval * (7 if rule._freq == WEEKLY else 1)
    return used, _Stepped(days, rule._count, rule._until)


def _arithmetic(
    stepped: _Stepped, first: datetime, span_start: datetime, span_stop: datetime
) -> Iterator[datetime]:
    """``rrule.between(span_start, span_stop, inc=True)`` for a stepped rule, without
    dateutil: occurrence ``k`` is DTSTART's date plus ``k`` steps at DTSTART's wall time
    (seconds resolution, fold 0, as dateutil combines them), while ``k`` < COUNT and the
    occurrence is not after UNTIL."""
    base = first.replace(microsecond=0)
    wall = time(base.hour, base.minute, base.second, tzinfo=base.tzinfo)
    day = base.date()
    since = span_start.astimezone(base.tzinfo) if base.tzinfo is not None else span_start
    # One step early: a DST change moves an instant by hours, never by a step.
    k = max(0, (since.date() - day).days // stepped.days - 1)
    step = timedelta(days=stepped.days)
    moment = datetime.combine(day + step * k, wall)
    while stepped.count is None or k < stepped.count:
        if stepped.until is not None and moment > stepped.until:
            return
        if moment > span_stop:
            return
        if moment >= span_start:
            yield moment
        k += 1
        moment = datetime.combine(day + step * k, wall)


def plain_rule_spans(
    master: EventContent,
    has_overrides: bool,
    window: tuple[datetime, datetime],
    cap: int,
) -> list[Span] | None:
    """The occurrences of a plain one-RRULE series overlapping ``window`` (aware, in the
    reader's zone), by start, as the library gives them; None when the series is not
    plain (the caller then asks the library)."""
    if has_overrides:
        return None
    text = _rule_text(tuple(master.recurrence))
    if text is None:
        return None
    raw_start = _local(master.start, master.tzid)
    raw_end = _local(master.end, master.tzid)
    if isinstance(raw_start, datetime) != isinstance(raw_end, datetime):
        return None  # mixed date / date-time: let the library make them comparable
    start, end = (raw_end, raw_start) if raw_start > raw_end else (raw_start, raw_end)
    all_dates = not isinstance(start, datetime)
    zone: tzinfo | None = start.tzinfo if isinstance(start, datetime) else None
    first = convert_to_datetime(start, zone)
    duration: timedelta = convert_to_datetime(end, zone) - first
    try:
        used, stepped = _stepped(text, all_dates)
        until = _until_of(used)
        lo, hi = window
        span_start = convert_to_datetime(lo - duration, zone)
        span_stop = convert_to_datetime(hi, zone)
        if stepped is not None:
            starts: Iterable[datetime] = _arithmetic(stepped, first, span_start, span_stop)
        else:
            starts = _rule(text, first, all_dates)[0].between(span_start, span_stop, True)
        # DTSTART is an occurrence unless it lies after UNTIL (the library adds it as an
        # RDATE to an rruleset and asks that set's between(..., inc=True) first).
        lead = []
        if (until is None or not compare_greater(first, until)) and (
            span_start <= first <= span_stop
        ):
            lead.append(first)
        seen: set[datetime] = set()
        spans: list[Span] = []
        for moments, limit in ((lead, None), (starts, until)):
            for moment in moments:
                if limit is not None and compare_greater(moment, limit):
                    continue
                if moment in seen:
                    continue
                seen.add(moment)
                stop = moment + duration
                if all_dates:
                    found: Span = (convert_to_date(moment), convert_to_date(stop))
                    inside = time_span_contains_event(lo, hi, found[0], found[1])
                else:
                    # time_span_contains_event on aware values, which need no conversion.
                    found = (moment, stop)
                    if moment == stop:
                        inside = lo <= moment < hi if lo != hi else moment == lo
                    else:
                        inside = moment < hi and lo < stop
                if inside:
                    spans.append(found)
                    if len(spans) > cap:
                        return None
    except Exception:  # the library's path decides what a bad rule shows
        return None
    spans.sort(key=itemgetter(0))
    return spans


__all__ = ["Span", "plain_rule_spans"]
