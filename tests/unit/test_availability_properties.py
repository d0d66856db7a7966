"""Properties of `find_availability` on random small queries.

What "agree" and "never adds" mean is stated on each test, because the binding reading
of ``periods`` (a period ends where the set of free members changes) makes the naive
versions false: with ``required: N``, making an extra member busy can *join* two
periods into one long enough to report, and the greedy ``slots`` can move.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calsync.availability import (
    AvailableResult,
    Interval,
    ParticipantGroup,
    ResponseFormat,
    expand_rules,
    find_availability,
    normalise,
    select_rules,
    subtract,
)
from tests.unit.availability_scenarios import Scenario, minute_intervals, scenarios

PERIODS, SLOTS, OVERLAPPING = (
    ResponseFormat.PERIODS,
    ResponseFormat.SLOTS,
    ResponseFormat.OVERLAPPING_SLOTS,
)


def run(scenario: Scenario, **changes: object) -> list[AvailableResult]:
    if changes:
        scenario = scenario.with_query(**changes)
    return find_availability(scenario.query, scenario.busy, scenario.rules)


def time_set(results: list[AvailableResult]) -> list[Interval]:
    return normalise((r.start, r.end) for r in results)


def covers(outer: list[Interval], start: datetime, end: datetime) -> bool:
    return not subtract([(start, end)], outer)


@given(scenarios())
def test_no_result_overlaps_a_participants_busy_time_plus_buffers(scenario: Scenario) -> None:
    buffer = scenario.query.buffer
    for result in run(scenario, max_results=None):
        for sub in result.participants:
            for start, end in scenario.busy.get(sub, []):
                if end > start:  # an empty busy interval occupies no time
                    blocked = (start - buffer.after, end + buffer.before)
                    assert result.end <= blocked[0] or blocked[1] <= result.start


@given(scenarios())
def test_every_result_lies_in_one_query_period_and_in_its_participants_limits(
    scenario: Scenario,
) -> None:
    query = scenario.query
    members = scenario.members
    span = (min(s for s, _ in query.query_periods), max(e for _, e in query.query_periods))
    for result in run(scenario, max_results=None):
        assert any(s <= result.start and result.end <= e for s, e in query.query_periods)
        if query.response_format is PERIODS:
            assert result.end - result.start >= query.required_duration
        else:
            assert result.end - result.start == query.required_duration
        free = [m for m in members if m.sub in result.participants]
        for member in free:
            if member.available_periods is not None:
                assert covers(normalise(member.available_periods), result.start, result.end)
            if member.managed_availability:
                rules = select_rules(
                    scenario.rules.get(member.sub, []), member.availability_rule_ids
                )
                assert covers(expand_rules(rules, *span), result.start, result.end)
        for group in query.participants:
            present = {m for m in group.members if m in free}
            assert len(present) >= group.needed


@given(scenarios(), st.data())
def test_adding_busy_time_never_adds_availability(scenario: Scenario, data: st.DataObject) -> None:
    """Precisely: overlapping slots only disappear (and lose participants); every slot and
    every period afterwards lies in time that was satisfied before, with no participant
    who was not free there before; with ``required: all`` everywhere, the periods'
    time only shrinks."""
    sub = data.draw(st.sampled_from([m.sub for m in scenario.members]))
    extra = data.draw(minute_intervals(-60, 420, max_size=2, min_length=0, max_length=90))
    busier = replace(scenario, busy={**scenario.busy, sub: [*scenario.busy.get(sub, []), *extra]})

    before = {
        (r.start, r.end): set(r.participants)
        for r in run(scenario, response_format=OVERLAPPING, max_results=None)
    }
    for slot in run(busier, response_format=OVERLAPPING, max_results=None):
        assert (slot.start, slot.end) in before
        assert set(slot.participants) <= before[(slot.start, slot.end)]
    for slot in run(busier, response_format=SLOTS, max_results=None):
        assert (slot.start, slot.end) in before

    satisfied_before = run(
        scenario, response_format=PERIODS, required_duration=timedelta(minutes=1), max_results=None
    )
    for period in run(busier, response_format=PERIODS, max_results=None):
        around = [r for r in satisfied_before if r.start < period.end and period.start < r.end]
        assert covers(time_set(around), period.start, period.end)
        assert all(set(period.participants) <= set(r.participants) for r in around)

    strict = tuple(replace(g, required="all") for g in scenario.query.participants)
    all_before = time_set(
        run(scenario, response_format=PERIODS, participants=strict, max_results=None)
    )
    all_after = time_set(
        run(busier, response_format=PERIODS, participants=strict, max_results=None)
    )
    assert subtract(all_after, all_before) == []


@given(scenarios())
def test_required_all_results_lie_within_required_n_results(scenario: Scenario) -> None:
    """As time sets for periods, as sets of slots for overlapping slots. Not for
    ``slots``: the greedy choice differs (with N, an earlier slot may be taken whose end
    makes the next candidate miss the slot that ``all`` finds), so there every slot of
    ``all`` is an overlapping slot of N."""
    strict = tuple(replace(g, required="all") for g in scenario.query.participants)
    for response_format in (PERIODS, OVERLAPPING):
        some = run(scenario, response_format=response_format, max_results=None)
        every = run(
            scenario, response_format=response_format, participants=strict, max_results=None
        )
        assert subtract(time_set(every), time_set(some)) == []
        if response_format is OVERLAPPING:
            assert {(r.start, r.end) for r in every} <= {(r.start, r.end) for r in some}
    overlapping = {
        (r.start, r.end) for r in run(scenario, response_format=OVERLAPPING, max_results=None)
    }
    for slot in run(scenario, response_format=SLOTS, participants=strict, max_results=None):
        assert (slot.start, slot.end) in overlapping


@given(scenarios())
def test_periods_and_slots_agree(scenario: Scenario) -> None:
    """Per query period P, with duration d and candidates c = P.start + k × interval:

    1. ``slots`` is the greedy thinning of ``overlapping_slots`` (take a slot, skip the
       candidates before its end);
    2. inside every period [s, e) with participants S, every candidate c with
       s <= c and c + d <= e is an overlapping slot, with participants exactly S;
    3. every overlapping slot is covered by the periods found with a duration of one
       minute (every satisfied run, however short), and its participants are exactly
       the members in every one of those runs that it overlaps.
    """
    query = scenario.query
    assert query.start_interval is not None
    duration, step = query.required_duration, query.start_interval
    for period in query.query_periods:
        alone = scenario.with_query(query_periods=(period,), max_results=None)
        overlapping = run(alone, response_format=OVERLAPPING)
        greedy: list[AvailableResult] = []
        for slot in overlapping:
            if not greedy or slot.start >= greedy[-1].end:
                greedy.append(slot)
        assert run(alone, response_format=SLOTS) == greedy

        by_start = {slot.start: slot for slot in overlapping}
        for found in run(alone, response_format=PERIODS):
            candidate = period[0] + -((period[0] - found.start) // step) * step
            while candidate + duration <= found.end:
                assert by_start[candidate].participants == found.participants
                candidate += step

        runs = run(alone, response_format=PERIODS, required_duration=timedelta(minutes=1))
        for slot in overlapping:
            around = [r for r in runs if r.start < slot.end and slot.start < r.end]
            assert covers(time_set(around), slot.start, slot.end)
            assert set(slot.participants) == set.intersection(
                *(set(r.participants) for r in around)
            )


@given(scenarios(), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_of_anything(
    scenario: Scenario, rng: random.Random
) -> None:
    """Groups, members, busy intervals (also repeated), rules, available periods and
    query periods in another order give the same results; only the order of the subs
    within ``participants`` follows the query."""

    def shuffled(items: list | tuple) -> list:  # type: ignore[type-arg]
        copy = list(items)
        rng.shuffle(copy)
        return copy

    groups = []
    for group in shuffled(scenario.query.participants):
        members = [
            m
            if m.available_periods is None
            else replace(m, available_periods=tuple(shuffled(m.available_periods)))
            for m in group.members
        ]
        groups.append(ParticipantGroup(tuple(shuffled(members)), group.required))
    other = Scenario(
        replace(
            scenario.query,
            participants=tuple(groups),
            query_periods=tuple(shuffled(scenario.query.query_periods)),
        ),
        {sub: shuffled(busy + busy[:1]) for sub, busy in shuffled(list(scenario.busy.items()))},
        {sub: shuffled(rules) for sub, rules in scenario.rules.items()},
    )

    def key(results: list[AvailableResult]) -> list[tuple[datetime, datetime, frozenset[str]]]:
        return [(r.start, r.end, frozenset(r.participants)) for r in results]

    assert key(run(other)) == key(run(scenario))
