"""Event writes through pycronofy and raw HTTP: upsert, delete, bulk delete, batch."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pycronofy
import pytest
from pycronofy.batch import BatchBuilder
from pycronofy.exceptions import PyCronofyPartialSuccessError

from calsync.model import EventContent, RemoteEvent
from tests.fixtures.api import ApiServer, AppCalendar, bearer, get

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


def ext(summary: str) -> EventContent:
    return EventContent(summary=summary, start=SOON, end=SOON + timedelta(hours=1))


def event(event_id: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "summary": f"summary {event_id}",
        "start": SOON,
        "end": SOON + timedelta(hours=1),
    }
    body.update(extra)
    return body


def read_all(cronofy: pycronofy.Client, **kw: Any) -> list[dict[str, Any]]:
    kw.setdefault("tzid", "Etc/UTC")
    return list(cronofy.read_events(**kw).all())


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["event_id"]: e for e in events if "event_id" in e}


def test_upsert_then_read_back(cronofy: pycronofy.Client, app_calendar: AppCalendar) -> None:
    cronofy.upsert_event(
        app_calendar.calendar_id,
        event(
            "e1",
            description="d",
            location={"description": "Room 1", "lat": "51.5", "long": "-0.12"},
            transparency="transparent",
            attendees={"invite": [{"email": "a@example.com", "display_name": "A"}]},
            reminders=[{"minutes": 10}],
            conferencing={"profile_id": "default"},
        ),
    )
    (got,) = read_all(cronofy)
    assert got["event_id"] == "e1"
    assert got["calendar_id"] == app_calendar.calendar_id
    assert got["event_uid"].startswith("evt_")
    assert got["start"] == SOON.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got["location"] == {"description": "Room 1", "lat": "51.5", "long": "-0.12"}
    assert got["transparency"] == "transparent"
    assert got["attendees"] == [
        {"email": "a@example.com", "display_name": "A", "status": "needs_action"}
    ]
    assert got["deleted"] is False and got["recurring"] is False
    assert got["options"]["update"] is True
    # Upsert by the same event_id updates in place; attendees merge invite/reject.
    cronofy.upsert_event(
        app_calendar.calendar_id,
        event("e1", summary="renamed", attendees={"reject": [{"email": "a@example.com"}]}),
    )
    (got2,) = read_all(cronofy)
    assert got2["event_uid"] == got["event_uid"]
    assert got2["summary"] == "renamed" and got2["attendees"] == []


def test_upsert_response_is_202_json(http: httpx.Client, app_calendar: AppCalendar) -> None:
    body = {
        "event_id": "raw",
        "summary": "s",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T10:00:00.000Z",
    }
    r = http.post(
        f"/v1/calendars/{app_calendar.calendar_id}/events", json=body, headers=app_calendar.headers
    )
    assert r.status_code == 202 and r.json() == {}


@pytest.mark.parametrize(
    ("patch", "field", "key"),
    [
        ({"summary": None}, "summary", "errors.required"),
        ({"event_id": ""}, "event_id", "errors.required"),
        ({"summary": "x" * 1025}, "summary", "errors.too_long"),
        ({"description": "x" * 4097}, "description", "errors.too_long"),
        ({"start": "2026-12-01T09:00:00.123Z"}, "start", "errors.invalid"),
        ({"start": None}, "start", "errors.required"),
        ({"end": "2026-11-30T09:00:00Z"}, "end", "errors.invalid"),
        ({"tzid": "Moon/Base"}, "tzid", "errors.invalid_timezone"),
        ({"transparency": "foggy"}, "transparency", "errors.invalid"),
        ({"recurrence": {"rules": ["SUMMARY:x"]}}, "recurrence", "errors.invalid"),
        ({"location": {"lat": "north"}}, "location.lat", "errors.invalid"),
    ],
)
def test_upsert_validation_422(
    http: httpx.Client, app_calendar: AppCalendar, patch: dict[str, Any], field: str, key: str
) -> None:
    body = {
        "event_id": "v",
        "summary": "s",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T10:00:00Z",
    }
    body.update(patch)
    body = {k: v for k, v in body.items() if v is not None}
    r = http.post(
        f"/v1/calendars/{app_calendar.calendar_id}/events", json=body, headers=app_calendar.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][field][0]["key"] == key
    assert get(http, "/v1/events?tzid=Etc/UTC", app_calendar.access_token).json()["events"] == []


def test_upsert_forms_time_date_tzid(cronofy: pycronofy.Client, app_calendar: AppCalendar) -> None:
    cal = app_calendar.calendar_id
    day = SOON.date()
    zoned_day = day + timedelta(days=7)
    cronofy.upsert_event(cal, event("allday", start=day, end=day + timedelta(days=1)))
    cronofy.upsert_event(
        cal,
        event(
            "zoned",
            start={"time": f"{zoned_day}T09:00:00", "tzid": "Europe/Paris"},
            end={"time": f"{zoned_day}T10:00:00", "tzid": "Europe/Paris"},
        ),
    )
    # Dates relative to today, so the test never ages out of its window.
    window = {"from_date": str(day - timedelta(days=30)), "to_date": str(day + timedelta(days=60))}
    got = by_id(read_all(cronofy, **window))
    assert got["allday"]["start"] == day.isoformat()
    assert got["allday"]["end"] == (day + timedelta(days=1)).isoformat()
    paris_nine = datetime.combine(zoned_day, time(9), ZoneInfo("Europe/Paris"))
    assert got["zoned"]["start"] == paris_nine.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_readonly_and_deleted_calendar_refused(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        profile = uow.profiles.list(account.pk)[0]
        ro = uow.calendars.create(profile.pk, "read only", readonly=True)
        gone = uow.calendars.create(profile.pk, "gone")
        uow.calendars.soft_delete(gone.pk)
    body = {
        "event_id": "x",
        "summary": "s",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T10:00:00Z",
    }
    r = http.post(f"/v1/calendars/{ro.calendar_id}/events", json=body, headers=app_calendar.headers)
    assert (
        r.status_code == 403 and r.json()["errors"]["base"][0]["key"] == "errors.calendar_readonly"
    )
    r = http.post(
        f"/v1/calendars/{gone.calendar_id}/events", json=body, headers=app_calendar.headers
    )
    assert r.status_code == 422
    r = http.post("/v1/calendars/cal_nope/events", json=body, headers=app_calendar.headers)
    assert r.status_code == 404
    with api_server.store.read() as uow:
        assert uow.events.list_calendar(ro.pk, include_deleted=True) == []
        assert uow.events.list_calendar(gone.pk, include_deleted=True) == []


def test_event_lands_in_store_managed_and_pending(
    api_server: ApiServer, cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    cronofy.upsert_event(app_calendar.calendar_id, event("stored"))
    with api_server.store.read() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        cal = uow.calendars.get(account.pk, app_calendar.calendar_id)
        stored = uow.events.get_in_calendar(cal.pk, event_id="stored")
    assert stored is not None and stored.managed and stored.push_state == "pending"


def test_delete_managed_and_external(
    api_server: ApiServer, cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    cal_id = app_calendar.calendar_id
    cronofy.upsert_event(cal_id, event("gone"))
    cronofy.upsert_event(cal_id, event("kept"))
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        cal = uow.calendars.get(account.pk, cal_id)
        external = uow.events.upsert_remote(
            cal.pk, RemoteEvent(remote_id="r1", content=ext("external"))
        ).event
    assert external is not None
    cronofy.delete_event(cal_id, "gone")
    cronofy.delete_event(cal_id, "gone")  # idempotent
    cronofy.delete_external_event(cal_id, external.event_uid)
    live = read_all(cronofy, include_managed=True)
    assert [e.get("event_id") for e in live] == ["kept"]
    deleted = read_all(cronofy, include_managed=True, include_deleted=True)
    assert {e["event_uid"] for e in deleted if e["deleted"]} >= {external.event_uid}
    assert sum(e["deleted"] for e in deleted) == 2


def test_delete_requires_one_key(http: httpx.Client, app_calendar: AppCalendar) -> None:
    url = f"/v1/calendars/{app_calendar.calendar_id}/events"
    for body in ({}, {"event_id": "a", "event_uid": "b"}):
        r = http.request("DELETE", url, json=body, headers=app_calendar.headers)
        assert r.status_code == 422, r.text
    r = http.request("DELETE", url, json={"event_uid": "evt_unknown"}, headers=app_calendar.headers)
    assert r.status_code == 404


def test_bulk_delete(
    api_server: ApiServer, cronofy: pycronofy.Client, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    cal_id = app_calendar.calendar_id
    for i in range(3):
        cronofy.upsert_event(cal_id, event(f"b{i}"))
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        cal = uow.calendars.get(account.pk, cal_id)
        uow.events.upsert_remote(cal.pk, RemoteEvent(remote_id="r1", content=ext("ext")))
    r = http.request(
        "DELETE",
        "/v1/events?delete_all=true&calendar_ids[]=" + cal_id,
        json={},
        headers=app_calendar.headers,
    )
    assert r.status_code == 422
    r = http.request("DELETE", "/v1/events", json={}, headers=app_calendar.headers)
    assert r.status_code == 422
    cronofy.delete_all_events(calendar_ids=[cal_id])
    left = read_all(cronofy, include_managed=True)
    assert [e["summary"] for e in left] == [
        "ext"
    ]  # provider events are not the app's to bulk-delete
    cronofy.upsert_event(cal_id, event("again"))
    cronofy.delete_all_events()
    assert [e["summary"] for e in read_all(cronofy, include_managed=True)] == ["ext"]
    cronofy.upsert_event(cal_id, event("body"))
    r = http.request(
        "DELETE", "/v1/events", json={"delete_all": True}, headers=app_calendar.headers
    )
    assert r.status_code == 202
    assert [e["summary"] for e in read_all(cronofy, include_managed=True)] == ["ext"]


def test_batch_through_pycronofy(cronofy: pycronofy.Client, app_calendar: AppCalendar) -> None:
    cal_id = app_calendar.calendar_id
    builder = BatchBuilder()
    for i in range(5):
        builder.upsert_event(cal_id, event(f"batch{i}"))
    builder.delete_event(cal_id, "batch0")
    result = cronofy.batch(builder)
    assert [e.status() for e in result.entries] == [202] * 6
    assert sorted(by_id(read_all(cronofy, include_managed=True))) == [
        f"batch{i}" for i in range(1, 5)
    ]
    bad = BatchBuilder().upsert_event(cal_id, event("ok")).upsert_event("cal_other", event("nope"))
    bad.upsert_event(cal_id, {"event_id": "x", "summary": "", "start": SOON, "end": SOON})
    with pytest.raises(PyCronofyPartialSuccessError) as exc:
        cronofy.batch(bad)
    statuses = [e.status() for e in exc.value.batch_response.entries]
    assert statuses == [202, 404, 422]
    errors = exc.value.batch_response.entries[2].response["data"]["errors"]
    assert errors["summary"][0]["key"] == "errors.required"


def test_batch_limit(http: httpx.Client, app_calendar: AppCalendar) -> None:
    entry = {
        "method": "DELETE",
        "relative_url": f"/v1/calendars/{app_calendar.calendar_id}/events",
        "data": {"event_id": "x"},
    }
    r = http.post("/v1/batch", json={"batch": [entry] * 51}, headers=app_calendar.headers)
    assert r.status_code == 422 and "batch" in r.json()["errors"]
    r = http.post("/v1/batch", json={"batch": [entry] * 50}, headers=app_calendar.headers)
    assert r.status_code == 200 and [e["status"] for e in r.json()["batch"]] == [202] * 50


def test_other_account_cannot_write(http: httpx.Client, app_calendar: AppCalendar) -> None:
    from tests.fixtures.api import create_app_calendar

    other = create_app_calendar(http, "other-app-calendar")
    body = {
        "event_id": "x",
        "summary": "s",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T10:00:00Z",
    }
    r = http.post(
        f"/v1/calendars/{app_calendar.calendar_id}/events",
        json=body,
        headers=bearer(other.access_token),
    )
    assert r.status_code == 404
    r = http.request(
        "DELETE",
        "/v1/events",
        json={"calendar_ids": [app_calendar.calendar_id]},
        headers=bearer(other.access_token),
    )
    assert r.status_code == 404
