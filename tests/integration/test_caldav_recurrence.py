"""Recurrence, overrides, all-day events and time zones through a real Radicale."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar, Event

from calsync.errors import PreconditionFailed
from calsync.model import EventContent, RemoteEvent
from calsync.providers.base import SyncWindow
from calsync.providers.caldav import CalDAVProvider
from tests.fixtures.radicale import RadicaleCalendar, make_caldav_provider

WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))

SERIES = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        "BEGIN:VEVENT",
        "UID:standup@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;TZID=America/New_York:20260302T090000",
        "DTEND;TZID=America/New_York:20260302T091500",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
        "EXDATE;TZID=America/New_York:20260316T090000",
        "SUMMARY:Standup",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:standup@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;TZID=America/New_York:20260323T090000",
        "DTSTART;TZID=America/New_York:20260323T100000",
        "DTEND;TZID=America/New_York:20260323T101500",
        "SUMMARY:Standup (late)",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:standup@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;TZID=America/New_York:20260330T090000",
        "DTSTART;TZID=America/New_York:20260330T090000",
        "DTEND;TZID=America/New_York:20260330T091500",
        "STATUS:CANCELLED",
        "SUMMARY:Standup",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)

ALL_DAY = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        "BEGIN:VEVENT",
        "UID:offsite@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;VALUE=DATE:20260310",
        "DTEND;VALUE=DATE:20260312",
        "SUMMARY:Offsite",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)


@pytest.fixture
def provider(radicale_calendar: RadicaleCalendar) -> Iterator[CalDAVProvider]:
    built = make_caldav_provider(radicale_calendar)
    yield built
    built.close()


def listing(provider: CalDAVProvider, calendar: RadicaleCalendar) -> dict[str, RemoteEvent]:
    return {e.remote_id: e for p in provider.pull(calendar.url, None, WINDOW) for e in p.changed}


def test_master_and_overrides_of_one_resource(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    href = radicale_calendar.put("standup.ics", SERIES)
    events = listing(provider, radicale_calendar)
    # 09:00 New York in March 2026: EST (-5) before the 8th, EDT (-4) from then on.
    late, cancelled = f"{href}#20260323T130000Z", f"{href}#20260330T130000Z"
    assert set(events) == {href, late, cancelled}

    master = events[href].content
    assert master.start == datetime(2026, 3, 2, 14, tzinfo=UTC)
    assert master.end == datetime(2026, 3, 2, 14, 15, tzinfo=UTC)
    assert master.tzid == "America/New_York"
    # icalendar re-serialises the lines: RRULE parts in its canonical order, TZID kept.
    assert master.recurrence == (
        "RRULE:FREQ=WEEKLY;COUNT=6;BYDAY=MO",
        "EXDATE;TZID=America/New_York:20260316T090000",
    )
    assert events[href].master_remote_id is None and events[href].ical_uid == "standup@example.org"

    moved = events[late]
    assert moved.master_remote_id == href
    assert moved.content.original_start == datetime(2026, 3, 23, 13, tzinfo=UTC)
    assert moved.content.start == datetime(2026, 3, 23, 14, tzinfo=UTC)
    assert moved.content.summary == "Standup (late)" and moved.content.recurrence == ()
    assert events[cancelled].content.status == "cancelled"
    assert len({e.etag for e in events.values()}) == 1, "one resource, one etag"


def test_recurrence_lines_expand_to_the_right_occurrences(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    """The kept lines are enough for recurring-ical-events (what the read API uses)."""
    href = radicale_calendar.put("standup.ics", SERIES)
    master = listing(provider, radicale_calendar)[href].content
    vevent = Event()
    vevent.add("UID", "x")
    vevent.add("DTSTART", master.start.astimezone(ZoneInfo(master.tzid)))  # type: ignore[union-attr]
    text = (
        vevent.to_ical()
        .decode()
        .replace("END:VEVENT", "\r\n".join(master.recurrence) + "\r\nEND:VEVENT")
    )
    calendar = Calendar.from_ical(f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{text}END:VCALENDAR\r\n")
    starts = [
        o["DTSTART"].dt.astimezone(UTC)
        for o in recurring_ical_events.of(calendar).between(date(2026, 3, 1), date(2026, 5, 1))
    ]
    assert starts == [
        datetime(2026, 3, 2, 14, tzinfo=UTC),
        datetime(2026, 3, 9, 13, tzinfo=UTC),  # DST began on the 8th: still 09:00 local
        datetime(2026, 3, 23, 13, tzinfo=UTC),
        datetime(2026, 3, 30, 13, tzinfo=UTC),
        datetime(2026, 4, 6, 13, tzinfo=UTC),
    ]


def test_all_day_event_has_dates_and_exclusive_end(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    href = radicale_calendar.put("offsite.ics", ALL_DAY)
    content = listing(provider, radicale_calendar)[href].content
    assert content.all_day
    assert (content.start, content.end) == (date(2026, 3, 10), date(2026, 3, 12))
    assert content.transparency == "transparent"


def test_deleting_the_resource_reports_only_its_href(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    href = radicale_calendar.put("standup.ics", SERIES)
    cursor = list(provider.pull(radicale_calendar.url, None, WINDOW))[-1].cursor
    radicale_calendar.delete("standup.ics")
    pages = list(provider.pull(radicale_calendar.url, cursor, WINDOW))
    assert [rid for p in pages for rid in p.deleted] == [href]
    assert not [e for p in pages for e in p.changed]


def test_override_writes_rewrite_the_master_resource(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    start = datetime(2026, 4, 6, 13, tzinfo=UTC)
    master = EventContent(
        summary="Review",
        start=start,
        end=start + timedelta(hours=1),
        tzid="America/New_York",
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=4",),
    )
    created = provider.create_event(radicale_calendar.url, "evt_review", master)
    assert created.remote_id.endswith("/evt_review.ics") and created.etag

    original = start + timedelta(days=7)
    moved = replace(
        master,
        summary="Review (moved)",
        start=original + timedelta(hours=2),
        end=original + timedelta(hours=3),
        recurrence=(),
        original_start=original,
    )
    override = provider.create_event(
        radicale_calendar.url, "evt_review_2", moved, master_remote_id=created.remote_id
    )
    assert override.remote_id == created.remote_id + "#20260413T130000Z"
    # Retrying the same override create is idempotent.
    again = provider.create_event(
        radicale_calendar.url, "evt_review_2", moved, master_remote_id=created.remote_id
    )
    assert again.remote_id == override.remote_id

    events = listing(provider, radicale_calendar)
    assert set(events) == {created.remote_id, override.remote_id}
    assert events[override.remote_id].content == moved
    assert events[override.remote_id].origin_event_uid == "evt_review_2"
    assert events[created.remote_id].origin_event_uid == "evt_review"
    assert events[created.remote_id].content == master

    # Updating the master keeps the override in the resource.
    renamed = replace(master, summary="Weekly review")
    etag = events[created.remote_id].etag
    provider.update_event(radicale_calendar.url, created.remote_id, renamed, etag)
    with pytest.raises(PreconditionFailed):
        provider.update_event(radicale_calendar.url, override.remote_id, moved, etag)
    events = listing(provider, radicale_calendar)
    assert events[created.remote_id].content.summary == "Weekly review"
    assert events[override.remote_id].content == moved

    provider.delete_event(
        radicale_calendar.url, override.remote_id, events[override.remote_id].etag
    )
    assert set(listing(provider, radicale_calendar)) == {created.remote_id}


def test_timezone_round_trip_through_a_write(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    start = datetime(2026, 7, 1, 13, 30, tzinfo=UTC)
    content = EventContent(
        summary="Summer", start=start, end=start + timedelta(minutes=45), tzid="America/New_York"
    )
    created = provider.create_event(radicale_calendar.url, "evt_summer", content)
    raw = radicale_calendar.get("evt_summer.ics").text
    assert "DTSTART;TZID=America/New_York:20260701T093000" in raw
    assert "X-CALSYNC-EVENT-UID:evt_summer" in raw
    assert listing(provider, radicale_calendar)[created.remote_id].content == content
