"""availability/intervals.py: the interval algebra, against sets of minutes and its laws.

Intervals on a whole-minute grid stand for the set of minutes they cover, so each
operation can be checked against the same operation on Python sets, exactly; and the
usual laws (idempotence, commutativity, associativity, subtraction identities) must
hold on the normal form itself, not only on the covered time.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.availability import (
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

T0 = datetime(2026, 12, 7, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def minutes(intervals: list[Interval]) -> set[int]:
    """The whole minutes covered (every boundary in these tests is a whole minute)."""
    out: set[int] = set()
    for start, end in intervals:
        out.update(range((start - T0) // timedelta(minutes=1), (end - T0) // timedelta(minutes=1)))
    return out


def is_normal(intervals: list[Interval]) -> bool:
    return all(start < end for start, end in intervals) and all(
        left[1] < right[0] for left, right in itertools.pairwise(intervals)
    )


raw = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 40)).map(lambda p: (at(p[0]), at(p[0] + p[1]))),
    max_size=8,
)
sets = raw.map(normalise)
durations = st.integers(1, 60).map(lambda m: timedelta(minutes=m))
margins = st.integers(0, 30).map(lambda m: timedelta(minutes=m))


# -- against sets of minutes ------------------------------------------------------------


@given(raw)
def test_normalise_is_the_normal_form_of_the_union(intervals: list[Interval]) -> None:
    result = normalise(intervals)
    assert is_normal(result)
    assert minutes(result) == minutes(intervals)
    assert normalise(list(reversed(intervals))) == result  # order does not matter


@given(sets, sets)
def test_union_intersect_subtract_are_the_set_operations(
    a: list[Interval], b: list[Interval]
) -> None:
    for result, expected in (
        (union(a, b), minutes(a) | minutes(b)),
        (intersect(a, b), minutes(a) & minutes(b)),
        (subtract(a, b), minutes(a) - minutes(b)),
    ):
        assert is_normal(result)
        assert minutes(result) == expected


@given(sets, st.integers(0, 240), st.integers(1, 120))
def test_clip_is_intersection_with_one_period(a: list[Interval], start: int, length: int) -> None:
    period = (at(start), at(start + length))
    assert clip(a, period) == intersect(a, [period])


@given(raw, margins, margins)
def test_widen_covers_each_nonempty_interval_plus_its_margins(
    intervals: list[Interval], earlier: timedelta, later: timedelta
) -> None:
    result = widen(intervals, earlier, later)
    assert is_normal(result)
    expected = minutes([(s - earlier, e + later) for s, e in intervals if e > s])
    assert minutes(result) == expected
    # Sorted input takes the one-pass merge; normalised input too (the busy cache's).
    assert widen(sorted(intervals), earlier, later) == result
    assert widen(normalise(intervals), earlier, later) == result


@given(sets, durations)
def test_shrink_end_holds_exactly_the_starts_of_runs_that_fit(
    a: list[Interval], length: timedelta
) -> None:
    starts = shrink_end(a, length)
    assert is_normal(starts)
    free = minutes(a)
    span = length // timedelta(minutes=1)
    for minute in range(-1, 260):
        fits = all(m in free for m in range(minute, minute + span))
        inside = any(s <= at(minute) < e for s, e in starts)
        assert inside == fits, minute
    # The last possible start is kept exactly: [t, t + length) ending at the run's end.
    for (_start, end), (_, last) in zip(
        [i for i in a if i[1] - i[0] >= length], starts, strict=True
    ):
        assert last - timedelta(microseconds=1) == end - length


@given(st.lists(sets, min_size=1, max_size=4))
def test_coverage_segments_are_maximal_and_exact(group: list[list[Interval]]) -> None:
    segments = list(coverage(group))
    covered = [minutes(s) for s in group]
    for start, end, mask in segments:
        assert start < end and mask
        for minute in minutes([(start, end)]):
            assert mask == sum(1 << i for i, c in enumerate(covered) if minute in c)
    for left, right in itertools.pairwise(segments):
        assert left[1] <= right[0]
        if left[1] == right[0]:
            assert left[2] != right[2]  # maximal: a touching neighbour differs
    assert minutes([(s, e) for s, e, _ in segments]) == set().union(*covered)


@given(st.lists(sets, min_size=1, max_size=4), st.integers(1, 4))
def test_at_least_k_of_n(group: list[list[Interval]], k: int) -> None:
    result = at_least(k, group)
    assert is_normal(result)
    covered = [minutes(s) for s in group]
    everything = set().union(*covered)
    assert minutes(result) == {m for m in everything if sum(m in c for c in covered) >= k}


# -- laws ------------------------------------------------------------------------------


@given(sets, sets, sets)
def test_union_and_intersect_laws(a: list[Interval], b: list[Interval], c: list[Interval]) -> None:
    assert union(a, a) == a and intersect(a, a) == a and normalise(a) == a  # idempotent
    assert union(a, b) == union(b, a) and intersect(a, b) == intersect(b, a)  # commutative
    assert union(union(a, b), c) == union(a, union(b, c))  # associative
    assert intersect(intersect(a, b), c) == intersect(a, intersect(b, c))
    assert intersect(a, union(b, c)) == union(intersect(a, b), intersect(a, c))  # distributive
    assert union(a, []) == a and intersect(a, []) == []


@given(sets, sets, sets)
def test_subtraction_identities(a: list[Interval], b: list[Interval], c: list[Interval]) -> None:
    assert subtract(a, []) == a and subtract(a, a) == [] and subtract([], a) == []
    assert intersect(subtract(a, b), b) == []
    assert union(subtract(a, b), intersect(a, b)) == a
    assert subtract(a, union(b, c)) == subtract(subtract(a, b), c)
    assert subtract(subtract(a, b), b) == subtract(a, b)
    assert total(a) == total(subtract(a, b)) + total(intersect(a, b))


@given(sets, margins, margins, margins, margins)
def test_widen_composes_and_distributes(
    a: list[Interval], e1: timedelta, l1: timedelta, e2: timedelta, l2: timedelta
) -> None:
    assert widen(widen(a, e1, l1), e2, l2) == widen(a, e1 + e2, l1 + l2)
    assert widen(a, timedelta(0), timedelta(0)) == a
    half = len(a) // 2
    assert widen(a, e1, l1) == union(widen(a[:half], e1, l1), widen(a[half:], e1, l1))


# -- edges and input checks ------------------------------------------------------------


def test_touching_intervals_merge_and_empty_ones_vanish() -> None:
    assert normalise([(at(10), at(20)), (at(0), at(10)), (at(30), at(30))]) == [(at(0), at(20))]
    assert subtract([(at(0), at(20))], [(at(0), at(10))]) == [(at(10), at(20))]
    assert intersect([(at(0), at(10))], [(at(10), at(20))]) == []


def test_aware_times_in_other_zones_become_utc() -> None:
    paris = ZoneInfo("Europe/Paris")
    result = normalise(
        [(datetime(2026, 12, 7, 10, tzinfo=paris), datetime(2026, 12, 7, 11, tzinfo=paris))]
    )
    assert result == [(datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 10, tzinfo=UTC))]
    assert result[0][0].tzinfo is UTC


@pytest.mark.parametrize(
    "bad",
    [
        [(datetime(2026, 12, 7, 10), datetime(2026, 12, 7, 11))],  # naive
        [(at(0), at(10)), (at(20), datetime(2026, 12, 7, 11))],  # one naive end
        [(at(50), at(60)), (datetime(2026, 12, 7, 1), at(20))],  # naive, out of order
        [(at(10), at(5))],  # ends before it starts
    ],
)
def test_impossible_intervals_are_refused(bad: list[Interval]) -> None:
    with pytest.raises(ValueError):
        normalise(bad)


def test_negative_margins_and_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        widen([(at(0), at(10))], timedelta(minutes=-1), timedelta(0))
    with pytest.raises(ValueError):
        shrink_end([(at(0), at(10))], timedelta(0))
    with pytest.raises(ValueError):
        at_least(0, [[(at(0), at(10))]])
