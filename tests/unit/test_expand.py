"""api/expand.py: recurrence expansion through recurring-ical-events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from calsync.api.expand import (
    MAX_OCCURRENCES_PER_SERIES,
    expand_series,
    occurrence_uid,
    recurrence_lines_valid,
    split_occurrence_uid,
)
from calsync.model import EventContent

UTCZ = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")
WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def timed(start: datetime, minutes: int = 60, **kw: object) -> EventContent:
    return EventContent(summary="s", start=start, end=start + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def test_weekly_new_york_keeps_local_time_across_dst() -> None:
    # US DST starts 2026-03-08: 09:00 EST = 14:00Z before, 09:00 EDT = 13:00Z after.
    master = timed(
        datetime(2026, 2, 23, 14, tzinfo=UTC),
        tzid="America/New_York",
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=4",),
    )
    occ = expand_series("evt_a", ("m", master), [], WIDE, UTCZ)
    assert [o.start for o in occ] == [
        datetime(2026, 2, 23, 14, tzinfo=UTC),
        datetime(2026, 3, 2, 14, tzinfo=UTC),
        datetime(2026, 3, 9, 13, tzinfo=UTC),
        datetime(2026, 3, 16, 13, tzinfo=UTC),
    ]
    assert all(o.end - o.start == timedelta(hours=1) for o in occ)  # type: ignore[operator]


def test_override_replaces_and_cancelled_override_removes() -> None:
    master = timed(datetime(2026, 5, 4, 9, tzinfo=UTC), recurrence=("RRULE:FREQ=DAILY;COUNT=5",))
    moved = timed(
        datetime(2026, 5, 5, 15, tzinfo=UTC), original_start=datetime(2026, 5, 5, 9, tzinfo=UTC)
    )
    cancelled = timed(
        datetime(2026, 5, 6, 9, tzinfo=UTC),
        original_start=datetime(2026, 5, 6, 9, tzinfo=UTC),
        status="cancelled",
    )
    occ = expand_series("evt_a", ("m", master), [("o1", moved), ("o2", cancelled)], WIDE, UTCZ)
    assert [(o.source, o.start.day) for o in occ] == [("m", 4), ("o1", 5), ("m", 7), ("m", 8)]
    assert occ[1].original_start == datetime(2026, 5, 5, 9, tzinfo=UTC)
    assert occ[1].start == datetime(2026, 5, 5, 15, tzinfo=UTC)


def test_exdate_and_window_trim() -> None:
    master = timed(
        datetime(2026, 5, 4, 9, tzinfo=UTC),
        recurrence=("RRULE:FREQ=DAILY;COUNT=10", "EXDATE:20260506T090000Z"),
    )
    window = (datetime(2026, 5, 5, 9, 30, tzinfo=UTC), datetime(2026, 5, 8, 9, tzinfo=UTC))
    occ = expand_series("evt_a", ("m", master), [], window, UTCZ)
    # 5th overlaps (09:00-10:00 vs 09:30), 6th excluded, 7th in, 8th starts at the exclusive end.
    assert [o.start.day for o in occ] == [5, 7]


def test_all_day_series_in_zone() -> None:
    master = EventContent(
        summary="d",
        start=date(2026, 5, 4),
        end=date(2026, 5, 5),
        recurrence=("RRULE:FREQ=DAILY;COUNT=3",),
    )
    window = (
        datetime(2026, 5, 5, 4, tzinfo=UTC),
        datetime(2026, 5, 6, 4, tzinfo=UTC),
    )  # May 5 in NY
    occ = expand_series("evt_d", ("m", master), [], window, NY)
    assert [o.start for o in occ] == [date(2026, 5, 5)]


def test_pathological_rule_is_capped() -> None:
    master = timed(datetime(2026, 5, 4, tzinfo=UTC), 0, recurrence=("RRULE:FREQ=SECONDLY",))
    occ = expand_series("evt_x", ("m", master), [], WIDE, UTCZ)
    assert len(occ) == MAX_OCCURRENCES_PER_SERIES


@given(
    freq=st.sampled_from([("DAILY", 1), ("WEEKLY", 7)]),
    interval=st.integers(1, 4),
    count=st.integers(1, 40),
    offset_days=st.integers(-30, 200),
    span_days=st.integers(1, 120),
)
def test_expansion_matches_naive_count(
    freq: tuple[str, int], interval: int, count: int, offset_days: int, span_days: int
) -> None:
    name, step_days = freq
    first = datetime(2026, 1, 5, 10, tzinfo=UTC)
    master = timed(first, 30, recurrence=(f"RRULE:FREQ={name};INTERVAL={interval};COUNT={count}",))
    lo = first + timedelta(days=offset_days)
    hi = lo + timedelta(days=span_days)
    naive = [first + timedelta(days=step_days * interval * i) for i in range(count)]
    expected = [s for s in naive if s < hi and s + timedelta(minutes=30) > lo]
    occ = expand_series("evt_h", ("m", master), [], (lo, hi), UTCZ)
    assert [o.start for o in occ] == expected
    uids = {occurrence_uid("evt_h", o.original_start) for o in occ}
    assert len(uids) == len(occ)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0))
    | st.dates(),
    st.from_regex(r"evt_[A-Za-z0-9_\-]{1,16}", fullmatch=True),
)
def test_occurrence_uid_roundtrip(start: datetime | date, uid: str) -> None:
    assert split_occurrence_uid(occurrence_uid(uid, start)) == (uid, start)


def test_split_plain_uid() -> None:
    assert split_occurrence_uid("evt_abc") == ("evt_abc", None)
    assert split_occurrence_uid("evt_abc.junk") == ("evt_abc.junk", None)


def test_recurrence_validation() -> None:
    assert recurrence_lines_valid(["RRULE:FREQ=WEEKLY;COUNT=5"])
    assert recurrence_lines_valid(["RRULE:FREQ=WEEKLY", "EXDATE:20260101T000000Z"])
    assert not recurrence_lines_valid([])
    assert not recurrence_lines_valid(["SUMMARY:x"])
    assert not recurrence_lines_valid(["EXDATE:20260101T000000Z"])
    assert not recurrence_lines_valid(["RRULE:FREQ=WEEKLY\r\nSUMMARY:x"])


def test_malformed_stored_rule_falls_back_to_one_occurrence() -> None:
    master = timed(datetime(2026, 5, 4, 9, tzinfo=UTC), recurrence=("RRULE:FREQ=NONSENSE;X=1",))
    occ = expand_series("evt_bad", ("m", master), [], WIDE, UTCZ)
    assert [o.start for o in occ] == [datetime(2026, 5, 4, 9, tzinfo=UTC)]


@given(st.lists(st.text(max_size=60), min_size=1, max_size=3))
def test_recurrence_validation_never_raises(lines: list[str]) -> None:
    assert recurrence_lines_valid(["RRULE:" + x for x in lines]) in (True, False)
