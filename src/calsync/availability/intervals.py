"""Time sets as sorted lists of half-open intervals ``[start, end)``, and their algebra.

An `Interval` is a plain ``(start, end)`` tuple of aware UTC datetimes. It is a tuple
and not a class because one availability query builds tens of thousands of them, and
a tuple costs a fifth of a NamedTuple to build.

A list is *normalised* when it is sorted, holds no empty interval, and no two of its
intervals overlap or touch. That is the canonical form of a time set: two normalised
lists are equal exactly when they cover the same instants. `normalise` builds it
(O(n log n), and one linear pass on input already sorted by start); every other function here
takes normalised lists, returns a normalised list, and walks its inputs once in merge
order, so it is linear in their total length (`clip` is logarithmic plus its output).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter

#: ``(start, end)``: the instants ``t`` with ``start <= t < end``.
Interval = tuple[datetime, datetime]

_end_of = itemgetter(1)


def as_utc(moment: datetime, what: str = "time") -> datetime:
    """``moment`` in UTC; ValueError if it is naive (it names no instant)."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def normalise(intervals: Iterable[Interval]) -> list[Interval]:
    """The canonical form of the union of ``intervals``: sorted, no empty, overlapping or
    touching intervals (``[9, 10)`` and ``[10, 11)`` become ``[9, 11)``: half-open
    intervals that touch leave no gap).

    This is where outside intervals enter the algebra, so it also checks them: aware
    datetimes (converted to UTC), no end before its start (ValueError); an interval
    with ``start == end`` is empty and dropped. One pass when ``intervals`` come sorted
    by start (as from an indexed query), else a sort first."""
    given = intervals if isinstance(intervals, list | tuple) else list(intervals)
    merged = _merge_sorted(given)
    if merged is None:
        in_utc = sorted((as_utc(start), as_utc(end)) for start, end in given)
        merged = _merge_sorted(in_utc)
        assert merged is not None
    return merged


def _merge_sorted(
    intervals: Sequence[Interval], earlier: timedelta | None = None, later: timedelta | None = None
) -> list[Interval] | None:
    """`normalise` of intervals sorted by start, each non-empty one widened to
    ``[start - earlier, end + later)`` when margins are given; None if one starts before
    the block being merged (later ones may start before an earlier one inside that
    block: the union is the same).

    The checks share the merge's loop: for busy times this loop is the only one that
    sees every interval of a query, and a second pass would cost as much again."""
    out: list[Interval] = []
    append = out.append
    block_start: datetime | None = None
    block_end: datetime | None = None
    for start, end in intervals:
        if start.tzinfo is not UTC or end.tzinfo is not UTC:
            start, end = as_utc(start), as_utc(end)
        if end <= start:
            if end < start:
                raise ValueError(
                    f"interval ends at {end.isoformat()}, before its start {start.isoformat()}"
                )
            continue
        if earlier is not None and later is not None:
            start, end = start - earlier, end + later
        if block_start is None or block_end is None:
            block_start, block_end = start, end
        elif start < block_start:
            return None
        elif start <= block_end:
            if end > block_end:
                block_end = end
        else:
            append((block_start, block_end))
            block_start, block_end = start, end
    if block_start is not None and block_end is not None:
        append((block_start, block_end))
    return out


