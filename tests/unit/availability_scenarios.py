"""Random small availability queries, and a brute-force reference that answers them.

Everything lies on a minute grid a few hours long from `T0` (whole-minute busy times,
buffers, durations, start intervals, rules in fixed-offset zones), so a member is
either free or not for each whole minute ``[x, x + 1)``, and the reference can follow
the definitions in `calsync.availability` literally, minute by minute, without any of
the core's interval algebra.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from calsync.availability import (
    DAYS,
    AvailabilityQuery,
    AvailabilityRule,
    AvailableResult,
    Buffer,
    Interval,
    Member,
    ParticipantGroup,
    Required,
    ResponseFormat,
    WeeklyPeriod,
)

T0 = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday
HOURS = 6
SPAN = HOURS * 60
#: Fixed-offset zones (no daylight saving, so a minute's wall time is plain arithmetic),
#: with their offsets from UTC in minutes. ``Etc/GMT+5`` is UTC-5 (POSIX sign).
ZONES = {"UTC": 0, "Etc/GMT-2": 120, "Etc/GMT+5": -300}

Result = tuple[datetime, datetime, tuple[str, ...]]


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def minute_of(moment: datetime) -> int:
    whole, rest = divmod(moment - T0, timedelta(minutes=1))
    assert not rest, moment
    return whole


@dataclass(frozen=True)
class Scenario:
    query: AvailabilityQuery
    busy: dict[str, list[Interval]]
    rules: dict[str, list[AvailabilityRule]]

    @property
    def members(self) -> list[Member]:
        """Distinct members in order of first appearance."""
        return list(dict.fromkeys(m for g in self.query.participants for m in g.members))

    def with_query(self, **changes: object) -> Scenario:
        return replace(self, query=replace(self.query, **changes))  # type: ignore[arg-type]


def as_tuples(results: list[AvailableResult]) -> list[Result]:
    return [(r.start, r.end, r.participants) for r in results]


# -- strategies ------------------------------------------------------------------------


def minute_intervals(
    low: int, high: int, *, max_size: int, min_length: int = 1, max_length: int = 120
) -> st.SearchStrategy[list[Interval]]:
    one = st.tuples(st.integers(low, high), st.integers(min_length, max_length)).map(
        lambda p: (at(p[0]), at(p[0] + p[1]))
    )
    return st.lists(one, max_size=max_size)


@st.composite
def weekly_periods(draw: st.DrawFn) -> WeeklyPeriod:
    """Mostly periods that meet the scenario's hours in some zone: Monday morning, or
    Sunday evening (which is Monday in UTC for Etc/GMT+5)."""
    day = draw(st.sampled_from(["monday", "monday", "sunday", "tuesday"]))
    earliest = 1000 if day == "sunday" else 0
    start = draw(st.integers(earliest, 1439 if day == "tuesday" else earliest + 420))
    end = draw(st.integers(start + 1, min(1440, start + 600)))
    return WeeklyPeriod(day, timedelta(minutes=start), timedelta(minutes=end))


rules_strategy = st.builds(
    AvailabilityRule,
    tzid=st.sampled_from(sorted(ZONES)),
    weekly_periods=st.lists(weekly_periods(), min_size=1, max_size=3).map(tuple),
    rule_id=st.sampled_from(["a", "b", "c"]),
)


def _period() -> st.SearchStrategy[Interval]:
    """A query period inside ``[T0, T0 + SPAN)``; often on a quarter-hour grid, so
    that periods share starts and slot grids (and results repeat across periods)."""
    quarter = st.integers(0, SPAN // 15 - 1).map(lambda q: 15 * q)
    return st.tuples(st.integers(0, SPAN - 1) | quarter, st.integers(1, SPAN // 2) | quarter).map(
        lambda p: (at(p[0]), at(min(SPAN, p[0] + max(1, p[1]))))
    )


# Built once: hypothesis validates a strategy when it is first drawn from, and building
# these inside `scenarios` for every example cost more than the tests themselves.
_MEMBER_COUNTS = {n: st.integers(1, n) | st.integers(min(2, n), n) for n in range(1, 9)}
_MANAGED = st.sampled_from([False, False, False, True])
_AVAILABLE_PERIODS = (
    st.none()
    | st.none()
    | minute_intervals(-30, SPAN, max_size=3, min_length=60, max_length=300).map(tuple)
)
_RULE_IDS = st.none() | st.lists(st.sampled_from(["a", "b", "c"]), max_size=2).map(tuple)
_GROUP_COUNT = st.sampled_from([1, 1, 2, 3])
_EVERY: st.SearchStrategy[Required] = st.just("all")
_REQUIRED = {n: _EVERY | st.integers(1, n) | st.integers(1, n) for n in range(1, 9)}
_DURATION = st.integers(1, 90)
_PERIODS = st.lists(_period(), min_size=1, max_size=3)
_BUFFER = st.integers(0, 30)
_START_INTERVAL = st.integers(1, 60) | st.sampled_from([15, 30])
_MAX_RESULTS = st.none() | st.integers(1, 6)
_HAS_BUSY = st.integers(0, 9)
_BUSY = minute_intervals(-90, SPAN + 30, max_size=4, min_length=0, max_length=60)
_RULES = st.lists(rules_strategy, max_size=2)


@st.composite
def scenarios(
    draw: st.DrawFn,
    formats: tuple[ResponseFormat, ...] = tuple(ResponseFormat),
    max_members: int = 4,
) -> Scenario:
    count = draw(_MEMBER_COUNTS[max_members])
    members = []
    for index in range(count):
        managed = draw(_MANAGED)
        members.append(
            Member(
                f"m{index}",
                available_periods=draw(_AVAILABLE_PERIODS),
                managed_availability=managed,
                availability_rule_ids=draw(_RULE_IDS) if managed else None,
            )
        )
    groups = []
    for _ in range(draw(_GROUP_COUNT)):
        chosen = draw(st.lists(st.sampled_from(members), min_size=1, max_size=count))
        groups.append(ParticipantGroup(tuple(chosen), draw(_REQUIRED[len(set(chosen))])))
    query = AvailabilityQuery(
        participants=tuple(groups),
        required_duration=timedelta(minutes=draw(_DURATION)),
        query_periods=tuple(draw(_PERIODS)),
        buffer=Buffer(
            before=timedelta(minutes=draw(_BUFFER)), after=timedelta(minutes=draw(_BUFFER))
        ),
        response_format=draw(st.sampled_from(formats)),
        start_interval=timedelta(minutes=draw(_START_INTERVAL)),
        max_results=draw(_MAX_RESULTS),
    )
    busy = {m.sub: draw(_BUSY) for m in members if draw(_HAS_BUSY) > 0}  # sometimes no entry
    rules = {m.sub: draw(_RULES) for m in members if m.managed_availability}
    return Scenario(query, busy, rules)


# -- the reference -------------------------------------------------------------------


def reference(scenario: Scenario) -> list[Result]:
    """The query's answer computed from the definitions, one minute at a time."""
    query = scenario.query
    members = scenario.members
    periods = [(minute_of(s), minute_of(e)) for s, e in query.query_periods]
    low, high = min(s for s, _ in periods), max(e for _, e in periods)
    free = [_free_minutes(scenario, member, periods, low, high) for member in members]
    groups = [
        ({members.index(m) for m in group.members}, _needed(group)) for group in query.participants
    ]

    def satisfied(free_set: frozenset[int]) -> bool:
        return all(len(free_set & group) >= needed for group, needed in groups)

    def subs(free_set: frozenset[int]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(members[i].sub for i in sorted(free_set)))

    duration = minute_of(T0 + query.required_duration)
    found: list[tuple[int, int, tuple[str, ...]]] = []
    for start, end in periods:
        if query.response_format is ResponseFormat.PERIODS:
            run_start, run_set = start, None
            for x in range(start, end + 1):
                now = None
                if x < end:
                    here = frozenset(i for i in range(len(members)) if x in free[i])
                    now = here if satisfied(here) else None
                if x == end or now != run_set:
                    if run_set is not None and x - run_start >= duration:
                        found.append((run_start, x, subs(run_set)))
                    run_start, run_set = x, now
        else:
            assert query.start_interval is not None
            step = minute_of(T0 + query.start_interval)
            overlapping = query.response_format is ResponseFormat.OVERLAPPING_SLOTS
            candidate, allowed = start, start
            while candidate + duration <= end:
                over = frozenset(
                    i
                    for i in range(len(members))
                    if all(y in free[i] for y in range(candidate, candidate + duration))
                )
                if satisfied(over) and (overlapping or candidate >= allowed):
                    found.append((candidate, candidate + duration, subs(over)))
                    allowed = candidate + duration
                candidate += step
    results = sorted(dict.fromkeys((at(s), at(e), p) for s, e, p in found))
    return results if query.max_results is None else results[: query.max_results]


