"""A member's busy time from its stored events, as the availability query reads it.

**Busy** means: not cancelled, not transparent, and not declined by the account
(its own attendee entry, matched by its email, says ``declined``); tentative is
busy. Series are expanded exactly as ``/v1/free_busy`` expands them
(`calsync.api.expand.expand_series`, overrides and cancelled occurrences
included). An all-day event is busy from midnight to midnight in its own tzid
(UTC when it has none that is valid).

`BusyCache` keeps the result per member, keyed by the account's version
(``last_change_seq``, which every event write, calendar change and rule change
moves) as read at the start of the request's own read: an entry filed under
version N holds data at least as new as N, so a hit is never stale.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from calsync.api.expand import expand_series
from calsync.api.times import is_valid_tzid
from calsync.availability import Interval, normalise
from calsync.model import Attendee, EventContent
from calsync.model.events import EventTime
from calsync.store.records import BusyRow

_UTC_ZONE = ZoneInfo("UTC")
#: Series are expanded over the window widened by this much, so an all-day
#: occurrence (a date, read as a UTC day by the expansion) at either edge is kept.
_SLACK = timedelta(days=2)


def _instant(value: EventTime, tzid: str) -> datetime:
    if isinstance(value, datetime):
        return value
    zone = ZoneInfo(tzid) if tzid and is_valid_tzid(tzid) else UTC
    return datetime.combine(value, time(0), zone).astimezone(UTC)


def _declined_in_text(attendees: str | None, email: str) -> bool:
    if not email or not attendees or email not in attendees.lower():
        return False
    try:
        entries = json.loads(attendees)
    except ValueError:
        return False
    return any(
        isinstance(a, dict)
        and str(a.get("email", "")).lower() == email
        and a.get("status") == "declined"
        for a in entries or []
    )


def _declined(attendees: Iterable[Attendee], email: str) -> bool:
    return bool(email) and any(
        a.email.lower() == email and a.status == "declined" for a in attendees
    )


def _series_busy(
    uid: str,
    master: BusyRow,
    overrides: list[tuple[BusyRow, EventContent]],
    window: tuple[datetime, datetime],
    me: str,
    fast: bool = True,
) -> list[Interval]:
    """The busy occurrences of one series inside ``window``."""
    assert master.content is not None
    found: list[Interval] = []
    series = expand_series(uid, (master, master.content), overrides, window, _UTC_ZONE, fast=fast)
    for occ in series:
        content = occ.content
        if content.status == "cancelled" or content.transparency == "transparent":
            continue
        if _declined(content.attendees, me):
            continue
        found.append((_instant(occ.start, content.tzid), _instant(occ.end, content.tzid)))
    return found


def busy_intervals(
    rows: list[BusyRow],
    window: tuple[datetime, datetime],
    email: str | None,
    series_cache: BusyCache[list[Interval]] | None = None,
    *,
    fast: bool = True,
) -> list[Interval]:
    """The normalised busy time of one member's rows (from `AvailabilityRepo.busy_rows`).

    ``series_cache`` keeps each series' busy occurrences keyed by everything they are
    computed from (the master's and its overrides' stored content, the window, the
    account's email), so after a write only the series that changed are expanded again:
    expansion is most of the cost of an uncached answer. ``fast=False`` expands every
    series through recurring-ical-events (`expand_series`; the tests compare)."""
    me = (email or "").lower()
    masters = {r.event_uid: r for r in rows if r.recurring and r.content is not None}
    overrides: dict[str, list[BusyRow]] = {}
    found: list[Interval] = []
    for row in rows:
        if row.recurring:
            continue
        series = row.recurring_event_uid
        if (
            series is not None
            and series in masters
            and row.content is not None
            and row.content.original_start is not None
        ):
            overrides.setdefault(series, []).append(row)
            continue
        # A single event, or an override whose series is gone: on its own.
        if row.status == "cancelled" or row.transparency == "transparent":
            continue
        if _declined_in_text(row.attendees, me):
            continue
        if row.all_day and row.start_date is not None and row.end_date is not None:
            found.append((_instant(row.start_date, row.tzid), _instant(row.end_date, row.tzid)))
        else:
            found.append((row.start_at, row.end_at))
    wide = (window[0] - _SLACK, window[1] + _SLACK)
    for uid, master in masters.items():
        assert master.content is not None
        series_overrides = [(o, o.content) for o in overrides.get(uid, []) if o.content is not None]
        key = (uid, master.content, tuple(c for _, c in series_overrides), wide, me)
        occurrences = series_cache.get(key) if series_cache is not None else None
        if occurrences is None:
            occurrences = _series_busy(uid, master, series_overrides, wide, me, fast)
            if series_cache is not None:
                series_cache.put(key, occurrences)
        found.extend(occurrences)
    window_start, window_end = window
    # Sorted here (a C-level tuple sort), so `normalise` takes its one-pass merge.
    found.sort()
    return normalise(
        [
            (start, end)
            for start, end in found
            if end > window_start and start < window_end and start < end
        ]
    )


V = TypeVar("V")


class BusyCache(Generic[V]):
    """An LRU of busy lists: a member's by ``(account pk, version, email, calendar ids,
    window)`` (`BusyCache`), or a series' by its content (see `busy_intervals`)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        if self.max_entries <= 0:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, value: V) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
