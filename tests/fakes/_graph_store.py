"""The fake Graph server's calendars and events, and their instances in a time window.

Stored objects are `Item`s: single events, series masters and exceptions. They are
never changed in place: a write builds a new `Item` (copy-on-write), so a delta
round can keep references to the items it started with and serve its pages from
that snapshot while writes go on.

An `Instance` is what calendarView and its delta report: a singleInstance event, an
occurrence of a series (virtual, computed from the master) or an exception.
Occurrences and exceptions come expanded and series masters do not appear
(https://learn.microsoft.com/en-us/graph/delta-query-events: "The returned events may
include single instances or occurrences and exceptions of a recurring series").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tests.fakes import _graph_recurrence as recurrence
from tests.fakes._graph_wire import occurrence_id, parse_local, zone


@dataclass(frozen=True)
class Item:
    """A stored event: single, series master, or (with ``master_id``) an exception."""

    id: str
    calendar_id: str
    fields: dict[str, Any]
    created: datetime
    modified: datetime
    change_key: str
    #: Global change sequence of this object's last change (the delta "version").
    seq: int
    ical_uid: str
    master_id: str | None = None
    original_start: datetime | None = None
    #: On masters: exceptions by original start (UTC), and cancelled original starts -> seq.
    exceptions: dict[datetime, Item] = field(default_factory=dict)
    cancelled: dict[datetime, int] = field(default_factory=dict)

    @property
    def type(self) -> str:
        if self.master_id is not None:
            return "exception"
        return "seriesMaster" if self.fields.get("recurrence") else "singleInstance"

    @property
    def etag(self) -> str:
        return f'W/"{self.change_key}"'


@dataclass(frozen=True)
class Instance:
    """One entry of a calendar view: a single event, an occurrence or an exception."""

    id: str
    top_id: str
    type: str
    start: datetime
    end: datetime
    version: int
    #: The item whose fields render this instance (the master, for an occurrence).
    source: Item
    original_start: datetime | None = None

    def overlaps(self, window_start: datetime, window_end: datetime) -> bool:
        """calendarView semantics: the event overlaps the window (a point event inside it)."""
        if self.start == self.end:
            return window_start <= self.start < window_end
        return self.start < window_end and self.end > window_start


@dataclass
class Tombstone:
    seq: int
    #: Ids of the stored objects that went with the deleted item (single or exceptions).
    ids: tuple[str, ...]
    #: Their last in-window-or-not instances, so a delta can say "@removed" for them.
    instances: tuple[Instance, ...] = ()


@dataclass
class FakeCalendar:
    id: str
    name: str
    change_key: str
    color: str = "auto"
    hex_color: str = ""
    is_default: bool = False
    can_edit: bool = True
    items: dict[str, Item] = field(default_factory=dict)
    tombstones: dict[str, Tombstone] = field(default_factory=dict)
    #: Top-level id -> seq of the last change to it or to anything under it.
    touched: dict[str, int] = field(default_factory=dict)


# -- times ---------------------------------------------------------------------------------


def local_of(when: dict[str, Any]) -> datetime:
    """The naive wall-clock time of a stored dateTimeTimeZone."""
    return parse_local(when["dateTime"], "dateTime")


def instant_of(when: dict[str, Any]) -> datetime:
    return local_of(when).replace(tzinfo=zone(when["timeZone"])).astimezone(UTC)


def instants(item: Item) -> tuple[datetime, datetime]:
    """The item's start and end as UTC instants, worked out once per (immutable) item.

    The memo sits in the frozen instance's ``__dict__``; a write builds a new `Item`,
    which starts without one. Writes fill it at once (`_graph_render.prepare`), as a
    server would store what it serves, so listings do not parse every stored time.
    """
    memo: tuple[datetime, datetime] | None = item.__dict__.get("_instants")
    if memo is None:
        memo = (instant_of(item.fields["start"]), instant_of(item.fields["end"]))
        item.__dict__["_instants"] = memo
    return memo


def _wall_to_utc(local: datetime, zone_name: str) -> datetime:
    return local.replace(tzinfo=zone(zone_name)).astimezone(UTC)


# -- instances -----------------------------------------------------------------------------


def single_instance(item: Item) -> Instance:
    start, end = instants(item)
    return Instance(item.id, item.id, "singleInstance", start, end, item.seq, item)


def exception_instance(master: Item, exception: Item) -> Instance:
    assert exception.original_start is not None
    start, end = instants(exception)
    return Instance(
        occurrence_id(master.id, exception.original_start),
        master.id,
        "exception",
        start,
        end,
        exception.seq,
        exception,
        exception.original_start,
    )


def occurrence_starts(master: Item, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """(original start UTC, end UTC) of the master's occurrences whose local date is in range.

    Occurrences repeat in the master's local wall time (its start zone), so they keep
    their clock time across daylight-saving changes. A series with an end is walked
    once per (immutable) item and kept, like `instants`.
    """
    if master.fields["recurrence"]["range"]["type"] != "noEnd":
        every: list[tuple[date, datetime, datetime]] | None = master.__dict__.get("_occurrences")
        if every is None:
            every = _walk(master, None)
            master.__dict__["_occurrences"] = every
        return [(start, end) for day, start, end in every if first <= day <= last]
    return [(start, end) for day, start, end in _walk(master, last) if day >= first]


def _walk(master: Item, until: date | None) -> list[tuple[date, datetime, datetime]]:
    start_local, end_local = local_of(master.fields["start"]), local_of(master.fields["end"])
    start_zone = master.fields["start"]["timeZone"]
    same_zone = master.fields["end"]["timeZone"] == start_zone
    wall_duration = end_local - start_local
    master_start, master_end = instants(master)
    absolute_duration = master_end - master_start
    found = []
    for day in recurrence.occurrence_dates(master.fields["recurrence"], until=until):
        local = datetime.combine(day, start_local.time())
        start = _wall_to_utc(local, start_zone)
        end = (
            _wall_to_utc(local + wall_duration, start_zone)
            if same_zone
            else start + absolute_duration
        )
        found.append((day, start, end))
    return found


def occurrence_at(master: Item, original: datetime) -> Instance | None:
    """The occurrence (or exception) of ``master`` originally at ``original``, if any."""
    if original in master.cancelled:
        return None
    if original in master.exceptions:
        return exception_instance(master, master.exceptions[original])
    zone_name = master.fields["start"]["timeZone"]
    local_day = original.astimezone(zone(zone_name)).date()
    for start, end in occurrence_starts(master, local_day, local_day):
        if start == original:
            return Instance(
                occurrence_id(master.id, start),
                master.id,
                "occurrence",
                start,
                end,
                master.seq,
                master,
                start,
            )
    return None


def master_instances(master: Item, window_start: datetime, window_end: datetime) -> list[Instance]:
    """Occurrences and exceptions of a series that overlap the window."""
    zone_name = master.fields["start"]["timeZone"]
    master_start, master_end = instants(master)
    duration = master_end - master_start
    tz = zone(zone_name)
    first = (window_start - duration).astimezone(tz).date() - timedelta(days=1)
    last = window_end.astimezone(tz).date() + timedelta(days=1)
    found: list[Instance] = []
    for start, end in occurrence_starts(master, first, last):
        if start in master.cancelled or start in master.exceptions:
            continue
        occurrence = Instance(
            occurrence_id(master.id, start),
            master.id,
            "occurrence",
            start,
            end,
            master.seq,
            master,
            start,
        )
        if occurrence.overlaps(window_start, window_end):
            found.append(occurrence)
    for exception in master.exceptions.values():
        instance = exception_instance(master, exception)
        if instance.overlaps(window_start, window_end):
            found.append(instance)
    return found


def item_instances(item: Item, window_start: datetime, window_end: datetime) -> list[Instance]:
    if item.type == "seriesMaster":
        return master_instances(item, window_start, window_end)
    instance = single_instance(item)
    return [instance] if instance.overlaps(window_start, window_end) else []


def own_instances(item: Item) -> list[Instance]:
    """Instances with a version of their own (a single event, or a master's exceptions).

    Delta reports these as "@removed" when they change outside the window; occurrences
    have no life of their own and are only ever reported inside it.
    """
    if item.type == "seriesMaster":
        return [exception_instance(item, e) for e in item.exceptions.values()]
    return [single_instance(item)]


def all_day_bounds(item_fields: dict[str, Any]) -> tuple[date, date]:
    return local_of(item_fields["start"]).date(), local_of(item_fields["end"]).date()


def is_midnight(value: datetime) -> bool:
    return value.time() == time()
