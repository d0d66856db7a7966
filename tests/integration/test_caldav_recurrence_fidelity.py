"""End to end over a real Radicale: series read back as recurring-ical-events expands them.

Radicale holds the resources (PUT as another client would), the configured
sync engine pulls them into the store, ``GET /v1/events`` and
``GET /v1/free_busy`` serve them over real HTTP, and the reference is the
library's expansion of what Radicale itself holds (fetched back with plain GETs).
Radicale (vobject) refuses RDATE PERIOD values, so those are covered in
tests/integration/test_recurrence_reads.py instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import recurring_ical_events

from tests.fixtures.e2e import BOTH_BACKENDS, E2EAccount, radicale_resources
from tests.fixtures.ical_series import calendar_text
from tests.fixtures.radicale import RadicaleCalendar

MEETING = calendar_text(
    [
        "UID:planning@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;TZID=America/New_York:20260302T090000",
        "DTEND;TZID=America/New_York:20260302T100000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8",
        "EXDATE;TZID=America/New_York:20260304T090000",
        "RDATE;TZID=America/New_York:20260227T150000,20260320T150000",
        "RDATE:20260401T130000Z",
        "SUMMARY:Planning  ",
        "DESCRIPTION:agenda \\n",
        "LOCATION:Room 4 ",
    ],
    [
        "UID:planning@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=America/New_York:20260316T090000",
        "DTSTART;TZID=America/New_York:20260316T100000",
        "DTEND;TZID=America/New_York:20260316T113000",
        "SUMMARY:Planning (new slot) ",
    ],
    [
        "UID:planning@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;TZID=America/New_York:20260309T090000",
        "DTSTART;TZID=America/New_York:20260309T090000",
        "DTEND;TZID=America/New_York:20260309T100000",
        "SUMMARY:Planning  ",
        "STATUS:CANCELLED",
    ],
)

HOLIDAYS = calendar_text(
    [
        "UID:holidays@example.org",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;VALUE=DATE:20260303",
        "DTEND;VALUE=DATE:20260304",
        "RRULE:FREQ=WEEKLY;UNTIL=20260324T000000Z",
        "RDATE;VALUE=DATE:20260305,20260306",
        "SUMMARY:Office closed\t",
    ],
    [
        "UID:holidays@example.org",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;TZID=Europe/Berlin:20260310T000000",
        "DTSTART;VALUE=DATE:20260310",
        "DTEND;VALUE=DATE:20260311",
        "SUMMARY:Office closed\t",
        "STATUS:CANCELLED",
    ],
)

FROM, TO = date(2026, 2, 1), date(2026, 5, 1)


def _text(value: date | datetime) -> str:
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def library_view(calendar: RadicaleCalendar) -> list[tuple[str, str, str, str, str, str]]:
    """The library's occurrences of everything Radicale holds, as Read Events renders them."""
    window = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    shown = []
    for resource in radicale_resources(calendar).values():
        for component in recurring_ical_events.of(resource).between(*window):
            status = str(component.get("STATUS", "CONFIRMED")).lower()
            if status == "cancelled":
                continue
            shown.append(
                (
                    _text(component["DTSTART"].dt),
                    _text(component["DTEND"].dt),
                    str(component.get("SUMMARY", "")),
                    str(component.get("DESCRIPTION", "")),
                    str(component.get("LOCATION", "")),
                    status,
                )
            )
    return sorted(shown)


def api_view(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    return sorted(
        (
            e["start"],
            e["end"],
            e["summary"],
            e["description"],
            (e.get("location") or {}).get("description", ""),
            e["status"],
        )
        for e in events
    )


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_synced_series_read_back_as_the_library_expands_them(
    caldav_e2e: E2EAccount, radicale_calendar: RadicaleCalendar
) -> None:
    radicale_calendar.put("planning.ics", MEETING)
    radicale_calendar.put("holidays.ics", HOLIDAYS)
    caldav_e2e.sync_ok()

    expected = library_view(radicale_calendar)
    events = caldav_e2e.read(**{"from": FROM.isoformat(), "to": TO.isoformat()})
    assert api_view(events) == expected
    assert len({e["event_uid"] for e in events}) == len(events)

    # What each item above was about, spelled out.
    planning = sorted((e["start"], e["summary"]) for e in events if "Planning" in e["summary"])
    assert planning[0] == ("2026-02-27T20:00:00Z", "Planning  ")  # RDATE before DTSTART
    assert ("2026-03-09T13:00:00Z", "Planning  ") not in planning  # cancelled
    assert ("2026-03-04T14:00:00Z", "Planning  ") not in planning  # EXDATE
    assert [s for s, t in planning if t == "Planning (new slot) "] == [
        "2026-03-16T14:00:00Z",  # RANGE=THISANDFUTURE: this one and every later one
        "2026-03-18T14:00:00Z",
        "2026-03-20T20:00:00Z",  # an RDATE after it moves too (15:00 EDT, + 1 h)
        "2026-03-23T14:00:00Z",
        "2026-03-25T14:00:00Z",
        "2026-04-01T14:00:00Z",  # the UTC RDATE, moved
    ]
    holidays = sorted(e["start"] for e in events if e["summary"] == "Office closed\t")
    # UNTIL is midnight UTC of the 24th: the library keeps the 24th. 10 March is cancelled.
    assert holidays == ["2026-03-03", "2026-03-05", "2026-03-06", "2026-03-17", "2026-03-24"]

    query = {"from": FROM.isoformat(), "to": TO.isoformat(), "tzid": "Etc/UTC"}
    response = caldav_e2e.http.request(
        "GET", "/v1/free_busy", params=query, headers=caldav_e2e.headers, json={}
    )
    assert response.status_code == 200, response.text
    busy = sorted((b["start"], b["end"]) for b in response.json()["free_busy"])
    assert busy == sorted((start, end) for start, end, *_ in expected)
