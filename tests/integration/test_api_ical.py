"""``GET /ical/{token}.ics``: a valid RFC 5545 feed, parsed back with icalendar, with ETags."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import icalendar
import pycronofy
import recurring_ical_events

from calsync.model import EventContent, RemoteEvent
from tests.fixtures.api import ApiServer, AppCalendar, get


def feed_url(http: httpx.Client, cal: AppCalendar) -> str:
    calendars = get(http, "/v1/calendars", cal.access_token).json()["calendars"]
    (calendar,) = [c for c in calendars if c["calendar_id"] == cal.calendar_id]
    url: str = calendar["ical_url"]
    return url


def test_feed_parses_back_with_etag(
    api_server: ApiServer, http: httpx.Client, cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    cal_id = app_calendar.calendar_id
    cronofy.upsert_event(
        cal_id,
        {
            "event_id": "single",
            "summary": "Single",
            "description": "line one\nline two, with; punctuation",
            "start": "2027-01-10T09:00:00Z",
            "end": "2027-01-10T10:00:00Z",
            "location": {"description": "Room 7"},
            "attendees": {"invite": [{"email": "a@example.com", "display_name": "A"}]},
        },
    )
    cronofy.upsert_event(
        cal_id,
        {"event_id": "day", "summary": "Day", "start": "2027-01-11", "end": "2027-01-12"},
    )
    cronofy.upsert_event(
        cal_id,
        {
            "event_id": "weekly",
            "summary": "Weekly",
            "tzid": "America/New_York",
            "start": "2027-03-03T09:00:00",
            "end": "2027-03-03T09:30:00",
            "recurrence": [
                "RRULE:FREQ=WEEKLY;COUNT=4",
                "EXDATE;TZID=America/New_York:20270310T090000",
            ],
        },
    )
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        record = uow.calendars.get(account.pk, cal_id)
        master = uow.events.get_in_calendar(record.pk, event_id="weekly")
        assert master is not None
        # An override of the 2027-03-17 occurrence, as a provider would send it.
        uow.events.upsert_remote(
            record.pk,
            RemoteEvent(
                remote_id="master", content=master.content, origin_event_uid=master.event_uid
            ),
        )
        uow.events.upsert_remote(
            record.pk,
            RemoteEvent(
                remote_id="override",
                master_remote_id="master",
                content=EventContent(
                    summary="Weekly (moved)",
                    start=datetime(2027, 3, 17, 18, tzinfo=UTC),
                    end=datetime(2027, 3, 17, 18, 30, tzinfo=UTC),
                    original_start=datetime(2027, 3, 17, 13, tzinfo=UTC),
                ),
            ),
        )
    url = feed_url(http, app_calendar)
    assert url.startswith(api_server.base_url + "/ical/") and url.endswith(".ics")
    r = httpx.get(url)  # no Authorization header at all
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    cal = icalendar.Calendar.from_ical(r.content)
    assert str(cal["VERSION"]) == "2.0"
    events = {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"Single", "Day", "Weekly", "Weekly (moved)"}
    single = events["Single"]
    assert datetime(2027, 1, 10, 9, tzinfo=UTC) == single.decoded("DTSTART")
    assert str(single["DESCRIPTION"]) == "line one\nline two, with; punctuation"
    assert str(single["LOCATION"]) == "Room 7"
    assert "a@example.com" in str(single["ATTENDEE"])
    assert date(2027, 1, 11) == events["Day"].decoded("DTSTART")
    assert "RRULE" in events["Weekly"] and "EXDATE" in events["Weekly"]
    moved = events["Weekly (moved)"]
    assert str(moved["UID"]) == str(events["Weekly"]["UID"])
    assert "RECURRENCE-ID" in moved
    # A generic consumer expands the series correctly (DST: 14:00Z, then 13:00Z).
    occurrences = recurring_ical_events.of(cal).between(
        datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    )
    starts = sorted(o.DTSTART.astimezone(UTC) for o in occurrences)
    assert starts == [
        datetime(2027, 3, 3, 14, tzinfo=UTC),
        datetime(2027, 3, 17, 18, tzinfo=UTC),
        datetime(2027, 3, 24, 13, tzinfo=UTC),
    ]

    # Conditional GET: unchanged -> 304; after a change -> 200 with a new ETag.
    r304 = httpx.get(url, headers={"If-None-Match": etag})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
    assert httpx.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    cronofy.delete_event(cal_id, "day")
    r2 = httpx.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 200 and r2.headers["etag"] != etag
    assert "Day" not in {
        str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(r2.content).walk("VEVENT")
    }


def test_unknown_or_deleted_feed_is_404(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    assert http.get("/ical/not-a-token.ics").status_code == 404
    url = feed_url(http, app_calendar)
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        uow.calendars.soft_delete(uow.calendars.get(account.pk, app_calendar.calendar_id).pk)
    r = httpx.get(url)
    assert r.status_code == 404 and r.json()["errors"]["base"][0]["key"] == "errors.not_found"
