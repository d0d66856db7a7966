"""Availability: Cronofy's availability query as a pure computation.

This package never touches the store, HTTP or a provider (stdlib and `zoneinfo`
only): the API layer fetches each member's busy intervals and availability rules and
calls `find_availability`.

Readings of Cronofy's documentation that calsync holds to
==========================================================

- **Intervals are half-open** ``[start, end)``: events that touch leave no gap, and a
  free run exactly ``required_duration`` long counts.
- **Buffers** belong to the meeting being scheduled. Cronofy's Buffers guide: an
  interviewer "might need 30 minutes free before the interview" (``buffer.before``)
  and "30 minutes free after the interview" (``buffer.after``); buffers "do not form
  part of the event". So a meeting ``[s, s + d)`` needs ``[s - before, s + d + after)``
  clear of busy time, which is the same as: each busy event ``[a, b)`` blocks meeting
  time in ``[a - after, b + before)``. Buffers reach into a query period from busy
  events outside it; query-period, availability-rule and member ``available_periods``
  edges carry no buffer.
- **A member's free time** = query periods ∩ its ``available_periods`` (if given) ∩
  its availability rules (if ``managed_availability``) − its busy intervals widened
  by the buffers.
- **Groups**: every participant group must be satisfied, a group needing all of its
  members (``required: "all"``) or at least N of them (``required: N``).
- ``periods``: the maximal runs inside ONE query period where every group is
  satisfied AND the set of free members does not change; ``participants`` = the
  members free throughout; only runs at least ``required_duration`` long. (So with
  ``required: N`` a run splits where some extra member becomes free or busy, and each
  part must be long enough on its own.)
- ``slots``: candidates at query-period start + k × ``start_interval`` (while the slot
  ends inside the period); a candidate ``t`` is a slot when the members free over
  ``[t, t + required_duration)`` satisfy every group. ``slots`` takes the next
  candidate at or after the previous slot's end, ``overlapping_slots`` takes every
  candidate. ``participants`` = every member free over the slot, not only as many as
  required.
- ``max_results``: the chronologically first N results (by start, then end) across
  all query periods.

Choices where the documentation is silent
=========================================

- Query periods are evaluated one by one as given; overlapping query periods may give
  overlapping results, and identical results are reported once.
- ``participants`` lists each sub once, in the order subs first appear in the query.
  A sub listed in several groups with different options (``available_periods``,
  rules) is evaluated per listing and reported if any listing is free.
- A busy interval of zero length occupies no time, so it blocks nothing, buffers
  included (intervals are sets of instants; an empty one has no edges to buffer).
- A managed member whose rules are missing (or none match ``availability_rule_ids``)
  is never available.
- Rules in a time zone: see `calsync.availability.rules` (RFC 5545's reading of
  daylight-saving gaps and repeats).
- Results are at microsecond resolution, like the inputs; the API renders them.
"""

from calsync.availability.engine import find_availability
from calsync.availability.intervals import (
    Interval,
    at_least,
    clip,
    coverage,
    intersect,
    normalise,
    shrink_end,
    subtract,
    total,
    union,
    widen,
)
from calsync.availability.query import (
    AvailabilityQuery,
    AvailableResult,
    Buffer,
    Member,
    ParticipantGroup,
    Required,
    ResponseFormat,
)
from calsync.availability.rules import (
    DAYS,
    AvailabilityRule,
    WeeklyPeriod,
    expand_rules,
    format_wall_time,
    parse_wall_time,
    select_rules,
)

__all__ = [
    "DAYS",
    "AvailabilityQuery",
    "AvailabilityRule",
    "AvailableResult",
    "Buffer",
    "Interval",
    "Member",
    "ParticipantGroup",
    "Required",
    "ResponseFormat",
    "WeeklyPeriod",
    "at_least",
    "clip",
    "coverage",
    "expand_rules",
    "find_availability",
    "format_wall_time",
    "intersect",
    "normalise",
    "parse_wall_time",
    "select_rules",
    "shrink_end",
    "subtract",
    "total",
    "union",
    "widen",
]
