"""calsync expands a series exactly as recurring-ical-events does (issue 10, recurrence fidelity).

The property tests run generated calendars (`tests.fixtures.ical_series`) through
calsync's whole read path (the CalDAV reader, the store's columns, the read
side's expansion) and compare every occurrence, its times and its content, with
``recurring_ical_events.of(cal).between(a, b)`` on the same bytes. The
hand-written cases below pin each defect seen against real servers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, note

from calsync.model import EventContent
from calsync.providers import _ical, _ical_fast
from calsync.store.event_codec import content_columns
from tests.fixtures.ical_series import (
    Drawn,
    calendar_text,
    calsync_occurrences,
    library_occurrences,
    parsed_series,
    series_calendars,
    stored,
)


@given(series_calendars())
def test_calsync_expands_every_generated_series_as_the_library_does(drawn: Drawn) -> None:
    note(repr(drawn))
    master, overrides = parsed_series(drawn.ics)
    expected = library_occurrences(drawn.ics, drawn.window)
    overrides = [stored(o) for o in overrides]
    found = calsync_occurrences(stored(master), overrides, drawn.window, drawn.tzid)
    assert found == expected


@given(series_calendars())
def test_the_fast_reader_agrees_with_icalendar_whenever_it_accepts(drawn: Drawn) -> None:
    note(repr(drawn))
    fast = _ical_fast.parse_events_fast(drawn.ics)
    if fast is not None:
        assert fast == _ical.parse_events(drawn.ics)


# -- what the reader keeps ------------------------------------------------------------


def one(*vevents: list[str]) -> list[EventContent]:
    """The contents of a calendar's VEVENTs, through both readers (which must agree)."""
    text = calendar_text(*vevents)
    slow = [e.content for e in _ical.parse_events(text)]
    fast = _ical_fast.parse_events_fast(text)
    if fast is not None:
        assert [e.content for e in fast] == slow
    return slow


def test_a_duration_is_added_in_wall_clock_time_as_the_library_does() -> None:
    # 01:00 New York on the day clocks go forward: two wall-clock hours later is 03:00 EDT.
    [content] = one(["UID:a", "DTSTART;TZID=America/New_York:20260308T010000", "DURATION:PT2H"])
    assert content.start == datetime(2026, 3, 8, 6, tzinfo=UTC)
    assert content.end == datetime(2026, 3, 8, 7, tzinfo=UTC)


def test_a_floating_series_with_zoned_exdates_is_read_in_their_zone() -> None:
    [content] = one(
        [
            "UID:a",
            "DTSTART:20260302T090000",
            "DTEND:20260302T100000",
            "RRULE:FREQ=DAILY;COUNT=3",
            "EXDATE;TZID=Europe/Berlin:20260303T090000",
        ]
    )
    assert (content.start, content.tzid) == (datetime(2026, 3, 2, 8, tzinfo=UTC), "Europe/Berlin")
    assert _ical_fast.parse_events_fast(calendar_text(["UID:a", "DTSTART:20260302T090000"]))


def test_an_override_keeps_a_recurrence_id_that_says_more_than_its_start() -> None:
    master = ["UID:a", "DTSTART;TZID=Europe/Berlin:20260302T090000", "RRULE:FREQ=DAILY"]
    plain, ranged, other_zone = (
        one(
            master,
            ["UID:a", rid, "DTSTART;TZID=Europe/Berlin:20260304T110000"],
        )[1]
        for rid in (
            "RECURRENCE-ID;TZID=Europe/Berlin:20260304T090000",
            "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260304T090000",
            "RECURRENCE-ID:20260304T080000Z",
        )
    )
    assert plain.recurrence_id is None
    assert ranged.recurrence_id == (
        "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260304T090000"
    )
    assert other_zone.recurrence_id == "RECURRENCE-ID:20260304T080000Z"
    assert plain.original_start == ranged.original_start == other_zone.original_start


def test_an_override_calsync_writes_reads_back_as_written() -> None:
    override = EventContent(
        summary="moved ",
        start=datetime(2026, 3, 4, 10, tzinfo=UTC),
        end=datetime(2026, 3, 4, 11, tzinfo=UTC),
        tzid="Europe/Berlin",
        original_start=datetime(2026, 3, 4, 8, tzinfo=UTC),
    )
    ranged = replace(
        override,
        recurrence_id="RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260304T090000",
    )
    stale = replace(override, recurrence_id="RECURRENCE-ID:20260305T080000Z")
    for written, expected in ((override, override), (ranged, ranged), (stale, override)):
        vevent = _ical.new_vevent("a", written, origin_event_uid=None)
        [read] = _ical.parse_events(_ical.serialize(_ical.calendar_of([vevent])))
        assert read.content == expected


def test_the_store_keeps_the_recurrence_id_beside_the_rules() -> None:
    override = EventContent(
        summary="o",
        start=date(2026, 3, 4),
        end=date(2026, 3, 5),
        original_start=date(2026, 3, 4),
        recurrence_id="RECURRENCE-ID;RANGE=THISANDFUTURE;VALUE=DATE:20260304",
    )
    columns = content_columns(override)
    assert columns["recurrence"] == [override.recurrence_id]
    assert columns["recurring"] is False, "an override is not a series of its own"
    assert stored(override) == override
    # A row written before the field existed: no such line, nothing kept.
    master = EventContent(
        summary="m",
        start=date(2026, 3, 2),
        end=date(2026, 3, 3),
        recurrence=("RRULE:FREQ=DAILY", "EXDATE;VALUE=DATE:20260303"),
    )
    assert content_columns(master)["recurrence"] == list(master.recurrence)
    assert stored(master) == master


def test_an_all_day_series_with_a_utc_until_keeps_the_until_day() -> None:
    ics = calendar_text(
        ["UID:a", "DTSTART;VALUE=DATE:20260302", "RRULE:FREQ=DAILY;UNTIL=20260304T000000Z"]
    )
    master, _ = parsed_series(ics)
    for tzid in ("Etc/UTC", "Pacific/Pago_Pago", "Pacific/Kiritimati"):
        zone = ZoneInfo(tzid)
        window = (datetime(2026, 3, 1, tzinfo=zone), datetime(2026, 3, 10, tzinfo=zone))
        found = calsync_occurrences(stored(master), [], window, tzid)
        assert found == library_occurrences(ics, window)
        assert [o.start for o in found] == [date(2026, 3, d) for d in (2, 3, 4)]
