"""availability/rules.py: weekly availability rules in a tzid, expanded to UTC.

Daylight-saving changes are checked by hand for Europe/London and America/New_York
(ordinary days on both sides, and the change days themselves, where wall times are
missing or repeated); a property checks every other day of the year in several zones.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.availability import (
    DAYS,
    AvailabilityRule,
    WeeklyPeriod,
    expand_rules,
    format_wall_time,
    parse_wall_time,
    select_rules,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rule(tzid: str, *periods: tuple[str, str, str], rule_id: str = "") -> AvailabilityRule:
    return AvailabilityRule(tzid, tuple(WeeklyPeriod.parse(*p) for p in periods), rule_id)


def one_day(
    r: AvailabilityRule, year: int, month: int, day: int
) -> list[tuple[datetime, datetime]]:
    """The rule's intervals that start on this UTC day (a generous window around it)."""
    start = utc(year, month, day)
    return [
        i
        for i in r.expand(start - timedelta(days=1), start + timedelta(days=2))
        if i[0].date() == start.date()
    ]


WEEKDAYS = [(day, "09:00", "17:00") for day in DAYS[:5]]


def test_london_working_hours_follow_british_summer_time() -> None:
    london = rule("Europe/London", *WEEKDAYS)
    assert one_day(london, 2026, 7, 6) == [(utc(2026, 7, 6, 8), utc(2026, 7, 6, 16))]  # BST
    assert one_day(london, 2026, 12, 7) == [(utc(2026, 12, 7, 9), utc(2026, 12, 7, 17))]  # GMT
    # The Friday before and the Monday after the change of 2026-03-29.
    assert one_day(london, 2026, 3, 27) == [(utc(2026, 3, 27, 9), utc(2026, 3, 27, 17))]
    assert one_day(london, 2026, 3, 30) == [(utc(2026, 3, 30, 8), utc(2026, 3, 30, 16))]
    assert one_day(london, 2026, 3, 28) == []  # a Saturday


def test_new_york_working_hours_follow_daylight_time() -> None:
    new_york = rule("America/New_York", *WEEKDAYS)
    assert one_day(new_york, 2026, 3, 6) == [(utc(2026, 3, 6, 14), utc(2026, 3, 6, 22))]  # EST
    assert one_day(new_york, 2026, 3, 9) == [(utc(2026, 3, 9, 13), utc(2026, 3, 9, 21))]  # EDT
    assert one_day(new_york, 2026, 10, 30) == [(utc(2026, 10, 30, 13), utc(2026, 10, 30, 21))]
    assert one_day(new_york, 2026, 11, 2) == [(utc(2026, 11, 2, 14), utc(2026, 11, 2, 22))]


def test_london_spring_forward_day_moves_missing_wall_times_forward() -> None:
    # 2026-03-29: 01:00 GMT becomes 02:00 BST; local 01:00-01:59 does not exist and is
    # read with the offset before the gap (RFC 5545): 01:30 -> 01:30Z (02:30 BST).
    day = (2026, 3, 29)
    assert one_day(rule("Europe/London", ("sunday", "09:00", "17:00")), *day) == [
        (utc(2026, 3, 29, 8), utc(2026, 3, 29, 16))
    ]
    assert one_day(rule("Europe/London", ("sunday", "00:30", "03:00")), *day) == [
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 2))
    ]
    assert one_day(rule("Europe/London", ("sunday", "00:00", "01:30")), *day) == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1, 30))
    ]
    # Both ends resolve to 01:30Z: a period lying in the gap is empty that day; so is
    # one whose start, moved forward, passes its end (02:15 BST is 01:15Z).
    assert one_day(rule("Europe/London", ("sunday", "01:30", "02:30")), *day) == []
    assert one_day(rule("Europe/London", ("sunday", "01:30", "02:15")), *day) == []


def test_london_fall_back_day_takes_the_first_of_repeated_wall_times() -> None:
    # 2026-10-25: 02:00 BST becomes 01:00 GMT; local 01:00-01:59 happens twice.
    day = (2026, 10, 25)
    assert one_day(rule("Europe/London", ("sunday", "01:00", "03:00")), *day) == [
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 3))  # from the first 01:00 (BST)
    ]
    assert one_day(rule("Europe/London", ("sunday", "01:30", "01:45")), *day) == [
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 45))
    ]
    assert one_day(rule("Europe/London", ("sunday", "09:00", "17:00")), *day) == [
        (utc(2026, 10, 25, 9), utc(2026, 10, 25, 17))
    ]


def test_new_york_change_days_read_as_rfc_5545_does() -> None:
    # RFC 5545 3.3.5's own examples: 02:30 on 2007-03-11 is 03:30 EDT, 01:30 on
    # 2007-11-04 is 01:30 EDT. The same rule on the 2026 change days:
    assert one_day(rule("America/New_York", ("sunday", "02:30", "04:00")), 2026, 3, 8) == [
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8))  # 03:30 EDT - 04:00 EDT
    ]
    assert one_day(rule("America/New_York", ("sunday", "01:30", "02:30")), 2026, 11, 1) == [
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 30))  # 01:30 EDT - 02:30 EST
    ]
    assert rule("America/New_York", ("sunday", "02:30", "04:00")).expand(
        utc(2007, 3, 11), utc(2007, 3, 12)
    ) == [(utc(2007, 3, 11, 7, 30), utc(2007, 3, 11, 8))]


