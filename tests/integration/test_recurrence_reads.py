"""Series stored on SQLite and PostgreSQL read back exactly as recurring-ical-events expands them.

Each case goes through calsync's whole read path: the CalDAV reader (the fast
parser with its icalendar fallback), the store's write path and columns, the
window query, and the Read Events / Free-Busy page renderer (`read_page`, what
``GET /v1/events`` and ``GET /v1/free_busy`` serve). The reference is
``recurring_ical_events.of(cal).between(a, b)`` on the same bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, note, settings

from calsync.api.expand import split_occurrence_uid
from calsync.api.ical import render_feed
from calsync.api.paging import PageState
from calsync.api.params import ReadQuery
from calsync.api.reads import EVENTS, FREE_BUSY, read_page
from calsync.providers import _ical_fast
from calsync.providers.caldav import remote_events
from calsync.store import Store
from tests.fixtures.ical_series import Drawn, Shown, calendar_text, library_occurrences
from tests.fixtures.ical_series import series_calendars as generated_series
from tests.fixtures.store import new_calendar

FIRST = PageState(current=1, total=1, after=None)
#: The store fixture is function-scoped; each example gets its own account instead.
FEW = settings(
    max_examples=max(10, settings().max_examples // 5),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def store_resource(store: Store, ics: str) -> str:
    """Store one CalDAV resource as a sync would; returns the account's name."""
    name = f"acc-{uuid.uuid4().hex[:10]}"
    calendar = new_calendar(store, account_name=name)
    listed = list(remote_events("/cal/series.ics", _ical_fast.parse_events(ics), '"1"'))
    with store.write() as uow:
        uow.events.upsert_remote_many(calendar.pk, listed)
    return name


def read(
    store: Store,
    account_name: str,
    window: tuple[datetime, datetime],
    *,
    tzid: str = "Etc/UTC",
    kind: str = EVENTS,
) -> list[dict[str, Any]]:
    """One (large) page of Read Events or Free/Busy over ``window``."""
    with store.read() as uow:
        account = uow.accounts.find_by_name(account_name)
        assert account is not None
        lo, hi = (moment.astimezone(UTC) for moment in window)
        query = ReadQuery(tzid=tzid, start=lo, end=hi)
        page = read_page(uow, account, query, FIRST, 1000, kind)
    assert not page.has_more
    return page.items


def feed_of(store: Store, account_name: str) -> str:
    """The account's calendar as ``GET /ical/{token}.ics`` renders it."""
    with store.read() as uow:
        owner = uow.accounts.find_by_name(account_name)
        assert owner is not None
        [calendar] = [c for c in uow.calendars.list(owner.pk) if c.remote_id is not None]
        return render_feed(calendar, uow.events.list_calendar(calendar.pk)).decode()


