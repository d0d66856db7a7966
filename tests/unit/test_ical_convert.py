"""iCalendar <-> model conversion (providers/_ical.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from calsync.errors import ProviderError, UserError
from calsync.model import Attendee, EventContent, Location
from calsync.providers import _ical

ZONES = ["Etc/UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"]


def wrap(*lines: str) -> str:
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", "BEGIN:VEVENT", *lines]
    return "\r\n".join([*body, "END:VEVENT", "END:VCALENDAR", ""])


def round_trip(content: EventContent, origin: str | None = None) -> _ical.ParsedEvent:
    vevent = _ical.new_vevent("uid-1", content, origin_event_uid=origin)
    [parsed] = _ical.parse_events(_ical.serialize(_ical.calendar_of([vevent])))
    return parsed


texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
emails = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.org", fullmatch=True)


@st.composite
def contents(draw: st.DrawFn) -> EventContent:
    all_day = draw(st.booleans())
    if all_day:
        start: date | datetime = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
        end: date | datetime = start + timedelta(days=draw(st.integers(1, 10)))
        tzid = "Etc/UTC"
    else:
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
            minutes=15 * draw(st.integers(0, 70000))
        )
        end = start + timedelta(minutes=15 * draw(st.integers(0, 100)))
        tzid = draw(st.sampled_from(ZONES))
    attendees = tuple(
        Attendee(
            email, draw(st.one_of(st.none(), st.text("abc XY", min_size=1, max_size=8))), status
        )
        for email, status in draw(
            st.lists(
                st.tuples(
                    emails, st.sampled_from(["needs_action", "accepted", "declined", "tentative"])
                ),
                max_size=3,
                unique_by=lambda t: t[0],
            )
        )
    )
    return EventContent(
        summary=draw(texts),
        start=start,
        end=end,
        tzid=tzid,
        description=draw(texts),
        location=draw(
            st.one_of(st.none(), texts.filter(bool).map(lambda d: Location(description=d)))
        ),
        attendees=attendees,
        transparency=draw(st.sampled_from(["opaque", "transparent"])),
        status=draw(st.sampled_from(["confirmed", "tentative", "cancelled"])),
        recurrence=draw(
            st.sampled_from([(), ("RRULE:FREQ=DAILY;COUNT=3",), ("RRULE:FREQ=WEEKLY;INTERVAL=2",)])
        ),
        private=draw(st.booleans()),
    )


@given(contents(), st.one_of(st.none(), st.just("evt_abc")))
def test_written_content_reads_back_equal(content: EventContent, origin: str | None) -> None:
    parsed = round_trip(content, origin)
    assert parsed.content == content
    assert parsed.content.fingerprint() == content.fingerprint()
    assert parsed.origin_event_uid == origin
    assert parsed.recurrence_key is None and parsed.uid == "uid-1"


def test_tzid_times_become_utc_instants_keeping_the_zone() -> None:
    [parsed] = _ical.parse_events(
        wrap(
            "UID:x",
            "DTSTART;TZID=America/New_York:20260115T090000",
            "DTEND;TZID=America/New_York:20260115T100000",
        )
    )
    assert parsed.content.start == datetime(2026, 1, 15, 14, tzinfo=UTC)
    assert parsed.content.tzid == "America/New_York"


def test_floating_times_are_read_as_utc() -> None:
    [parsed] = _ical.parse_events(wrap("UID:x", "DTSTART:20260115T090000", "DURATION:PT30M"))
    assert parsed.content.start == datetime(2026, 1, 15, 9, tzinfo=UTC)
    assert parsed.content.end == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert parsed.content.tzid == "Etc/UTC"


def test_missing_end_defaults() -> None:
    [day] = _ical.parse_events(wrap("UID:x", "DTSTART;VALUE=DATE:20260115"))
    assert (day.content.start, day.content.end) == (date(2026, 1, 15), date(2026, 1, 16))
    [instant] = _ical.parse_events(wrap("UID:y", "DTSTART:20260115T090000Z"))
    assert instant.content.end == instant.content.start


def test_override_gets_original_start_and_a_utc_key() -> None:
    [override] = _ical.parse_events(
        wrap(
            "UID:x",
            "RECURRENCE-ID;TZID=Europe/Berlin:20260701T090000",
            "DTSTART;TZID=Europe/Berlin:20260701T100000",
            "RRULE:FREQ=DAILY",
        )
    )
    assert override.recurrence_key == "20260701T070000Z"
    assert override.content.original_start == datetime(2026, 7, 1, 7, tzinfo=UTC)
    assert override.content.recurrence == (), "an override never carries the series rule"
    assert _ical.recurrence_key(date(2026, 7, 1)) == "20260701"


def test_attendees_organizer_and_flags_are_read() -> None:
    [parsed] = _ical.parse_events(
        wrap(
            "UID:x",
            "DTSTART:20260115T090000Z",
            "ORGANIZER;CN=Olga:MAILTO:olga@example.org",
            "ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:ann@example.org",
            "ATTENDEE;PARTSTAT=DELEGATED:mailto:bo@example.org",
            "CLASS:CONFIDENTIAL",
            "STATUS:TENTATIVE",
            "GEO:52.5;13.4",
        )
    )
    content = parsed.content
    assert content.organizer == Attendee("olga@example.org", "Olga")
    assert content.attendees == (
        Attendee("ann@example.org", "Ann", "accepted"),
        Attendee("bo@example.org", None, "unknown"),
    )
    assert content.private and content.status == "tentative"
    assert content.location == Location(description=None, lat="52.5", long="13.4")


def test_update_keeps_unmodelled_properties_and_bumps_sequence() -> None:
    calendar = _ical.parse_calendar(
        wrap(
            "UID:x",
            "DTSTART:20260115T090000Z",
            "SUMMARY:Old",
            "SEQUENCE:3",
            "CATEGORIES:work",
            "X-OTHER:kept",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "TRIGGER:-PT5M",
            "DESCRIPTION:ping",
            "END:VALARM",
        )
    )
    [vevent] = calendar.walk("VEVENT")
    start = datetime(2026, 2, 1, 8, tzinfo=UTC)
    _ical.apply_content(vevent, EventContent(summary="New", start=start, end=start))
    text = _ical.serialize(calendar).decode()
    assert "SUMMARY:New" in text and "SUMMARY:Old" not in text
    assert "X-OTHER:kept" in text and "CATEGORIES:work" in text and "BEGIN:VALARM" in text
    assert "SEQUENCE:4" in text


def test_recurrence_lines_are_written_as_given() -> None:
    start = datetime(2026, 3, 2, 14, tzinfo=UTC)
    lines = ("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6", "EXDATE;TZID=America/New_York:20260316T090000")
    content = EventContent(
        summary="s", start=start, end=start, tzid="America/New_York", recurrence=lines
    )
    vevent = _ical.new_vevent("x", content, origin_event_uid=None)
    text = vevent.to_ical().decode()
    assert all(line in text for line in lines)
    with pytest.raises(UserError):
        _ical.new_vevent(
            "x",
            EventContent(summary="s", start=start, end=start, recurrence=("SUMMARY:nope",)),
            origin_event_uid=None,
        )


@pytest.mark.parametrize("data", ["not a calendar", "BEGIN:VEVENT\r\nEND:VEVENT\r\n"])
def test_garbage_is_a_provider_error(data: str) -> None:
    with pytest.raises(ProviderError):
        _ical.parse_events(data)


def test_events_without_uid_or_start_are_skipped() -> None:
    calendar = Calendar.from_ical(wrap("SUMMARY:no uid", "DTSTART:20260115T090000Z"))
    assert list(_ical.events_of(calendar)) == []