def test_periods_across_midnight_join_and_24_00_ends_the_day() -> None:
    late = rule("UTC", ("monday", "22:00", "24:00"), ("tuesday", "00:00", "02:00"))
    assert late.expand(utc(2026, 12, 7), utc(2026, 12, 9)) == [
        (utc(2026, 12, 7, 22), utc(2026, 12, 8, 2))
    ]
    paris = ZoneInfo("Europe/Paris")
    clipped = late.expand(
        datetime(2026, 12, 7, 23, 30, tzinfo=paris), datetime(2026, 12, 8, 2, tzinfo=paris)
    )
    assert clipped == [(utc(2026, 12, 7, 22, 30), utc(2026, 12, 8, 1))]
    assert all(moment.tzinfo is UTC for interval in clipped for moment in interval)


def test_expand_clips_to_the_range_and_reaches_back_a_local_day() -> None:
    # In UTC-10, Monday 20:00-24:00 is Tuesday 06:00-10:00Z.
    honolulu_like = rule("Etc/GMT+10", ("monday", "20:00", "24:00"))
    assert honolulu_like.expand(utc(2026, 12, 8, 7), utc(2026, 12, 8, 9)) == [
        (utc(2026, 12, 8, 7), utc(2026, 12, 8, 9))
    ]
    assert honolulu_like.expand(utc(2026, 12, 8, 10), utc(2026, 12, 9)) == []
    # In UTC+10, Tuesday 01:00-05:00 is Monday 15:00-19:00Z: a range ending on Monday
    # in UTC reaches Tuesday's local periods.
    sydney_like = rule("Etc/GMT-10", ("tuesday", "01:00", "05:00"))
    assert sydney_like.expand(utc(2026, 12, 7, 12), utc(2026, 12, 7, 20)) == [
        (utc(2026, 12, 7, 15), utc(2026, 12, 7, 19))
    ]


def test_several_rules_are_a_union_and_members_may_pick_them() -> None:
    morning = rule("UTC", ("monday", "09:00", "12:00"), rule_id="morning")
    lunch = rule("UTC", ("monday", "11:00", "14:00"), rule_id="lunch")
    both = expand_rules([morning, lunch], utc(2026, 12, 7), utc(2026, 12, 8))
    assert both == [(utc(2026, 12, 7, 9), utc(2026, 12, 7, 14))]
    assert select_rules([morning, lunch], None) == [morning, lunch]
    assert select_rules([morning, lunch], ["lunch", "nope"]) == [lunch]
    assert expand_rules([], utc(2026, 12, 7), utc(2026, 12, 8)) == []


@pytest.mark.parametrize("text", ["9:00", "09:0", "24:01", "25:00", "12:60", "noon", ""])
def test_bad_wall_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_wall_time(text)


def test_bad_periods_and_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="after the start"):
        WeeklyPeriod.parse("monday", "17:00", "09:00")
    with pytest.raises(ValueError, match="after the start"):
        WeeklyPeriod.parse("monday", "09:00", "09:00")
    with pytest.raises(ValueError, match="not one of"):
        WeeklyPeriod.parse("Monday", "09:00", "17:00")
    with pytest.raises(ValueError, match="whole minutes"):
        WeeklyPeriod("monday", timedelta(seconds=30), timedelta(hours=1))
    with pytest.raises(ValueError, match="unknown time zone"):
        rule("Mars/Olympus_Mons", ("monday", "09:00", "17:00"))


@given(st.integers(0, 24 * 60).map(lambda m: timedelta(minutes=m)))
def test_wall_times_round_trip(offset: timedelta) -> None:
    assert parse_wall_time(format_wall_time(offset)) == offset


zones = st.sampled_from(
    ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Santiago"]
)
periods = st.builds(
    lambda day, start, length: WeeklyPeriod(
        day, timedelta(minutes=start), timedelta(minutes=min(1440, start + length))
    ),
    st.sampled_from(DAYS),
    st.integers(0, 1439),
    st.integers(1, 720),
)


@given(zones, st.lists(periods, min_size=1, max_size=4), st.integers(0, 364), st.integers(0, 1439))
def test_outside_change_days_a_rule_covers_exactly_its_wall_clock_periods(
    tzid: str, weekly: list[WeeklyPeriod], day: int, minute: int
) -> None:
    zone = ZoneInfo(tzid)
    moment = utc(2026, 1, 1) + timedelta(days=day, minutes=minute)
    local = moment.astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    if midnight.utcoffset() != (midnight + timedelta(days=1)).utcoffset():
        return  # a change day: covered by the hand-written cases above
    expanded = AvailabilityRule(tzid, tuple(weekly)).expand(
        moment - timedelta(days=2), moment + timedelta(days=2)
    )
    inside = any(start <= moment < end for start, end in expanded)
    of_day = timedelta(hours=local.hour, minutes=local.minute)
    expected = any(p.weekday == local.weekday() and p.start <= of_day < p.end for p in weekly)
    assert inside == expected
