"""The fake Graph server's recurrence: validation, normal form and expansion.

Expansion is checked twice: against dates worked out by hand from the documented
semantics, and (hypothesis) against a brute-force day-by-day filter written from the
pattern definitions, which shares no code with the rrule-based generator.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes._graph_recurrence import DAYS, INDEXES, occurrence_dates, validate
from tests.fakes._graph_wire import GraphError


def series(pattern: dict[str, Any], rng: dict[str, Any]) -> dict[str, Any]:
    return validate({"pattern": pattern, "range": rng}, date.fromisoformat(rng["startDate"]))


def dates(pattern: dict[str, Any], rng: dict[str, Any], until: date | None = None) -> list[str]:
    return [d.isoformat() for d in occurrence_dates(series(pattern, rng), until=until)]


def numbered(start: str, count: int) -> dict[str, Any]:
    return {"type": "numbered", "startDate": start, "numberOfOccurrences": count}


# -- the six pattern types, hand-worked -------------------------------------------------------


def test_daily_every_other_day_across_a_month_end() -> None:
    assert dates({"type": "daily", "interval": 2}, numbered("2025-01-30", 4)) == [
        "2025-01-30",
        "2025-02-01",
        "2025-02-03",
        "2025-02-05",
    ]


def test_weekly_counts_weeks_from_first_day_of_week() -> None:
    pattern = {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"]}
    rng = {"type": "endDate", "startDate": "2025-01-01", "endDate": "2025-02-06"}
    # Weeks from Sunday: 29 Dec-4 Jan (Thu 2 Jan), then 12-18 Jan, then 26 Jan-1 Feb.
    assert dates({**pattern, "firstDayOfWeek": "sunday"}, rng) == [
        "2025-01-02",
        "2025-01-13",
        "2025-01-16",
        "2025-01-27",
        "2025-01-30",
    ]
    # Weeks from Thursday: 26 Dec-1 Jan (nothing after the start), 9-15 Jan, 23-29 Jan, 6 Feb.
    assert dates({**pattern, "firstDayOfWeek": "thursday"}, rng) == [
        "2025-01-09",
        "2025-01-13",
        "2025-01-23",
        "2025-01-27",
        "2025-02-06",
    ]


def test_absolute_monthly_on_the_31st_falls_on_shorter_months_last_day() -> None:
    pattern = {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}
    assert dates(pattern, numbered("2025-01-31", 5)) == [
        "2025-01-31",
        "2025-02-28",
        "2025-03-31",
        "2025-04-30",
        "2025-05-31",
    ]


def test_absolute_monthly_interval_is_anchored_on_the_start_month() -> None:
    pattern = {"type": "absoluteMonthly", "interval": 3, "dayOfMonth": 15}
    assert dates(pattern, numbered("2025-01-20", 3)) == ["2025-04-15", "2025-07-15", "2025-10-15"]


def test_relative_monthly_last_friday_and_second_of_two_weekdays() -> None:
    last_friday = {
        "type": "relativeMonthly",
        "interval": 1,
        "daysOfWeek": ["friday"],
        "index": "last",
    }
    rng = {"type": "endDate", "startDate": "2025-01-01", "endDate": "2025-04-30"}
    assert dates(last_friday, rng) == ["2025-01-31", "2025-02-28", "2025-03-28", "2025-04-25"]
    second = {
        "type": "relativeMonthly",
        "interval": 1,
        "daysOfWeek": ["thursday", "friday"],
        "index": "second",
    }
    # "the event falls on the first day that satisfies the pattern": the 2nd Thu-or-Fri.
    assert dates(second, numbered("2025-01-01", 3)) == ["2025-01-03", "2025-02-07", "2025-03-07"]


def test_relative_monthly_index_defaults_to_first() -> None:
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"]
    pattern = {"type": "relativeMonthly", "interval": 1, "daysOfWeek": weekdays}
    assert dates(pattern, numbered("2025-03-01", 3)) == ["2025-03-03", "2025-04-01", "2025-05-01"]


def test_absolute_yearly_on_leap_day_falls_on_28_february() -> None:
    pattern = {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 29, "month": 2}
    assert dates(pattern, numbered("2024-02-29", 4)) == [
        "2024-02-29",
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
    ]


def test_relative_yearly_fourth_thursday_of_november_without_end() -> None:
    pattern = {
        "type": "relativeYearly",
        "interval": 1,
        "daysOfWeek": ["thursday"],
        "index": "fourth",
        "month": 11,
    }
    rng = {"type": "noEnd", "startDate": "2025-01-01"}
    assert dates(pattern, rng, until=date(2027, 12, 31)) == [
        "2025-11-27",
        "2026-11-26",
        "2027-11-25",
    ]


# -- the three range types -------------------------------------------------------------------


def test_end_date_is_inclusive_and_numbered_counts_occurrences() -> None:
    daily = {"type": "daily", "interval": 1}
    assert dates(
        daily, {"type": "endDate", "startDate": "2025-01-01", "endDate": "2025-01-03"}
    ) == [
        "2025-01-01",
        "2025-01-02",
        "2025-01-03",
    ]
    assert len(dates(daily, numbered("2025-01-01", 7))) == 7


def test_no_end_runs_until_the_bound_it_is_asked_for() -> None:
    weekly = {"type": "weekly", "interval": 1, "daysOfWeek": ["sunday"], "firstDayOfWeek": "sunday"}
    found = dates(weekly, {"type": "noEnd", "startDate": "2025-01-05"}, until=date(2026, 1, 4))
    assert found[0] == "2025-01-05" and found[-1] == "2026-01-04" and len(found) == 53


def test_normal_form_fills_what_graph_echoes() -> None:
    normal = series({"type": "daily", "interval": 1}, {"type": "noEnd", "startDate": "2025-01-01"})
    assert normal == {
        "pattern": {
            "type": "daily",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": [],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "noEnd",
            "startDate": "2025-01-01",
            "endDate": "0001-01-01",
            "recurrenceTimeZone": "",
            "numberOfOccurrences": 0,
        },
    }
    # ... and takes that form back unchanged (a client that round-trips what it read).
    assert validate(normal, date(2025, 1, 1)) == normal


# -- what Graph refuses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "rng"),
    [
        ({"type": "hourly", "interval": 1}, numbered("2025-01-01", 2)),
        ({"type": "weekly", "interval": 1, "firstDayOfWeek": "sunday"}, numbered("2025-01-01", 2)),
        ({"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]}, numbered("2025-01-01", 2)),
        (
            {"type": "weekly", "interval": 1, "daysOfWeek": ["funday"], "firstDayOfWeek": "sunday"},
            numbered("2025-01-01", 2),
        ),
        ({"type": "daily", "interval": 0}, numbered("2025-01-01", 2)),
        ({"type": "daily", "interval": 100}, numbered("2025-01-01", 2)),
        ({"type": "daily", "interval": 1, "dayOfMonth": 3}, numbered("2025-01-01", 2)),
        ({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 32}, numbered("2025-01-01", 2)),
        (
            {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 30, "month": 2},
            numbered("2025-01-01", 2),
        ),
        (
            {"type": "relativeYearly", "interval": 1, "daysOfWeek": ["monday"]},
            numbered("2025-01-01", 2),
        ),
        ({"type": "daily", "interval": 1}, numbered("2025-01-01", 0)),
        ({"type": "daily", "interval": 1}, {"type": "endDate", "startDate": "2025-01-01"}),
        (
            {"type": "daily", "interval": 1},
            {"type": "endDate", "startDate": "2025-01-05", "endDate": "2025-01-01"},
        ),
        (
            {"type": "daily", "interval": 1},
            {"type": "noEnd", "startDate": "2025-01-01", "numberOfOccurrences": 3},
        ),
        ({"type": "daily", "interval": 1}, {"type": "forever", "startDate": "2025-01-01"}),
    ],
)
def test_invalid_recurrences_are_refused(pattern: dict[str, Any], rng: dict[str, Any]) -> None:
    with pytest.raises(GraphError) as refused:
        validate({"pattern": pattern, "range": rng}, date.fromisoformat(rng["startDate"]))
    assert refused.value.status == 400


def test_range_must_start_on_the_events_start_date() -> None:
    recurrence = {"pattern": {"type": "daily", "interval": 1}, "range": numbered("2025-01-02", 2)}
    with pytest.raises(GraphError, match="must be the start date"):
        validate(recurrence, date(2025, 1, 1))


# -- property: the generator agrees with a day-by-day filter ---------------------------------


def _week_start(day: date, first: str) -> date:
    return day - timedelta(days=(day.weekday() - DAYS.index(first)) % 7)


def _months(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def _nth_match(day: date, days: list[str], index: str) -> bool:
    """Whether ``day`` is the index-th day of its month among ``days``."""
    last = calendar.monthrange(day.year, day.month)[1]
    matches = [
        date(day.year, day.month, n)
        for n in range(1, last + 1)
        if DAYS[date(day.year, day.month, n).weekday()] in days
    ]
    position = INDEXES[index]
    pick = matches[position - 1] if position > 0 else matches[-1]
    return len(matches) >= abs(position) and pick == day


def _matches(p: dict[str, Any], start: date, day: date) -> bool:
    kind: str = p["type"]
    interval: int = p["interval"]
    days: list[str] = p["daysOfWeek"]
    day_of_month: int = p["dayOfMonth"]
    month: int = p["month"]
    index: str = p["index"]
    first: str = p["firstDayOfWeek"]
    if kind == "daily":
        return (day - start).days % interval == 0
    if kind == "weekly":
        weeks = (_week_start(day, first) - _week_start(start, first)).days
        return DAYS[day.weekday()] in days and (weeks // 7) % interval == 0
    last_day = calendar.monthrange(day.year, day.month)[1]
    if kind == "absoluteMonthly":
        return day.day == min(day_of_month, last_day) and _months(start, day) % interval == 0
    if kind == "relativeMonthly":
        return (
            _months(start, day) % interval == 0
            and DAYS[day.weekday()] in days
            and _nth_match(day, days, index)
        )
    in_year = (day.year - start.year) % interval == 0 and day.month == month
    if kind == "absoluteYearly":
        return in_year and day.day == min(day_of_month, last_day)
    return in_year and DAYS[day.weekday()] in days and _nth_match(day, days, index)


_days = st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True)
patterns = st.one_of(
    st.builds(lambda i: {"type": "daily", "interval": i}, st.integers(1, 9)),
    st.builds(
        lambda i, d, f: {"type": "weekly", "interval": i, "daysOfWeek": d, "firstDayOfWeek": f},
        st.integers(1, 4),
        _days,
        st.sampled_from(DAYS),
    ),
    st.builds(
        lambda i, n: {"type": "absoluteMonthly", "interval": i, "dayOfMonth": n},
        st.integers(1, 5),
        st.one_of(st.integers(1, 31), st.integers(29, 31)),  # short months matter
    ),
    st.builds(
        lambda i, d, x: {"type": "relativeMonthly", "interval": i, "daysOfWeek": d, "index": x},
        st.integers(1, 4),
        _days,
        st.sampled_from(list(INDEXES)),
    ),
    st.builds(
        lambda i, m, n: {"type": "absoluteYearly", "interval": i, "month": m, "dayOfMonth": n},
        st.integers(1, 2),
        st.integers(1, 12),
        st.integers(1, 29),
    ),
    st.builds(
        lambda i, m, d, x: {
            "type": "relativeYearly",
            "interval": i,
            "month": m,
            "daysOfWeek": d,
            "index": x,
        },
        st.integers(1, 2),
        st.integers(1, 12),
        _days,
        st.sampled_from(list(INDEXES)),
    ),
)


@given(
    pattern=patterns,
    start=st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    range_kind=st.sampled_from(["endDate", "noEnd", "numbered"]),
    span=st.integers(0, 900),
    count=st.integers(1, 12),
)
def test_expansion_equals_a_day_by_day_filter(
    pattern: dict[str, Any], start: date, range_kind: str, span: int, count: int
) -> None:
    rng: dict[str, Any] = {"type": range_kind, "startDate": start.isoformat()}
    bound = start + timedelta(days=span)
    if range_kind == "endDate":
        rng["endDate"] = bound.isoformat()
    if range_kind == "numbered":
        rng["numberOfOccurrences"] = count
        bound = start + timedelta(days=366 * 2 * 12)
    normal = series(pattern, rng)
    found = list(occurrence_dates(normal, until=bound))
    expected: list[date] = []
    day = start
    while day <= bound and not (range_kind == "numbered" and len(expected) == count):
        if _matches(normal["pattern"], start, day):
            expected.append(day)
        day += timedelta(days=1)
    assert found == expected
