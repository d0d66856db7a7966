"""Graph event JSON <-> the model: zones through icalendar's CLDR table, showAs, bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime

from calsync.model import EventContent, Location
from calsync.providers._graph_convert import (
    graph_zone_name,
    iana_name,
    origin_of,
    to_body,
    to_content,
)


def test_windows_zone_names_map_to_iana_and_back() -> None:
    assert iana_name("Pacific Standard Time") == "America/Los_Angeles"
    assert iana_name("W. Europe Standard Time") == "Europe/Berlin"
    assert iana_name("UTC") == "Etc/UTC"
    assert iana_name("Europe/Paris") == "Europe/Paris"  # an IANA name Graph accepted as is
    assert iana_name("tzone://Microsoft/Custom") is None
    assert graph_zone_name("Europe/Berlin") == "W. Europe Standard Time"
    assert graph_zone_name("America/Los_Angeles") == "Pacific Standard Time"


def test_an_outlook_event_reads_as_its_instants_in_its_own_zone() -> None:
    item = {
        "id": "AAMk1",
        "type": "singleInstance",
        "subject": "Review",
        "start": {"dateTime": "2026-12-14T16:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-14T17:30:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Pacific Standard Time",
        "body": {"contentType": "text", "content": "line one\r\nline two"},
        "location": {"displayName": "Room 4"},
        "showAs": "tentative",
        "sensitivity": "private",
        "transactionId": "calsync:evt_abc",
    }
    content = to_content(item)
    assert content.start == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)
    assert content.end == datetime(2026, 12, 14, 17, 30, tzinfo=UTC)
    assert content.tzid == "America/Los_Angeles"
    assert content.description == "line one\nline two"
    assert content.location == Location(description="Room 4")
    assert (content.status, content.transparency, content.private) == ("tentative", "opaque", True)
    assert origin_of(item) == "evt_abc"


def test_all_day_events_keep_their_dates() -> None:
    item = {
        "id": "AAMk2",
        "type": "singleInstance",
        "isAllDay": True,
        "start": {"dateTime": "2026-12-24T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-27T00:00:00.0000000", "timeZone": "UTC"},
        "showAs": "free",
    }
    content = to_content(item)
    assert (content.start, content.end) == (date(2026, 12, 24), date(2026, 12, 27))
    assert content.transparency == "transparent"


def test_bodies_send_local_times_with_the_windows_zone_and_never_attendees() -> None:
    content = EventContent(
        summary="Planning",
        start=datetime(2026, 12, 14, 8, 0, tzinfo=UTC),
        end=datetime(2026, 12, 14, 9, 0, tzinfo=UTC),
        tzid="Europe/Berlin",
        transparency="transparent",
        status="tentative",
    )
    body = to_body(content, series=True)
    assert body["start"] == {
        "dateTime": "2026-12-14T09:00:00",
        "timeZone": "W. Europe Standard Time",
    }
    assert body["showAs"] == "free"  # Graph's one field: free/busy wins over tentative
    assert body["recurrence"] is None
    assert "attendees" not in body
