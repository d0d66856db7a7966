"""Availability rules (Cronofy's managed availability): weekly wall-clock periods in a tzid,
expanded into UTC intervals.

A weekly period ``{day: "monday", start_time: "09:00", end_time: "17:30"}`` covers, on
every Monday, the instants from 09:00 to 17:30 local time in the rule's ``tzid``. Each
boundary is a wall time converted on its own day, so the period follows the zone's
daylight-saving changes: 09:00-17:00 in Europe/London is 08:00-16:00Z in summer and
09:00-17:00Z in winter.

Wall times that do not exist or exist twice are resolved as RFC 5545 (section 3.3.5)
resolves a DTSTART, which is also what `zoneinfo` does with ``fold=0``:

- a wall time inside a spring-forward gap is read with the UTC offset in force before
  the gap, i.e. moved forward by the gap's length (Europe/London, 2026-03-29: 01:30
  is 01:30Z = 02:30 BST);
- an ambiguous wall time (fall back) is its first occurrence (Europe/London,
  2026-10-25: 01:30 is 01:30 BST = 00:30Z).

Both boundaries are resolved independently; if the start then does not come before
the end (a period lying in a gap), the period is empty that day. ``end_time`` may be
``"24:00"``, the end of the day; a period ends after it starts, so one crossing
midnight is written as two (``22:00-24:00`` and the next day's ``00:00-02:00``, which
join into one interval). Several periods and several rules are a union.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.availability.intervals import Interval, as_utc, clip, normalise

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = timedelta(days=1)
_WALL_TIME = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")


def parse_wall_time(text: str) -> timedelta:
    """``"HH:MM"`` (``"00:00"`` to ``"24:00"``) as the time since local midnight."""
    match = _WALL_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time of day as HH:MM")
    offset = timedelta(hours=int(match[1]), minutes=int(match[2]))
    if offset > _DAY:
        raise ValueError(f"{text!r} is later than 24:00")
    return offset


def format_wall_time(offset: timedelta) -> str:
    """The inverse of `parse_wall_time`."""
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class WeeklyPeriod:
    """One weekly wall-clock period: ``day`` from ``start`` to ``end`` (times since local
    midnight, whole minutes, ``0 <= start < end <= 24h``)."""

    day: str
    start: timedelta
    end: timedelta

    def __post_init__(self) -> None:
        if self.day not in DAYS:
            raise ValueError(f"day {self.day!r} is not one of {', '.join(DAYS)}")
        for offset in (self.start, self.end):
            if offset % timedelta(minutes=1) or not timedelta(0) <= offset <= _DAY:
                raise ValueError(f"{offset} is not a time of day in whole minutes")
        if self.end <= self.start:
            raise ValueError(
                f"{self.day} {format_wall_time(self.start)}-{format_wall_time(self.end)}: "
                "the end must be after the start"
            )

    @classmethod
    def parse(cls, day: str, start_time: str, end_time: str) -> WeeklyPeriod:
        """From Cronofy's ``{day, start_time, end_time}`` strings."""
        return cls(day, parse_wall_time(start_time), parse_wall_time(end_time))

    @property
    def weekday(self) -> int:
        """Monday is 0, as `date.weekday`."""
        return DAYS.index(self.day)


@dataclass(frozen=True, slots=True)
class AvailabilityRule:
    """A set of weekly periods in one time zone. ``rule_id`` is Cronofy's
    ``availability_rule_id``; members may pick rules by it."""

    tzid: str
    weekly_periods: tuple[WeeklyPeriod, ...]
    rule_id: str = ""

    def __post_init__(self) -> None:
        zone_of(self.tzid)

    def expand(self, start: datetime, end: datetime) -> list[Interval]:
        """This rule's periods between ``start`` and ``end`` (aware), as normalised UTC
        intervals clipped to ``[start, end)``."""
        zone = zone_of(self.tzid)
        start, end = as_utc(start, "range start"), as_utc(end, "range end")
        by_weekday: list[list[WeeklyPeriod]] = [[] for _ in DAYS]
        for period in self.weekly_periods:
            by_weekday[period.weekday].append(period)
        # A local day's periods end by its 24:00 (plus at most a gap's length), so the
        # day before `start`'s local date may still reach past `start`.
        day = start.astimezone(zone).date() - _DAY
        last = end.astimezone(zone).date()
        found: list[Interval] = []
        while day <= last:
            periods = by_weekday[day.weekday()]
            if periods:
                midnight = datetime.combine(day, time(0))
                for period in periods:
                    period_start = _to_utc(midnight + period.start, zone)
                    period_end = _to_utc(midnight + period.end, zone)
                    if period_start < period_end:  # else it lies in a gap: empty that day
                        found.append((period_start, period_end))
            day += _DAY
        return clip(normalise(found), (start, end))


def expand_rules(
    rules: Iterable[AvailabilityRule], start: datetime, end: datetime
) -> list[Interval]:
    """The union of ``rules`` between ``start`` and ``end``."""
    found: list[Interval] = []
    for rule in rules:
        found.extend(rule.expand(start, end))
    return normalise(found)


def select_rules(
    rules: Sequence[AvailabilityRule], rule_ids: Sequence[str] | None
) -> list[AvailabilityRule]:
    """The rules a member uses: all of them, or those whose ``rule_id`` is listed."""
    if rule_ids is None:
        return list(rules)
    wanted = set(rule_ids)
    return [rule for rule in rules if rule.rule_id in wanted]


def zone_of(tzid: str) -> ZoneInfo:
    """The IANA zone ``tzid``; ValueError for an unknown one."""
    try:
        return ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tzid!r}") from exc


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    # fold=0 (the default): RFC 5545's reading of gaps and repeats, see the module docstring.
    return wall.replace(tzinfo=zone).astimezone(UTC)
