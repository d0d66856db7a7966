"""The availability query and its results, as frozen dataclasses.

These are the core's own types, not the wire format: the API layer parses Cronofy's
JSON (``{"minutes": 60}``, ``"all"``, the ``available_periods`` alias of
``query_periods``, limits such as 35 days and 50 periods, Cronofy's list of start
intervals, default ``max_results``) and builds them. The constructors still refuse
what no query can mean (an end not after its start, a naive datetime, a duration that
is not positive, a group that can never be satisfied) with ``ValueError``, and convert
every aware datetime to UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from calsync.availability.intervals import Interval, as_utc

#: A group's requirement: every member, or at least this many of them.
Required = int | Literal["all"]


class ResponseFormat(StrEnum):
    PERIODS = "periods"
    SLOTS = "slots"
    OVERLAPPING_SLOTS = "overlapping_slots"


def utc_period(period: Interval, what: str) -> Interval:
    """A non-empty ``[start, end)`` in UTC; ValueError otherwise."""
    start, end = as_utc(period[0], what), as_utc(period[1], what)
    if end <= start:
        raise ValueError(
            f"{what} ends at {end.isoformat()}, not after its start {start.isoformat()}"
        )
    return start, end


@dataclass(frozen=True, slots=True)
class Member:
    """One participant. ``available_periods`` (if given) limits when the member can be
    free; ``managed_availability`` limits it to the member's availability rules (all of
    them, or those named in ``availability_rule_ids``)."""

    sub: str
    available_periods: tuple[Interval, ...] | None = None
    managed_availability: bool = False
    availability_rule_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.sub:
            raise ValueError("a member needs a sub")
        if self.available_periods is not None:
            periods = tuple(utc_period(p, "available period") for p in self.available_periods)
            object.__setattr__(self, "available_periods", periods)
        if self.availability_rule_ids is not None:  # a list would make the member unhashable
            object.__setattr__(self, "availability_rule_ids", tuple(self.availability_rule_ids))


@dataclass(frozen=True, slots=True)
class ParticipantGroup:
    """Members of which all, or at least ``required`` (a positive int), must be free. A
    member listed twice in one group counts once."""

    members: tuple[Member, ...]
    required: Required = "all"

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", tuple(self.members))
        if not self.members:
            raise ValueError("a participant group needs at least one member")
        if self.required != "all":
            distinct = len(set(self.members))
            if not isinstance(self.required, int) or isinstance(self.required, bool):
                raise ValueError(f"required must be 'all' or a number, not {self.required!r}")
            if not 1 <= self.required <= distinct:
                raise ValueError(
                    f"required {self.required} is not between 1 and the group's {distinct} members"
                )

    @property
    def needed(self) -> int:
        """How many distinct members must be free."""
        return len(set(self.members)) if self.required == "all" else self.required


@dataclass(frozen=True, slots=True)
class Buffer:
    """Free time the meeting being scheduled needs around it: ``before`` it (after any
    earlier busy event) and ``after`` it (before any later busy event)."""

    before: timedelta = timedelta(0)
    after: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.before < timedelta(0) or self.after < timedelta(0):
            raise ValueError("buffers must not be negative")


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    """``start_interval`` is required for the two slot formats and ignored for periods;
    ``max_results`` None means every result."""

    participants: tuple[ParticipantGroup, ...]
    required_duration: timedelta
    query_periods: tuple[Interval, ...]
    buffer: Buffer = Buffer()
    response_format: ResponseFormat = ResponseFormat.PERIODS
    start_interval: timedelta | None = None
    max_results: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "participants", tuple(self.participants))
        if not self.participants:
            raise ValueError("a query needs at least one participant group")
        if not self.query_periods:
            raise ValueError("a query needs at least one query period")
        if self.required_duration <= timedelta(0):
            raise ValueError("required_duration must be positive")
        periods = tuple(utc_period(p, "query period") for p in self.query_periods)
        object.__setattr__(self, "query_periods", periods)
        object.__setattr__(self, "response_format", ResponseFormat(self.response_format))
        if self.response_format is not ResponseFormat.PERIODS:
            if self.start_interval is None:
                raise ValueError(f"{self.response_format} needs a start_interval")
            if self.start_interval <= timedelta(0):
                raise ValueError("start_interval must be positive")
        if self.max_results is not None and self.max_results < 1:
            raise ValueError("max_results must be at least 1")


@dataclass(frozen=True, slots=True, order=True)
class AvailableResult:
    """One available period or slot: ``[start, end)`` in UTC, and the subs free over all
    of it (in the order they first appear in the query)."""

    start: datetime
    end: datetime
    participants: tuple[str, ...]
