"""``last_modified`` under concurrent writers: a polling client never misses a change.

Writers upsert over HTTP from several threads (so several changes commit within
the same second) while a reader polls with ``last_modified`` set to the
highest ``updated`` it has seen so far, following every page. The union of
what the reader saw must contain the final version of every event.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
import pycronofy

from tests.fixtures.api import ApiServer, AppCalendar, cronofy_client

WRITERS = 3
EVENTS_PER_WRITER = 6
VERSIONS = 8
START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


def _writer_once(base_url: str, cal: AppCalendar, event_id: str, errors: list[str]) -> None:
    body = {
        "event_id": event_id,
        "summary": event_id,
        "start": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    r = httpx.post(
        f"{base_url}/v1/calendars/{cal.calendar_id}/events", json=body, headers=cal.headers
    )
    if r.status_code != 202:
        errors.append(r.text)


def _writer(base_url: str, cal: AppCalendar, writer: int, errors: list[str]) -> None:
    with httpx.Client(base_url=base_url, timeout=30, headers=cal.headers) as http:
        for version in range(VERSIONS):
            for j in range(EVENTS_PER_WRITER):
                body = {
                    "event_id": f"w{writer}-e{j}",
                    "summary": f"w{writer}-e{j}-v{version}",
                    "start": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end": (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                r = http.post(f"/v1/calendars/{cal.calendar_id}/events", json=body)
                if r.status_code != 202:
                    errors.append(r.text)


def test_last_modified_never_misses_concurrent_changes(
    api_server: ApiServer, app_calendar: AppCalendar
) -> None:
    reader: pycronofy.Client = cronofy_client(api_server.base_url, app_calendar.access_token)
    seen: dict[str, set[str]] = defaultdict(set)
    cursor: str | None = None
    polls = 0
    errors: list[str] = []

    def poll() -> None:
        nonlocal cursor, polls
        events = reader.read_events(
            tzid="Etc/UTC", last_modified=cursor, include_managed=True, include_deleted=True
        ).all()
        polls += 1
        for event in events:
            seen[event["event_id"]].add(event["summary"])
            if cursor is None or event["updated"] > cursor:
                cursor = event["updated"]

    threads = [
        threading.Thread(target=_writer, args=(api_server.base_url, app_calendar, w, errors))
        for w in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        poll()
        time.sleep(0.005)
    for thread in threads:
        thread.join()
    poll()  # one more incremental read, from the cursor, never a fresh full read

    assert errors == []
    assert polls >= 3  # the reader really interleaved with the writers
    expected = {
        f"w{w}-e{j}": f"w{w}-e{j}-v{VERSIONS - 1}"
        for w in range(WRITERS)
        for j in range(EVENTS_PER_WRITER)
    }
    missing = {eid: final for eid, final in expected.items() if final not in seen[eid]}
    assert missing == {}
    # Incremental reads really are incremental: once the clock has moved past the
    # cursor's second, a read from the newest change returns that change alone.
    # (Within one second everything is "on or after" the cursor, so the check
    # must not depend on how fast the writers ran.)
    assert cursor is not None
    while datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") <= cursor:
        time.sleep(0.05)
    _writer_once(api_server.base_url, app_calendar, "late", errors)
    poll()
    last = reader.read_events(
        tzid="Etc/UTC", last_modified=cursor, include_managed=True, include_deleted=True
    ).all()
    assert [e["event_id"] for e in last] == ["late"]
    assert all(e["updated"] >= cursor for e in last)
