"""Whether a stored event can appear in a listing of a time window (issue #13).

A windowed provider (Graph's calendarView) lists only the events that overlap
its window, so its complete listing proves the absence of just those: an event,
or a whole series, that lies outside the window left it, and is not gone
(`calsync.providers.base.PullPage.window`). `reaches` answers from the columns
the planner already reads; anything it cannot judge counts as reaching the
window, which is how every listing was read before windows were known.

A series reaches the window when its first occurrence starts before the
window's end and its last one ends after the window's start. The last one is
found by expanding the rule (dateutil, in the master's own zone: a rule repeats
in local wall time) only when the rule is bounded (UNTIL or COUNT) and yields at
most `MAX_EXPANDED` occurrences; otherwise the series is taken as unbounded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]

from calsync.providers.base import SyncWindow
from calsync.sync.state import EventState

__all__ = ["MAX_EXPANDED", "reaches", "series_end"]

MAX_EXPANDED = 5000
#: How the store widens an all-day event's UTC range (`calsync.store.event_codec.range_of`).
_ALL_DAY_EARLIEST = timedelta(hours=14)
_RULE_NAMES = ("RRULE", "RDATE", "EXDATE", "EXRULE")


def reaches(event: EventState, window: SyncWindow) -> bool:
    """False only when ``event`` (a master: every occurrence) lies wholly outside ``window``."""
    start, end = event.start_at, event.end_at
    if start is None or end is None:
        return True
    if event.master_remote_id is None and _is_series(event.rules):
        last_end = series_end(event)
        if last_end is None:
            return start < window.end
        end = max(end, last_end)
    if start >= window.end:
        return False
    # A zero-length event (a cancelled occurrence's override) sits at its start.
    return end > window.start or (end == start and start >= window.start)


def _is_series(rules: tuple[str, ...]) -> bool:
    return any(_name(line) in ("RRULE", "RDATE") for line in rules)


def _name(line: str) -> str:
    return line.split(":", 1)[0].split(";", 1)[0].upper()


def series_end(event: EventState) -> datetime | None:
    """When the series' last occurrence ends (UTC); None when unbounded or unreadable."""
    start, end = event.start_at, event.end_at
    assert start is not None and end is not None
    lines = [line for line in event.rules if _name(line) in _RULE_NAMES]
    for line in lines:
        if _name(line) == "RRULE" and "UNTIL=" not in line.upper() and "COUNT=" not in line.upper():
            return None
    try:
        zone = ZoneInfo(event.tzid or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    if event.all_day:
        first = (start + _ALL_DAY_EARLIEST).replace(tzinfo=None)
    else:
        first = start.astimezone(zone).replace(tzinfo=None)
    try:
        rules = rrulestr("\n".join(lines), dtstart=first, ignoretz=True, forceset=True)
        occurrences = list(islice(iter(rules), MAX_EXPANDED + 1))
    except (ValueError, TypeError, OverflowError, KeyError):
        return None
    if len(occurrences) > MAX_EXPANDED:
        return None
    if not occurrences:
        return end
    last: datetime = occurrences[-1]
    if event.all_day:
        last_start = last.replace(tzinfo=UTC) - _ALL_DAY_EARLIEST
    else:
        last_start = last.replace(tzinfo=zone).astimezone(UTC)
    return last_start + (end - start)