def _text(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def as_read(shown: Sequence[Shown]) -> list[tuple[str, str, str, str, str, str]]:
    """The library's occurrences as Read Events renders them."""
    return sorted(
        (_text(o.start), _text(o.end), o.summary, o.description, o.location, o.status)
        for o in shown
    )


def rendered(items: Sequence[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    return sorted(
        (
            e["start"],
            e["end"],
            e["summary"],
            e["description"],
            (e.get("location") or {}).get("description", ""),
            e["status"],
        )
        for e in items
    )


def starts(items: Sequence[dict[str, Any]]) -> list[str]:
    return sorted(e["start"] for e in items)


WIDE = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


# -- the property --------------------------------------------------------------------


@FEW
@given(drawn=generated_series())
def test_every_generated_series_reads_back_as_the_library_expands_it(
    store: Store, drawn: Drawn
) -> None:
    note(repr(drawn))
    account = store_resource(store, drawn.ics)
    expected = library_occurrences(drawn.ics, drawn.window)
    events = read(store, account, drawn.window, tzid=drawn.tzid)
    assert rendered(events) == as_read(expected)
    uids = [e["event_uid"] for e in events]
    assert len(set(uids)) == len(uids), "every occurrence has its own identity"
    busy = read(store, account, drawn.window, tzid=drawn.tzid, kind=FREE_BUSY)
    assert sorted((b["start"], b["end"]) for b in busy) == sorted(
        (_text(o.start), _text(o.end)) for o in expected
    )


# -- one case per defect seen against real servers -------------------------------------

RDATES = calendar_text(
    [
        "UID:rdates@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;TZID=Europe/Berlin:20260302T090000",
        "DTEND;TZID=Europe/Berlin:20260302T100000",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "EXDATE;TZID=Europe/Berlin:20260309T090000",
        # several per line, with TZID, one before DTSTART
        "RDATE;TZID=Europe/Berlin:20260225T180000,20260311T180000",
        # another line, UTC
        "RDATE:20260312T070000Z",
        # DATE values on a timed series: midnight in the series' zone
        "RDATE;VALUE=DATE:20260313",
        # PERIOD values: an explicit end, and a duration
        "RDATE;VALUE=PERIOD:20260314T080000Z/20260314T113000Z,20260315T080000Z/PT2H",
        "SUMMARY:Review",
    ]
)


def test_rdates_of_every_form_are_occurrences_even_before_dtstart(store: Store) -> None:
    account = store_resource(store, RDATES)
    events = read(store, account, WIDE)
    assert rendered(events) == as_read(library_occurrences(RDATES, WIDE))
    assert [(e["start"], e["end"]) for e in sorted(events, key=lambda e: e["start"])] == [
        ("2026-02-25T17:00:00Z", "2026-02-25T18:00:00Z"),  # RDATE before DTSTART
        ("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z"),
        # 9 March: EXDATE
        ("2026-03-11T17:00:00Z", "2026-03-11T18:00:00Z"),
        ("2026-03-12T07:00:00Z", "2026-03-12T08:00:00Z"),
        ("2026-03-12T23:00:00Z", "2026-03-13T00:00:00Z"),  # DATE: midnight in Berlin
        ("2026-03-14T08:00:00Z", "2026-03-14T11:30:00Z"),  # PERIOD: its own end
        ("2026-03-15T08:00:00Z", "2026-03-15T10:00:00Z"),  # PERIOD: its own duration
        ("2026-03-16T08:00:00Z", "2026-03-16T09:00:00Z"),
        ("2026-03-23T08:00:00Z", "2026-03-23T09:00:00Z"),
    ]
    # A window holding only the RDATE before DTSTART still finds the series.
    february = (datetime(2026, 2, 20, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert starts(read(store, account, february)) == ["2026-02-25T17:00:00Z"]


THIS_AND_FUTURE = calendar_text(
    [
        "UID:tf@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;TZID=America/New_York:20260302T090000",
        "DTEND;TZID=America/New_York:20260302T093000",
        "RRULE:FREQ=DAILY;COUNT=6",
        "SUMMARY:Standup",
    ],
    [
        "UID:tf@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=America/New_York:20260304T090000",
        "DTSTART;TZID=America/New_York:20260304T110000",
        "DTEND;TZID=America/New_York:20260304T120000",
        "SUMMARY:Standup (moved to 11)",
    ],
    [
        "UID:tf@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;TZID=America/New_York:20260306T090000",
        "DTSTART;TZID=America/New_York:20260306T140000",
        "DTEND;TZID=America/New_York:20260306T141500",
        "SUMMARY:Standup (Friday)",
    ],
)


def test_a_this_and_future_override_moves_the_occurrences_after_it(store: Store) -> None:
    account = store_resource(store, THIS_AND_FUTURE)
    events = sorted(read(store, account, WIDE), key=lambda e: e["start"])
    assert rendered(events) == as_read(library_occurrences(THIS_AND_FUTURE, WIDE))
    assert [(e["start"], e["end"], e["summary"]) for e in events] == [
        ("2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "Standup"),
        ("2026-03-03T14:00:00Z", "2026-03-03T14:30:00Z", "Standup"),
        ("2026-03-04T16:00:00Z", "2026-03-04T17:00:00Z", "Standup (moved to 11)"),
        ("2026-03-05T16:00:00Z", "2026-03-05T17:00:00Z", "Standup (moved to 11)"),
        ("2026-03-06T19:00:00Z", "2026-03-06T19:15:00Z", "Standup (Friday)"),
        ("2026-03-07T16:00:00Z", "2026-03-07T17:00:00Z", "Standup (moved to 11)"),
    ]
    # Each occurrence keeps the identity of the instance the rule made.
    originals = [split_occurrence_uid(e["event_uid"])[1] for e in events]
    assert originals == [datetime(2026, 3, d, 14, tzinfo=UTC) for d in range(2, 8)]
    # The iCal feed hands the range on to its readers.
    feed = feed_of(store, account)
    assert "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=America/New_York:20260304T090000" in feed
    assert library_occurrences(feed, WIDE) == library_occurrences(THIS_AND_FUTURE, WIDE)


CANCELLED = calendar_text(
    [
        "UID:offsite@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;VALUE=DATE:20260302",
        "DTEND;VALUE=DATE:20260303",
        "RRULE:FREQ=DAILY;COUNT=5",
        "SUMMARY:Offsite",
    ],
    [
        # Exchange writes an all-day instance's RECURRENCE-ID as local midnight.
        "UID:offsite@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;TZID=W. Europe Standard Time:20260304T000000",
        "DTSTART;VALUE=DATE:20260304",
        "DTEND;VALUE=DATE:20260305",
        "SUMMARY:Offsite",
        "STATUS:CANCELLED",
    ],
    [
        "UID:offsite@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;VALUE=DATE:20260305",
        "DTSTART;VALUE=DATE:20260305",
        "DTEND;VALUE=DATE:20260306",
        "SUMMARY:Offsite",
        "STATUS:CANCELLED",
    ],
)


def test_a_cancelled_override_deletes_its_instance(store: Store) -> None:
    account = store_resource(store, CANCELLED)
    events = read(store, account, WIDE)
    assert rendered(events) == as_read(library_occurrences(CANCELLED, WIDE))
    assert starts(events) == ["2026-03-02", "2026-03-03", "2026-03-06"]
    assert starts(read(store, account, WIDE, kind=FREE_BUSY)) == starts(events)


UNTIL_UTC = calendar_text(
    [
        "UID:holiday@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;VALUE=DATE:20260302",
        "DTEND;VALUE=DATE:20260303",
        "RRULE:FREQ=WEEKLY;UNTIL=20260316T000000Z",
        "SUMMARY:Holiday",
    ]
)


@pytest.mark.parametrize("tzid", ["Etc/UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_an_all_day_series_with_a_utc_until_ends_where_the_library_ends_it(
    store: Store, tzid: str
) -> None:
    account = store_resource(store, UNTIL_UTC)
    zone = ZoneInfo(tzid)
    for first in range(1, 20):
        lo = datetime(2026, 3, first, tzinfo=zone)
        window = (lo.astimezone(UTC), (lo + timedelta(days=3)).astimezone(UTC))
        local = (window[0].astimezone(zone), window[1].astimezone(zone))
        expected = sorted(o.start.isoformat() for o in library_occurrences(UNTIL_UTC, local))
        assert starts(read(store, account, window, tzid=tzid)) == expected
    assert starts(read(store, account, WIDE, tzid=tzid)) == [
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",  # UNTIL is midnight of the 16th: the library keeps that day
    ]


TEXT = calendar_text(
    [
        "UID:text@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART:20260302T090000Z",
        "DTEND:20260302T100000Z",
        "RRULE:FREQ=DAILY;COUNT=2",
        "SUMMARY:Planning  ",
        "DESCRIPTION:agenda\\n \t",
        "LOCATION:Room 4\t",
    ]
)


def test_text_keeps_its_trailing_whitespace(store: Store) -> None:
    account = store_resource(store, TEXT)
    events = read(store, account, WIDE)
    assert rendered(events) == as_read(library_occurrences(TEXT, WIDE))
    assert {(e["summary"], e["description"], e["location"]["description"]) for e in events} == {
        ("Planning  ", "agenda\n \t", "Room 4\t")
    }


@FEW
@given(drawn=generated_series())
def test_the_ical_feed_of_a_stored_series_expands_as_the_original(
    store: Store, drawn: Drawn
) -> None:
    note(repr(drawn))
    feed = feed_of(store, store_resource(store, drawn.ics))
    assert library_occurrences(feed, drawn.window) == library_occurrences(drawn.ics, drawn.window)
