"""Expand a recurring series into its occurrences inside a window.

The expansion itself is `recurring_ical_events`' job; this module only builds
the iCalendar view of one stored series (the master's content plus its
overrides), asks for the occurrences, and maps each one back to the stored
event it came from. We never evaluate an RRULE ourselves: dateutil does, either
inside the library or, for a plain one-RRULE series without overrides, through
`calsync.api.expand_rrule`, which takes the library's own steps without building
iCalendar objects (compared with the library on generated series).

Rules worth knowing:

* The result is exactly ``recurring_ical_events.of(cal).between(from, to)``
  (tests/unit/test_recurrence_fidelity.py compares the two on generated
  series), with ``from``/``to`` in the reader's zone and no widening: the
  library's window is the answer, quirks included.
* A timed master's DTSTART is given in the master's own ``tzid``, because an
  RRULE repeats in local wall time: a weekly 09:00 New York meeting stays at
  09:00 across a DST change (14:00Z in winter, 13:00Z in summer).
* An override carries the RECURRENCE-ID its provider wrote when the reader
  kept it (``EventContent.recurrence_id``: ``RANGE=THISANDFUTURE``, another
  zone), else its ``original_start`` in its own zone. The library applies it:
  it replaces the matching occurrence, and with ``RANGE=THISANDFUTURE`` it
  shifts and re-titles the later ones too. RANGE is resolved here, at read
  time, and never stored as a split series: the store keeps what the provider
  holds, so a later change of the rule (an EXDATE added on the server) still
  applies, and a write-back sends the override as it was.
* A cancelled occurrence (a cancelled override, or one a cancelled
  RANGE=THISANDFUTURE override reaches) is not shown.
* Every occurrence gets an identity that is stable and distinct within the
  series: see `occurrence_uid`; one shifted by RANGE=THISANDFUTURE keeps the
  start its rule gave it.
* A series can produce at most `MAX_OCCURRENCES_PER_SERIES` occurrences per
  window, so a pathological rule (FREQ=SECONDLY) cannot stall a read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from recurring_ical_events.util import make_comparable

from calsync.api.expand_rrule import Span, plain_rule_spans
from calsync.api.times import is_valid_tzid, overlaps
from calsync.model import EventContent
from calsync.model.events import EventTime

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_OCCURRENCES_PER_SERIES = 2000
_SOURCE_PROP = "X-CALSYNC-SOURCE"


@dataclass(frozen=True, slots=True)
class Occurrence(Generic[T]):
    """One occurrence: its own start/end, the stored event it shows, and its identity.

    ``source`` is the master for a plain occurrence and the override for a
    replaced one; ``original_start`` is the RECURRENCE-ID (the start the rule
    gave this occurrence), which is what identifies it within the series.
    """

    start: EventTime
    end: EventTime
    original_start: EventTime
    source: T
    content: EventContent


def occurrence_uid(series_uid: str, original_start: EventTime) -> str:
    """``evt_x.20260115T140000Z`` (timed) or ``evt_x.20260115`` (all-day).

    The suffix is the occurrence's original start, so an override keeps the
    identity of the occurrence it replaced and a client can match them up. The
    dot never appears in our random ids (URL-safe base64), so the series uid
    can always be recovered with `split_occurrence_uid`.
    """
    if isinstance(original_start, datetime):
        t = original_start.astimezone(UTC)
        return f"{series_uid}.{t.year:04d}{t.month:02d}{t.day:02d}T{t:%H%M%S}Z"
    d = original_start
    return f"{series_uid}.{d.year:04d}{d.month:02d}{d.day:02d}"


def split_occurrence_uid(uid: str) -> tuple[str, EventTime | None]:
    """Inverse of `occurrence_uid`: ``(series_uid, original_start)``, or ``(uid, None)``."""
    base, sep, suffix = uid.rpartition(".")
    if not sep or not base:
        return uid, None
    try:
        if len(suffix) == 16 and suffix.endswith("Z"):
            return base, datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if len(suffix) == 8:
            return base, datetime.strptime(suffix, "%Y%m%d").date()
    except ValueError:
        pass
    return uid, None


def _local(value: EventTime, tzid: str) -> EventTime:
    if isinstance(value, datetime):
        zone = ZoneInfo(tzid) if is_valid_tzid(tzid) else UTC
        return value.astimezone(zone)
    return value


def recurrence_properties(lines: Sequence[str]) -> list[tuple[str, Any]]:
    """The RRULE/RDATE/EXDATE properties of recurrence lines, parsed by icalendar."""
    text = "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"
    parsed = icalendar.Event.from_ical(text)
    return [
        (name, value)
        for name, value in parsed.property_items(recursive=False)
        if name in ("RRULE", "RDATE", "EXDATE")
    ]


def _dateutil_rule(value: str) -> None:
    """ValueError unless dateutil reads the rule (UNTIL in UTC needs a zoned start)."""
    try:
        rrulestr(value, dtstart=datetime(2000, 1, 1))
    except ValueError:
        rrulestr(value, dtstart=datetime(2000, 1, 1, tzinfo=UTC))


def recurrence_lines_valid(lines: Sequence[str]) -> bool:
    """Whether the lines parse as RRULE/RDATE/EXDATE properties (for input validation)."""
    allowed = ("RRULE", "RDATE", "EXDATE")
    if not lines or any(not line.upper().startswith(allowed) for line in lines):
        return False
    if any("\r" in line or "\n" in line for line in lines):
        return False
    try:
        parsed = recurrence_properties(lines)
        # icalendar keeps any NAME=VALUE list as a rule; dateutil (what the
        # expansion runs on) refuses unknown frequencies, days and counts.
        for line in lines:
            name, _, value = line.partition(":")
            if name.upper().split(";")[0] == "RRULE":
                _dateutil_rule(value)
    except (ValueError, TypeError, KeyError, IndexError):
        return False
    return any(name in ("RRULE", "RDATE") for name, _ in parsed)


def _component(uid: str, content: EventContent, index: int) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstart", _local(content.start, content.tzid))
    event.add("dtend", _local(content.end, content.tzid))
    event.add("summary", content.summary)
    event.add("status", content.status.upper())
    event.add(_SOURCE_PROP, str(index))
    return event


def recurrence_id_property(override: EventContent, tzid: str | None = None) -> Any:
    """The override's RECURRENCE-ID: the provider's line when the reader kept it
    (``RANGE=THISANDFUTURE``, another zone), else its original start in ``tzid``
    (default: the override's own zone, as the reader decided what to keep)."""
    assert override.original_start is not None
    if override.recurrence_id:
        try:
            text = f"BEGIN:VEVENT\r\n{override.recurrence_id}\r\nEND:VEVENT\r\n"
            return icalendar.Event.from_ical(text)["RECURRENCE-ID"]
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("ignoring an unreadable RECURRENCE-ID %r", override.recurrence_id)
    holder = icalendar.Event()
    holder.add("recurrence-id", _local(override.original_start, tzid or override.tzid))
    return holder["RECURRENCE-ID"]


def build_calendar(
    uid: str, master: EventContent, overrides: Sequence[EventContent]
) -> icalendar.Calendar:
    """The VCALENDAR of one series; ``X-CALSYNC-SOURCE`` indexes master (0) / overrides (1..)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//calsync//expand//EN")
    cal.add("version", "2.0")
    head = _component(uid, master, 0)
    for name, value in recurrence_properties(master.recurrence):
        head.add(name, value, encode=False)
    cal.add_component(head)
    for position, override in enumerate(overrides, start=1):
        if override.original_start is None:
            continue
        component = _component(uid, override, position)
        component.add("recurrence-id", recurrence_id_property(override), encode=False)
        cal.add_component(component)
    return cal


def _plain(value: date | datetime) -> EventTime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def expand_series(
    uid: str,
    master: tuple[T, EventContent],
    overrides: Sequence[tuple[T, EventContent]],
    window: tuple[datetime, datetime],
    zone: ZoneInfo,
    *,
    fast: bool = True,
) -> list[Occurrence[T]]:
    """The occurrences of one series overlapping ``window`` (viewed in ``zone``), by start.

    Exactly what ``recurring_ical_events.of(cal).between(from, to)`` gives, with
    ``from`` and ``to`` in ``zone`` (an all-day date is that day in ``zone``),
    less the cancelled ones, and each occurrence once (see below). A plain one-RRULE
    series without overrides takes the library's steps on dateutil directly
    (`calsync.api.expand_rrule`, ten times cheaper); ``fast=False`` always asks the
    library (the tests compare the two).
    """
    sources = [master, *overrides]
    lo, hi = (moment.astimezone(zone) for moment in window)
    if fast:
        spans = plain_rule_spans(master[1], bool(overrides), (lo, hi), MAX_OCCURRENCES_PER_SERIES)
        if spans is not None:
            return _plain_occurrences(master, spans)
    # between() is fast; after() re-scans growing spans and is unusable here.
    # Sub-daily rules get their span clamped so the cap bounds the work too.
    span = _max_span(master[1].recurrence)
    if span is not None:
        hi = max(lo, min(hi, max(lo, _start_key_of(master[1].start)) + span))
    try:
        cal = build_calendar(uid, master[1], [content for _, content in overrides])
        components = sorted(recurring_ical_events.of(cal).between(lo, hi), key=_start_key)
    except Exception:  # a provider's malformed rule must never break a read
        log.warning("cannot expand series %s; showing its first occurrence only", uid)
        return list(iter_single(master[0], master[1], window, zone))
    result: list[Occurrence[T]] = []
    seen: set[tuple[EventTime, EventTime, EventTime, int]] = set()
    for component in components:
        if len(result) >= MAX_OCCURRENCES_PER_SERIES:
            break
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start = _plain(component.DTSTART)
        end = _plain(component.DTEND) if "DTEND" in component else start
        index = int(str(component.get(_SOURCE_PROP, "0")))
        source, content = sources[index] if 0 <= index < len(sources) else sources[0]
        original = _original_start(component, content, start)
        # The library lists an all-day day twice when two DATE-TIME values of the
        # series fall on it; one identity, one occurrence.
        key = (original, start, end, index)
        if key in seen:
            continue
        seen.add(key)
        result.append(Occurrence(start, end, original, source, content))
    return result


def _plain_occurrences(master: tuple[T, EventContent], spans: list[Span]) -> list[Occurrence[T]]:
    """`expand_series`' result for the fast path's spans: the master's content throughout
    (no overrides), each occurrence's identity its own start (the library's
    RECURRENCE-ID for an unmodified occurrence)."""
    source, content = master
    if content.status.upper() == "CANCELLED":
        return []
    result: list[Occurrence[T]] = []
    for raw_start, raw_end in spans:
        start, end = _plain(raw_start), _plain(raw_end)
        result.append(Occurrence(start, end, start, source, content))
    return result


def _original_start(
    component: icalendar.Event, content: EventContent, start: EventTime
) -> EventTime:
    """The start the rule gave this occurrence (its identity in the series).

    An occurrence that a RANGE=THISANDFUTURE override moved carries that
    override's RECURRENCE-ID; its own is its start less the override's shift,
    undone the way the library applied it.
    """
    rid = component.get("RECURRENCE-ID")
    if rid is None:
        return start
    if rid.params.get("RANGE") != "THISANDFUTURE" or start == _plain(content.start):
        return _plain(rid.dt)
    own_start, rid_start = make_comparable((_local(content.start, content.tzid), rid.dt))
    return _plain(component.DTSTART - (own_start - rid_start))


def _start_key(component: icalendar.Event) -> datetime:
    return _start_key_of(_plain(component.DTSTART))


def _start_key_of(start: EventTime) -> datetime:
    if isinstance(start, datetime):
        return start
    return datetime.combine(start, datetime.min.time(), UTC)


_SUB_DAILY = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
}


def _max_span(lines: Sequence[str]) -> timedelta | None:
    """How far a sub-daily rule may be expanded so it yields at most the cap (None: any)."""
    span: timedelta | None = None
    for line in lines:
        name, _, value = line.partition(":")
        if not name.upper().startswith("RRULE"):
            continue
        parts = dict(p.partition("=")[::2] for p in value.upper().split(";"))
        step = _SUB_DAILY.get(parts.get("FREQ", ""))
        if step is not None:
            interval = int(parts["INTERVAL"]) if parts.get("INTERVAL", "").isdigit() else 1
            limit = step * max(1, interval) * MAX_OCCURRENCES_PER_SERIES
            span = limit if span is None else min(span, limit)
    return span


def iter_single(
    item: T, content: EventContent, window: tuple[datetime, datetime], zone: ZoneInfo
) -> Iterator[Occurrence[T]]:
    """A non-recurring event as zero or one occurrence (for a uniform read loop)."""
    if overlaps(content.start, content.end, window, zone):
        yield Occurrence(content.start, content.end, content.start, item, content)
