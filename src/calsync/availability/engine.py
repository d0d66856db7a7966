"""`find_availability`: busy intervals and rules in, available periods or slots out.

The steps, each a linear walk over sorted intervals (no per-minute grid):

1. per distinct member, its free time over the union of the query periods:
   ``query periods ∩ available_periods ∩ rules − busy widened by the buffers``;
2. one sweep over every member's free time at once (`intervals.coverage`) yields the
   maximal runs over which the set of free members is constant; a run counts when that
   set satisfies every group;
3. per query period, the counted runs clipped to it. ``periods``: those at least
   ``required_duration`` long. Slots: the sweep runs over each member's *possible slot
   starts* instead (its free intervals shortened by the duration,
   `intervals.shrink_end`), and the runs are clipped to the period's possible starts,
   so a run holds exactly the candidates whose whole slot the same members are free for.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial

from calsync.availability.intervals import (
    Interval,
    coverage,
    intersect,
    normalise,
    shrink_end,
    subtract,
    widen,
)
from calsync.availability.query import (
    AvailabilityQuery,
    AvailableResult,
    Buffer,
    Member,
    ResponseFormat,
)
from calsync.availability.rules import AvailabilityRule, expand_rules, select_rules

#: A satisfied segment: start, end and the mask of the members free over it.
_Run = tuple[datetime, datetime, int]

#: ``memo(member, compute)``: the member's free time, ``compute()`` or a copy the caller
#: kept from an earlier call for the same member, busy time, rules, query periods and
#: buffer (the only inputs of free time; not the duration, format or max_results).
FreeTimeMemo = Callable[[Member, Callable[[], list[Interval]]], list[Interval]]


def find_availability(
    query: AvailabilityQuery,
    busy_by_member: Mapping[str, Sequence[Interval]],
    rules_by_member: Mapping[str, Sequence[AvailabilityRule]] | None = None,
    memo: FreeTimeMemo | None = None,
) -> list[AvailableResult]:
    """The available periods or slots of ``query``, chronologically (by start, then end),
    at most ``query.max_results`` of them.

    ``busy_by_member`` maps a sub to its busy intervals (aware, in any order, possibly
    overlapping; a sub missing from it is never busy). ``rules_by_member`` maps a sub
    to its availability rules, used for members with ``managed_availability`` (a
    managed member without rules is never available). ValueError for a naive busy
    time or a busy interval ending before it starts.

    ``memo`` lets a caller keep each member's free time between queries (step 1, most
    of the work): the API keys it by everything it depends on, so a new question over
    the same members, periods and buffer (another duration or format) skips it."""
    members, groups = _distinct_members(query)
    horizon = normalise(query.query_periods)
    rules = rules_by_member or {}
    free = []
    for member in members:
        compute = partial(
            _free_time, member, horizon, busy_by_member.get(member.sub, ()), rules, query.buffer
        )
        free.append(compute() if memo is None else memo(member, compute))
    satisfied = _satisfied_test(groups)
    participants = _participants_of(members)

    duration = query.required_duration
    emit: Callable[[Interval, list[_Run], list[AvailableResult]], None]
    if query.response_format is ResponseFormat.PERIODS:
        emit = _periods_emitter(duration, participants)
    else:
        assert query.start_interval is not None  # checked by AvailabilityQuery
        emit = _slots_emitter(
            duration,
            query.start_interval,
            query.response_format is ResponseFormat.OVERLAPPING_SLOTS,
            participants,
        )

    # One sweep over the whole horizon. The set of free members is a function of time,
    # so a run clipped to a query period is still a maximal run inside that period.
    slotted = query.response_format is not ResponseFormat.PERIODS
    sets = [shrink_end(f, duration) for f in free] if slotted else free
    runs = [run for run in coverage(sets) if satisfied(run[2])]
    run_ends = [run[1] for run in runs]

    results: list[AvailableResult] = []
    limit = query.max_results
    for period in sorted(query.query_periods):
        if limit is not None and len(results) >= limit:
            # Every result of this and later periods starts at or after the period's start.
            results = _unique_in_order(results)
            if len(results) >= limit and period[0] > results[limit - 1].start:
                break
        # Slots must also end inside the period: their starts lie in its shrunk window.
        for window in shrink_end([period], duration) if slotted else [period]:
            emit(period, _clip_runs(runs, run_ends, window), results)
    results = _unique_in_order(results)
    return results if limit is None else results[:limit]


def _clip_runs(runs: list[_Run], run_ends: list[datetime], window: Interval) -> list[_Run]:
    """The parts of ``runs`` (sorted, disjoint) inside ``window``."""
    window_start, window_end = window
    clipped: list[_Run] = []
    for index in range(bisect_right(run_ends, window_start), len(runs)):
        start, end, mask = runs[index]
        if start >= window_end:
            break
        clipped.append((max(start, window_start), min(end, window_end), mask))
    return clipped


def _unique_in_order(results: list[AvailableResult]) -> list[AvailableResult]:
    """Sorted (by start, end, participants), each once: overlapping query periods may
    find the same result twice."""
    return list(dict.fromkeys(sorted(results)))


def _distinct_members(query: AvailabilityQuery) -> tuple[list[Member], list[tuple[int, int]]]:
    """The distinct members in order of first appearance, and each group as
    ``(mask of its members' indices, how many must be free)``."""
    index: dict[Member, int] = {}
    groups: list[tuple[int, int]] = []
    for group in query.participants:
        mask = 0
        for member in group.members:
            mask |= 1 << index.setdefault(member, len(index))
        groups.append((mask, group.needed))
    return list(index), groups


def _free_time(
    member: Member,
    horizon: list[Interval],
    busy: Sequence[Interval],
    rules_by_member: Mapping[str, Sequence[AvailabilityRule]],
    buffer: Buffer,
) -> list[Interval]:
    base = horizon
    if member.available_periods is not None:
        base = intersect(base, normalise(member.available_periods))
    if member.managed_availability:
        rules = select_rules(rules_by_member.get(member.sub, ()), member.availability_rule_ids)
        base = intersect(base, expand_rules(rules, horizon[0][0], horizon[-1][1]))
    if not base:
        return base
    # Cronofy's buffer belongs to the meeting being scheduled: it needs `before` free
    # before it and `after` free after it. So a busy [a, b) rules out meeting time in
    # [a - after, b + before); the edges of periods and rules get no buffer.
    try:
        blocked = widen(busy, buffer.after, buffer.before)
    except ValueError as exc:
        raise ValueError(f"busy time of {member.sub}: {exc}") from exc
    return subtract(base, blocked)


def _satisfied_test(groups: list[tuple[int, int]]) -> Callable[[int], bool]:
    """Whether a mask of free members satisfies every group (memoised per mask: a query
    sees few distinct masks)."""
    known: dict[int, bool] = {}

    def satisfied(mask: int) -> bool:
        answer = known.get(mask)
        if answer is None:
            answer = known[mask] = all((mask & bits).bit_count() >= need for bits, need in groups)
        return answer

    return satisfied


def _participants_of(members: list[Member]) -> Callable[[int], tuple[str, ...]]:
    """The subs of a mask of members, each once, in order of first appearance."""
    known: dict[int, tuple[str, ...]] = {}

    def participants(mask: int) -> tuple[str, ...]:
        subs = known.get(mask)
        if subs is None:
            chosen = (member.sub for index, member in enumerate(members) if mask >> index & 1)
            subs = known[mask] = tuple(dict.fromkeys(chosen))
        return subs

    return participants


def _periods_emitter(
    duration: timedelta, participants: Callable[[int], tuple[str, ...]]
) -> Callable[[Interval, list[_Run], list[AvailableResult]], None]:
    def emit(period: Interval, runs: list[_Run], out: list[AvailableResult]) -> None:
        for start, end, mask in runs:
            if end - start >= duration:
                out.append(AvailableResult(start, end, participants(mask)))

    return emit


def _slots_emitter(
    duration: timedelta,
    interval: timedelta,
    overlapping: bool,
    participants: Callable[[int], tuple[str, ...]],
) -> Callable[[Interval, list[_Run], list[AvailableResult]], None]:
    """Candidates are ``period start + k × interval``. ``runs`` are segments of possible
    starts, so every candidate inside one is a slot, with that run's members. Without
    overlap, the next slot is the first candidate at or after the previous slot's end:
    for a slot at a candidate ``t`` that is ``t + ceil(duration / interval) × interval``."""
    step = interval if overlapping else -(-duration // interval) * interval

    def emit(period: Interval, runs: list[_Run], out: list[AvailableResult]) -> None:
        origin = period[0]
        earliest = origin
        for start, end, mask in runs:
            # The first candidate at or after the run's start: origin + ceil(...) × interval.
            candidate = origin - ((origin - start) // interval) * interval
            if candidate < earliest:
                candidate = earliest
            if candidate >= end:
                continue
            subs = participants(mask)
            while candidate < end:
                out.append(AvailableResult(candidate, candidate + duration, subs))
                candidate += step
            earliest = candidate

    return emit