def union(*sets: Sequence[Interval]) -> list[Interval]:
    """The instants in any of ``sets``."""
    return normalise(interval for intervals in sets for interval in intervals)


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The instants in both ``a`` and ``b``."""
    out: list[Interval] = []
    i = j = 0
    len_a, len_b = len(a), len(b)
    while i < len_a and j < len_b:
        a_start, a_end = a[i]
        b_start, b_end = b[j]
        start = a_start if a_start > b_start else b_start
        end = a_end if a_end < b_end else b_end
        if start < end:
            out.append((start, end))
        if a_end < b_end:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The instants in ``a`` and not in ``b``."""
    out: list[Interval] = []
    j = 0
    len_b = len(b)
    for start, end in a:
        # Intervals of b that end before this one starts end before every later one too.
        while j < len_b and b[j][1] <= start:
            j += 1
        cursor = start
        k = j
        while k < len_b:
            b_start, b_end = b[k]
            if b_start >= end:
                break
            if b_start > cursor:
                out.append((cursor, b_start))
            if b_end > cursor:
                cursor = b_end
            if b_end >= end:
                break  # b[k] may reach into the next interval of a: keep j before it
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def clip(intervals: Sequence[Interval], period: Interval) -> list[Interval]:
    """The part of ``intervals`` inside ``period``; O(log n) plus the output."""
    period_start, period_end = period
    out: list[Interval] = []
    for index in range(bisect_right(intervals, period_start, key=_end_of), len(intervals)):
        start, end = intervals[index]
        if start >= period_end:
            break
        out.append((start if start > period_start else period_start, min(end, period_end)))
    return out


def widen(intervals: Iterable[Interval], earlier: timedelta, later: timedelta) -> list[Interval]:
    """The union of ``intervals`` with each non-empty ``[start, end)`` widened to
    ``[start - earlier, end + later)`` (margins not negative). Widening distributes
    over union, so the intervals are merged first and fewer of them are shifted."""
    if earlier < timedelta(0) or later < timedelta(0):
        raise ValueError("margins must not be negative")
    given = intervals if isinstance(intervals, list | tuple) else list(intervals)
    if not earlier and not later:
        return normalise(given)
    # Busy time usually comes normalised (sorted by start): then one pass widens and
    # merges at once, the checks included (`_merge_sorted`), instead of merging, shifting
    # and merging again. Shifting every interval alike keeps them sorted by start.
    widened = _merge_sorted(given, earlier, later)
    if widened is not None:
        return widened
    shifted = _merge_sorted([(start - earlier, end + later) for start, end in normalise(given)])
    assert shifted is not None
    return shifted


def shrink_end(intervals: Sequence[Interval], length: timedelta) -> list[Interval]:
    """The instants ``t`` with ``[t, t + length)`` inside one interval of ``intervals``.

    ``[start, end)`` allows the starts ``start <= t <= end - length``: a closed range,
    written as the half-open ``[start, end - length + 1 µs)``, which is exact because a
    datetime resolves microseconds. ``length`` is positive."""
    if length <= timedelta(0):
        raise ValueError("length must be positive")
    tail = length - _MICROSECOND
    return [(start, end - tail) for start, end in intervals if end - start >= length]


_MICROSECOND = timedelta(microseconds=1)


def coverage(sets: Sequence[Sequence[Interval]]) -> Iterator[tuple[datetime, datetime, int]]:
    """Sweep normalised ``sets`` at once: the maximal ``(start, end, mask)`` segments over
    which the sets covering the time do not change, in time order, where bit ``i`` of
    ``mask`` is set when ``sets[i]`` covers the segment. Uncovered time (mask 0) is
    skipped. Two consecutive segments that touch have different masks, because every
    boundary of a normalised set is a change of that set.

    O(B log k) for B boundaries in k sets (timsort merges the k sorted runs)."""
    points: list[tuple[datetime, int]] = []
    append = points.append
    for index, intervals in enumerate(sets):
        bit = 1 << index
        for start, end in intervals:
            append((start, bit))
            append((end, bit))
    points.sort(key=_time_of)
    mask = 0
    previous: datetime | None = None
    for time, bit in points:
        if time != previous:
            if mask and previous is not None:
                yield previous, time, mask
            previous = time
        mask ^= bit


_time_of = itemgetter(0)


def at_least(k: int, sets: Sequence[Sequence[Interval]]) -> list[Interval]:
    """The instants covered by at least ``k`` of the normalised ``sets`` (k-of-n)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    return normalise((start, end) for start, end, mask in coverage(sets) if mask.bit_count() >= k)


def total(intervals: Iterable[Interval]) -> timedelta:
    """The summed length of ``intervals`` (of a normalised list: the measure of the set)."""
    return sum((end - start for start, end in intervals), timedelta(0))