def _needed(group: ParticipantGroup) -> int:
    return len(set(group.members)) if group.required == "all" else int(group.required)


def _free_minutes(
    scenario: Scenario, member: Member, periods: list[tuple[int, int]], low: int, high: int
) -> set[int]:
    query = scenario.query
    before = minute_of(T0 + query.buffer.before)
    after = minute_of(T0 + query.buffer.after)
    busy = [(minute_of(s), minute_of(e)) for s, e in scenario.busy.get(member.sub, [])]
    available = (
        None
        if member.available_periods is None
        else [(minute_of(s), minute_of(e)) for s, e in member.available_periods]
    )
    rules = [
        rule
        for rule in scenario.rules.get(member.sub, [])
        if member.availability_rule_ids is None or rule.rule_id in member.availability_rule_ids
    ]
    free = set()
    for x in range(low, high):
        if not any(s <= x < e for s, e in periods):
            continue
        if available is not None and not any(s <= x < e for s, e in available):
            continue
        if member.managed_availability and not any(_rule_covers(r, x) for r in rules):
            continue
        # A busy [a, b) keeps a meeting out of [a - after, b + before); empty ones block nothing.
        if any(a - after <= x < b + before for a, b in busy if b > a):
            continue
        free.add(x)
    return free


def _rule_covers(rule: AvailabilityRule, minute: int) -> bool:
    local = T0 + timedelta(minutes=minute + ZONES[rule.tzid])
    of_day = timedelta(hours=local.hour, minutes=local.minute)
    return any(
        DAYS.index(p.day) == local.weekday() and p.start <= of_day < p.end
        for p in rule.weekly_periods
    )
