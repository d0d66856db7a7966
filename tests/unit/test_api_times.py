"""api/times.py: parsing Cronofy time forms, the window, overlap and output format."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.api.times import (
    ensure_order,
    format_event_time,
    format_instant,
    instant_range,
    local_midnight,
    overlaps,
    parse_boundary,
    parse_instant,
    parse_query_time,
    parse_tzid,
    window_defaults,
)
from calsync.errors import ValidationError

NY = ZoneInfo("America/New_York")
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("posix"))[:200]

instants = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


def key_of(exc: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    return exc.value.fields[field][0]["key"]


def test_utc_time_parses() -> None:
    got = parse_boundary("2026-06-27T09:00:00Z", "start")
    assert got.value == datetime(2026, 6, 27, 9, tzinfo=UTC)
    assert got.tzid is None


def test_zero_milliseconds_accepted_nonzero_rejected() -> None:
    assert parse_instant("2026-06-27T09:00:00.000Z", "start") == datetime(
        2026, 6, 27, 9, tzinfo=UTC
    )
    with pytest.raises(ValidationError) as exc:
        parse_instant("2026-06-27T09:00:00.120Z", "start")
    assert key_of(exc, "start") == "errors.invalid"


def test_offset_converted_to_utc() -> None:
    assert parse_instant("2026-06-27T11:00:00+02:00", "x") == datetime(2026, 6, 27, 9, tzinfo=UTC)


def test_date_is_all_day() -> None:
    assert parse_boundary("2026-06-27", "start").value == date(2026, 6, 27)


def test_time_tzid_object_dst_both_sides() -> None:
    winter = parse_boundary({"time": "2026-01-15T09:00:00", "tzid": "America/New_York"}, "start")
    summer = parse_boundary({"time": "2026-07-15T09:00:00", "tzid": "America/New_York"}, "start")
    assert winter.value == datetime(2026, 1, 15, 14, tzinfo=UTC)
    assert summer.value == datetime(2026, 7, 15, 13, tzinfo=UTC)
    assert winter.tzid == "America/New_York"


def test_naive_time_uses_event_tzid_or_is_rejected() -> None:
    got = parse_boundary("2026-01-15T09:00:00", "start", "America/New_York")
    assert got.value == datetime(2026, 1, 15, 14, tzinfo=UTC)
    with pytest.raises(ValidationError):
        parse_boundary("2026-01-15T09:00:00", "start")


@pytest.mark.parametrize(
    "bad", ["", None, "tomorrow", "2026-13-01", "2026-02-30T00:00:00Z", 12, []]
)
def test_bad_boundaries_rejected(bad: object) -> None:
    with pytest.raises(ValidationError):
        parse_boundary(bad, "start")


def test_unknown_tzid_is_invalid_timezone() -> None:
    for bad in ("Mars/Olympus", "../../etc/passwd", "x" * 80):
        with pytest.raises(ValidationError) as exc:
            parse_tzid(bad)
        assert key_of(exc, "tzid") == "errors.invalid_timezone"
    with pytest.raises(ValidationError) as exc:
        parse_tzid(None)
    assert key_of(exc, "tzid") == "errors.required"
    with pytest.raises(ValidationError) as exc:
        parse_boundary({"time": "2026-01-01T00:00:00Z", "tzid": "Nope/Nope"}, "start")
    assert key_of(exc, "start.tzid") == "errors.invalid_timezone"


def test_query_dates_are_midnight_in_zone() -> None:
    assert parse_query_time("2026-01-15", "from", NY) == datetime(2026, 1, 15, 5, tzinfo=UTC)
    assert parse_query_time("2026-07-15", "from", NY) == datetime(2026, 7, 15, 4, tzinfo=UTC)


def test_window_defaults() -> None:
    now = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # still Nov 20 in New York
    start, end = window_defaults(now, NY, 42, 201)
    assert start == local_midnight(date(2026, 11, 20) - timedelta(days=42), NY)
    assert end == local_midnight(date(2026, 11, 20) + timedelta(days=201), NY)


def test_output_formats() -> None:
    t = datetime(2026, 1, 15, 14, 0, 0, 999_000, tzinfo=UTC)
    assert format_instant(t) == "2026-01-15T14:00:00Z"
    assert format_instant(t, NY) == "2026-01-15T09:00:00-05:00"
    assert format_event_time(date(2026, 1, 15), NY) == "2026-01-15"


def test_ensure_order() -> None:
    ensure_order(date(2026, 1, 1), date(2026, 1, 2))
    with pytest.raises(ValidationError):
        ensure_order(date(2026, 1, 2), date(2026, 1, 2))
    with pytest.raises(ValidationError):
        ensure_order(date(2026, 1, 2), datetime(2026, 1, 3, tzinfo=UTC))
    with pytest.raises(ValidationError):
        ensure_order(datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


@given(instants)
def test_format_parse_roundtrip(t: datetime) -> None:
    assert parse_instant(format_instant(t), "x") == t


@given(instants, st.sampled_from(ZONES))
def test_localized_format_parses_back_to_same_instant(t: datetime, zone_name: str) -> None:
    assert parse_instant(format_instant(t, ZoneInfo(zone_name)), "x") == t


@given(instants, st.integers(0, 10_000), instants, st.integers(1, 10_000))
def test_overlap_is_interval_intersection(s: datetime, dur: int, ws: datetime, wdur: int) -> None:
    e = s + timedelta(minutes=dur)
    we = ws + timedelta(minutes=wdur)
    got = overlaps(s, e, (ws, we), NY)
    # Interval intersection; a zero-length event counts when it lies inside.
    expected = ws <= s < we if dur == 0 else max(s, ws) < min(e, we)
    assert got == expected


@given(st.dates(min_value=date(1971, 1, 1), max_value=date(2099, 1, 1)), st.sampled_from(ZONES))
def test_all_day_range_is_local_day(day: date, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    lo, hi = instant_range(day, day + timedelta(days=1), zone)
    assert lo.astimezone(zone).date() == day
    assert (hi - timedelta(seconds=1)).astimezone(zone).date() == day
    # Adjacent all-day events never overlap each other's windows.
    assert not overlaps(day + timedelta(days=1), day + timedelta(days=2), (lo, hi), zone)
