"""Read Events and Free/Busy: paging, expansion, DST, localized times, filters, ownership."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pycronofy
import pytest

from calsync.model import EventContent, RemoteEvent
from calsync.store import CalendarRecord, Store
from tests.fixtures.api import (
    ApiServer,
    AppCalendar,
    create_app_calendar,
    cronofy_client,
    get,
    run_api_server,
)

PAGE = 7
SOON = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2)


@pytest.fixture
def small_pages(store_url: str) -> Iterator[ApiServer]:
    with run_api_server(store_url, page_size=PAGE) as server:
        yield server


@pytest.fixture
def small(
    small_pages: ApiServer,
) -> Iterator[tuple[ApiServer, AppCalendar, pycronofy.Client, httpx.Client]]:
    with httpx.Client(base_url=small_pages.base_url, timeout=15) as http:
        cal = create_app_calendar(http, "reads")
        client = cronofy_client(small_pages.base_url, cal.access_token, cal.refresh_token)
        yield small_pages, cal, client, http


def calendar_of(store: Store, cal: AppCalendar) -> CalendarRecord:
    with store.read() as uow:
        account = uow.accounts.get_by_sub(cal.sub)
        return uow.calendars.get(account.pk, cal.calendar_id)


def timed(summary: str, start: datetime, minutes: int = 60, **kw: Any) -> EventContent:
    return EventContent(summary=summary, start=start, end=start + timedelta(minutes=minutes), **kw)


def test_pycronofy_reads_all_pages(
    small: tuple[ApiServer, AppCalendar, pycronofy.Client, httpx.Client],
) -> None:
    server, cal, client, http = small
    record = calendar_of(server.store, cal)
    with server.store.write() as uow:
        uow.events.upsert_managed_many(
            record.pk, [(f"e{i:02d}", timed(f"s{i}", SOON + timedelta(hours=i))) for i in range(23)]
        )
    pages = client.read_events(tzid="Etc/UTC", include_managed=True)
    assert pages.current == 1 and pages.total >= 2 and "next_page" in pages.json()["pages"]
    everything = pages.all()
    assert sorted(e["event_id"] for e in everything) == [f"e{i:02d}" for i in range(23)]
    assert pages.current == pages.total == 4  # ceil(23 / 7), exact on the last page
    # next_page is an absolute URL on our own server, with an opaque token.
    first = get(http, "/v1/events?tzid=Etc/UTC&include_managed=true", cal.access_token).json()
    url = first["pages"]["next_page"]
    assert url.startswith(server.base_url + "/v1/events/pages/")
    assert len(first["events"]) == PAGE


def test_exact_multiple_of_page_size(
    small: tuple[ApiServer, AppCalendar, pycronofy.Client, httpx.Client],
) -> None:
    server, cal, client, _ = small
    record = calendar_of(server.store, cal)
    with server.store.write() as uow:
        uow.events.upsert_managed_many(
            record.pk, [(f"m{i}", timed("x", SOON)) for i in range(2 * PAGE)]
        )
    pages = client.read_events(tzid="Etc/UTC", include_managed=True)
    assert len(pages.all()) == 2 * PAGE
    assert pages.current == pages.total == 2
    empty = client.read_events(
        tzid="Etc/UTC", only_managed=True, from_date="2000-01-01", to_date="2000-01-02"
    )
    assert empty.all() == [] and empty.current == empty.total == 1


def test_total_is_the_real_count_and_the_same_on_every_page_of_a_walk(
    small: tuple[ApiServer, AppCalendar, pycronofy.Client, httpx.Client],
) -> None:
    """``pages.total`` is counted when the walk starts and carried: constant, equal to
    the pages walked, while events are created, changed and deleted between pages;
    every event that exists at the end of the walk has been read."""
    server, cal, _, http = small
    record = calendar_of(server.store, cal)

    def upsert(*event_ids: str) -> None:
        with server.store.write() as uow:
            uow.events.upsert_managed_many(
                record.pk, [(e, timed(f"s-{e}", SOON + timedelta(hours=1))) for e in event_ids]
            )

    upsert(*(f"w{i:02d}" for i in range(23)))  # ceil(23 / 7) = 4 pages

    def between_pages(read: int) -> None:
        if read == 1:
            upsert("n1", "n2", "n3")  # three new events
            upsert("w00")  # one already read changes
        elif read == 2:
            _delete(server.store, record.pk, "w20")  # one not read yet goes
        elif read == 3:
            upsert("n4")

    path = "/v1/events?tzid=Etc/UTC&include_managed=true"
    totals: list[int] = []
    seen: set[str] = set()
    while True:
        body = get(http, path, cal.access_token).json()
        totals.append(body["pages"]["total"])
        assert body["pages"]["current"] == len(totals)
        seen.update(e["event_id"] for e in body["events"])
        if not body["pages"]["current"] < body["pages"]["total"]:
            assert "next_page" not in body["pages"]
            break
        between_pages(len(totals))
        path = urlsplit(body["pages"]["next_page"]).path
    assert totals == [4, 4, 4, 4]
    with server.store.read() as uow:
        live = {e.event_id for e in uow.events.list_calendar(record.pk) if not e.deleted}
    assert live <= seen and "n4" in seen and "w20" not in live


def _delete(store: Store, calendar_pk: int, event_id: str) -> None:
    with store.write() as uow:
        uow.events.delete_managed(calendar_pk, event_id)


def test_a_walk_whose_rows_vanish_still_ends_at_its_total(
    small: tuple[ApiServer, AppCalendar, pycronofy.Client, httpx.Client],
) -> None:
    """Rows deleted ahead of the cursor leave pages empty; pycronofy still walks to the end."""
    server, cal, client, _ = small
    record = calendar_of(server.store, cal)
    with server.store.write() as uow:
        uow.events.upsert_managed_many(
            record.pk, [(f"v{i:02d}", timed("x", SOON)) for i in range(3 * PAGE)]
        )
    pages = client.read_events(tzid="Etc/UTC", include_managed=True)
    assert (pages.current, pages.total) == (1, 3)
    for i in range(PAGE, 3 * PAGE):
        _delete(server.store, record.pk, f"v{i:02d}")
    everything = pages.all()  # follows next_page while current < total
    assert sorted(e["event_id"] for e in everything) == [f"v{i:02d}" for i in range(PAGE)]
    assert pages.current == pages.total == 3


def test_page_token_is_bound_to_account_and_signed(
    small: tuple[ApiServer, AppCalendar, pycronofy.Client, httpx.Client],
) -> None:
    server, cal, _, http = small
    record = calendar_of(server.store, cal)
    with server.store.write() as uow:
        uow.events.upsert_managed_many(
            record.pk, [(f"t{i}", timed("x", SOON)) for i in range(PAGE + 1)]
        )
    first = get(http, "/v1/events?tzid=Etc/UTC&include_managed=True", cal.access_token).json()
    path = urlsplit(first["pages"]["next_page"]).path
    assert get(http, path, cal.access_token).status_code == 200
    other = create_app_calendar(http, "someone-else")
    r = get(http, path, other.access_token)
    assert r.status_code == 404 and r.json()["errors"]["base"][0]["key"] == "errors.not_found"
    token = path.rsplit("/", 1)[1]
    body, sig = token.split(".")
    forged = f"{body[:-2]}AA.{sig}"
    assert get(http, f"/v1/events/pages/{forged}", cal.access_token).status_code == 404
    assert get(http, path.replace("/events/", "/free_busy/"), cal.access_token).status_code == 404
    assert get(http, path, None).status_code == 401


def test_params_validation(http: httpx.Client, app_calendar: AppCalendar) -> None:
    r = get(http, "/v1/events", app_calendar.access_token)
    assert r.status_code == 422 and r.json()["errors"]["tzid"][0]["key"] == "errors.required"
    r = get(http, "/v1/free_busy?tzid=Not/AZone", app_calendar.access_token)
    assert (
        r.status_code == 422 and r.json()["errors"]["tzid"][0]["key"] == "errors.invalid_timezone"
    )
    r = get(http, "/v1/events?tzid=Etc/UTC&from=2026-13-40", app_calendar.access_token)
    assert r.status_code == 422 and "from" in r.json()["errors"]
    r = get(http, "/v1/events?tzid=Etc/UTC&include_deleted=maybe", app_calendar.access_token)
    assert r.status_code == 422
    r = get(http, "/v1/events?tzid=Etc/UTC&calendar_ids[]=cal_nope", app_calendar.access_token)
    assert r.status_code == 404


def test_include_and_only_managed(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    record = calendar_of(api_server.store, app_calendar)
    with api_server.store.write() as uow:
        uow.events.upsert_managed(record.pk, "mine", timed("managed", SOON))
        uow.events.upsert_remote(
            record.pk, RemoteEvent(remote_id="r", content=timed("external", SOON))
        )

    def summaries(query: str) -> list[str]:
        r = get(http, f"/v1/events?tzid=Etc/UTC{query}", app_calendar.access_token)
        assert r.status_code == 200, r.text
        return sorted(e["summary"] for e in r.json()["events"])

    assert summaries("") == ["external"]  # include_managed defaults to false, as in Cronofy
    assert summaries("&include_managed=True") == ["external", "managed"]
    assert summaries("&only_managed=true") == ["managed"]
    assert summaries(f"&include_managed=1&calendar_ids[]={app_calendar.calendar_id}") == [
        "external",
        "managed",
    ]


def test_dst_new_york(cronofy: pycronofy.Client, app_calendar: AppCalendar) -> None:
    # US DST 2027 starts on March 14: 09:00 EST = 14:00Z before, 09:00 EDT = 13:00Z after.
    cal = app_calendar.calendar_id
    for event_id, day in (("winter", "2027-03-10"), ("summer", "2027-03-17")):
        cronofy.upsert_event(
            cal,
            {
                "event_id": event_id,
                "summary": event_id,
                "start": {"time": f"{day}T09:00:00", "tzid": "America/New_York"},
                "end": {"time": f"{day}T10:00:00", "tzid": "America/New_York"},
            },
        )
    cronofy.upsert_event(
        cal,
        {
            "event_id": "weekly",
            "summary": "weekly",
            "tzid": "America/New_York",
            "start": "2027-03-03T09:00:00",
            "end": "2027-03-03T09:30:00",
            "recurrence": {"rules": ["RRULE:FREQ=WEEKLY;COUNT=4"]},
        },
    )
    events = cronofy.read_events(
        tzid="America/New_York", from_date="2027-03-01", to_date="2027-04-01", include_managed=True
    ).all()
    single = {e["event_id"]: e["start"] for e in events if not e["recurring"]}
    assert single == {"winter": "2027-03-10T14:00:00Z", "summer": "2027-03-17T13:00:00Z"}
    weekly = sorted((e for e in events if e["recurring"]), key=lambda e: e["start"])
    assert [e["start"] for e in weekly] == [
        "2027-03-03T14:00:00Z",
        "2027-03-10T14:00:00Z",
        "2027-03-17T13:00:00Z",
        "2027-03-24T13:00:00Z",
    ]
    assert {e["event_id"] for e in weekly} == {"weekly"}
    assert len({e["event_uid"] for e in weekly}) == 4
    localized = cronofy.read_events(
        tzid="America/New_York",
        from_date="2027-03-01",
        to_date="2027-04-01",
        only_managed=True,
        localized_times=True,
    ).all()
    starts = sorted(e["start"] for e in localized if not e["recurring"])
    assert starts == ["2027-03-10T09:00:00-05:00", "2027-03-17T09:00:00-04:00"]


def test_series_window_overrides_and_cancellation(
    api_server: ApiServer, cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    record = calendar_of(api_server.store, app_calendar)
    first = datetime(2027, 1, 4, 9, tzinfo=UTC)
    master = RemoteEvent(
        remote_id="series",
        content=timed("daily", first, recurrence=("RRULE:FREQ=DAILY;COUNT=10",)),
    )
    moved = RemoteEvent(
        remote_id="series-moved",
        master_remote_id="series",
        content=timed(
            "moved", first + timedelta(days=1, hours=5), original_start=first + timedelta(days=1)
        ),
    )
    cancelled = RemoteEvent(
        remote_id="series-cancel",
        master_remote_id="series",
        content=timed(
            "cancel",
            first + timedelta(days=2),
            original_start=first + timedelta(days=2),
            status="cancelled",
        ),
    )
    with api_server.store.write() as uow:
        uow.events.upsert_remote_many(record.pk, [master, moved, cancelled])
    events = cronofy.read_events(tzid="Etc/UTC", from_date="2027-01-05", to_date="2027-01-09").all()
    got = sorted((e["start"], e["summary"]) for e in events)
    assert got == [
        ("2027-01-05T14:00:00Z", "moved"),
        ("2027-01-07T09:00:00Z", "daily"),
        ("2027-01-08T09:00:00Z", "daily"),
    ]
    uids = [e["event_uid"] for e in events]
    assert len(set(uids)) == 3
    # The override keeps the identity of the occurrence it replaced.
    moved_uid = next(e["event_uid"] for e in events if e["summary"] == "moved")
    assert moved_uid.endswith(".20270105T090000Z")


def test_all_day_and_free_busy(
    api_server: ApiServer, cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    record = calendar_of(api_server.store, app_calendar)
    day = SOON.date() + timedelta(days=1)
    with api_server.store.write() as uow:
        uow.events.upsert_remote_many(
            record.pk,
            [
                RemoteEvent(remote_id="busy", content=timed("busy", SOON)),
                RemoteEvent(remote_id="tent", content=timed("tent", SOON, status="tentative")),
                RemoteEvent(
                    remote_id="free", content=timed("free", SOON, transparency="transparent")
                ),
                RemoteEvent(
                    remote_id="day",
                    content=EventContent(summary="day", start=day, end=day + timedelta(days=1)),
                ),
                RemoteEvent(remote_id="gone", content=timed("gone", SOON, status="cancelled")),
            ],
        )
        uow.events.delete_remote_many(record.pk, ["gone"])
    blocks = cronofy.read_free_busy(tzid="Europe/Berlin").all()
    statuses = sorted(b["free_busy_status"] for b in blocks)
    assert statuses == ["busy", "busy", "free", "tentative"]
    assert all(b["calendar_id"] == app_calendar.calendar_id for b in blocks)
    all_day = next(b for b in blocks if len(b["start"]) == 10)
    assert all_day["start"] == day.isoformat()
    # An all-day event belongs to its local date: a window of the next day excludes it.
    after = (day + timedelta(days=1)).isoformat()
    later = cronofy.read_events(
        tzid="Pacific/Auckland", from_date=after, to_date=(day + timedelta(days=3)).isoformat()
    ).all()
    assert "day" not in [e["summary"] for e in later]
    same = cronofy.read_events(
        tzid="Pacific/Auckland", from_date=day.isoformat(), to_date=after
    ).all()
    assert "day" in [e["summary"] for e in same]


def test_free_busy_pages(
    small: tuple[ApiServer, AppCalendar, pycronofy.Client, httpx.Client],
) -> None:
    server, cal, client, _ = small
    record = calendar_of(server.store, cal)
    with server.store.write() as uow:
        uow.events.upsert_remote_many(
            record.pk,
            [
                RemoteEvent(remote_id=f"fb{i}", content=timed("x", SOON + timedelta(hours=i)))
                for i in range(17)
            ],
        )
    pages = client.read_free_busy(tzid="Etc/UTC")
    blocks = pages.all()
    assert len(blocks) == 17 and pages.total == 3
    assert (
        "/v1/free_busy/pages/" in client.read_free_busy(tzid="Etc/UTC").json()["pages"]["next_page"]
    )


def test_date_window_is_in_tzid(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    record = calendar_of(api_server.store, app_calendar)
    # 2027-02-01T23:30Z is Feb 2 in Tokyo.
    with api_server.store.write() as uow:
        uow.events.upsert_remote(
            record.pk,
            RemoteEvent(
                remote_id="late",
                content=timed("late", datetime(2027, 2, 1, 23, 30, tzinfo=UTC), 15),
            ),
        )

    def count(tzid: str, day: date) -> int:
        q = f"/v1/events?tzid={tzid}&from={day}&to={day + timedelta(days=1)}"
        return len(get(http, q, app_calendar.access_token).json()["events"])

    assert count("Asia/Tokyo", date(2027, 2, 2)) == 1
    assert count("Asia/Tokyo", date(2027, 2, 1)) == 0
    assert count("Etc/UTC", date(2027, 2, 1)) == 1
