"""A calendar above Radicale's REPORT size limit: one whole-calendar REPORT is refused,
calsync's batched sync still gets every event.

What Radicale 3.9 limits (``radicale/app/report.py``, ``xml_report``): while it
builds any XML REPORT response it counts the VEVENTs of every ``calendar-data``
it serves and raises "REPORT occurrences limit of N hit" (answered as 400 Bad
Request) once the count passes ``[reporting] max_expand_occurrence`` (default
10,000). Despite its name the setting caps every such response, expanded or
not: calendar-query, calendar-multiget and sync-collection alike. Responses with
etags only (``getetag``) are never counted, so calsync's etag-only
sync-collection listing is unaffected and only the multigets must stay small.

The suite's Radicale runs with a limit of `REPORT_EVENT_LIMIT` (300), so this
calendar of 320 events (and the 600-event batching test in test_caldav_sync.py)
is above it, while calsync's multiget batches of 250 stay under it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync.errors import ProviderError
from calsync.providers.base import SyncWindow
from calsync.providers.caldav import DEFAULT_MULTIGET_BATCH, CalDAVProvider
from tests.fixtures.radicale import REPORT_EVENT_LIMIT, RadicaleCalendar, vevent_ics

WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
COUNT = REPORT_EVENT_LIMIT + 20
NAMESPACES = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
CALENDAR_DATA = "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
ETAG_ONLY = "<D:prop><D:getetag/></D:prop>"


def calendar_query(prop: str) -> str:
    """The whole calendar in one calendar-query REPORT, as vdirsyncer-style clients ask."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><C:calendar-query {NAMESPACES}>{prop}'
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/>'
        "</C:comp-filter></C:filter></C:calendar-query>"
    )


def sync_collection(prop: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><D:sync-collection {NAMESPACES}>'
        f"<D:sync-token/><D:sync-level>1</D:sync-level>{prop}</D:sync-collection>"
    )


def report(calendar: RadicaleCalendar, body: str) -> tuple[int, str]:
    response = calendar.server.request(
        "REPORT",
        calendar.url,
        body,
        {"Content-Type": "application/xml; charset=utf-8", "Depth": "1"},
    )
    return response.status_code, response.text


def provider_for(calendar: RadicaleCalendar, **options: object) -> CalDAVProvider:
    return CalDAVProvider(
        calendar.server.principal_url,
        username=calendar.server.username,
        password=calendar.server.password,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def large_calendar(radicale_calendar: RadicaleCalendar) -> RadicaleCalendar:
    radicale_calendar.write_files(
        {
            f"big-{n:04d}.ics": vevent_ics(
                f"big-{n}",
                f"DTSTAMP:20260101T000000Z\nDTSTART:202603{1 + n % 28:02d}T140000Z\n"
                f"DTEND:202603{1 + n % 28:02d}T150000Z\nSUMMARY:Big {n}",
            )
            for n in range(COUNT)
        }
    )
    return radicale_calendar


def test_one_report_for_the_whole_calendar_is_refused_but_the_batched_sync_succeeds(
    large_calendar: RadicaleCalendar,
) -> None:
    assert DEFAULT_MULTIGET_BATCH < REPORT_EVENT_LIMIT < COUNT

    provider = provider_for(large_calendar)
    try:
        pages = list(provider.pull(large_calendar.url, None, WINDOW))
    finally:
        provider.close()
    assert pages[-1].final and pages[-1].full_listing
    assert len({e.remote_id for p in pages for e in p.changed}) == COUNT

    status, text = report(large_calendar, calendar_query(CALENDAR_DATA))
    assert status == 400, f"Radicale served {COUNT} events in one REPORT: {text[:200]}"
    # The same limit covers a sync-collection that asks for the data inline ...
    assert report(large_calendar, sync_collection(CALENDAR_DATA))[0] == 400
    # ... but never an etag-only listing, which is all calsync's sync-collection asks for.
    status, text = report(large_calendar, calendar_query(ETAG_ONLY))
    assert status == 207 and text.count("getetag>") >= COUNT


def test_a_multiget_batch_above_the_limit_is_refused(large_calendar: RadicaleCalendar) -> None:
    # Proves the batching above is what keeps calsync under the limit.
    provider = provider_for(large_calendar, multiget_batch=COUNT)
    try:
        with pytest.raises(ProviderError):
            list(provider.pull(large_calendar.url, None, WINDOW))
    finally:
        provider.close()
