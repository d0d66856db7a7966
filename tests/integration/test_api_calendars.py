"""``/v1/calendars`` through pycronofy and raw HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pycronofy
import pytest
from pycronofy.exceptions import PyCronofyRequestError

from calsync.store.repos.tokens import ACCESS
from tests.fixtures.api import ApiServer, AppCalendar, bearer, get
from tests.fixtures.store import content, new_calendar

CALENDAR_FIELDS = {
    "provider_name",
    "profile_id",
    "profile_name",
    "calendar_id",
    "calendar_name",
    "calendar_readonly",
    "calendar_deleted",
    "calendar_primary",
    "calendar_integrated_conferencing_available",
    "calendar_attachments_available",
    "permission_level",
    "calendar_color",
    "calendar_timezone",
    "metadata",
    "ical_url",
    "sync",
}


def _errors(response: httpx.Response, field: str) -> list[str]:
    return [e["key"] for e in response.json()["errors"][field]]


def test_list_calendars_through_pycronofy(
    cronofy: pycronofy.Client, api_server: ApiServer, app_calendar: AppCalendar
) -> None:
    (calendar,) = cronofy.list_calendars()
    assert set(calendar) == CALENDAR_FIELDS
    assert calendar["calendar_id"] == app_calendar.calendar_id
    assert calendar["profile_id"] == app_calendar.profile_id
    assert calendar["provider_name"] == "cronofy"
    assert calendar["calendar_readonly"] is False
    assert calendar["calendar_deleted"] is False
    assert calendar["permission_level"] == "unrestricted"
    assert calendar["calendar_color"] == "#49BED8"
    assert calendar["ical_url"].startswith(api_server.base_url + "/ical/")
    assert calendar["ical_url"].endswith(".ics")
    assert calendar["sync"] == {"last_sync_at": None, "last_error": None}


def test_create_calendar_through_pycronofy(
    cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    created = cronofy.create_calendar(app_calendar.profile_id, "Second")
    calendar = created["calendar"]
    assert calendar["calendar_name"] == "Second"
    assert calendar["calendar_id"].startswith("cal_")
    assert calendar["calendar_primary"] is False
    listed = {c["calendar_id"]: c["calendar_name"] for c in cronofy.list_calendars()}
    assert listed == {
        app_calendar.calendar_id: "test-app-calendar",
        calendar["calendar_id"]: "Second",
    }


def test_duplicate_name_through_pycronofy(
    cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    first = cronofy.create_calendar(app_calendar.profile_id, "Dup")["calendar"]
    with pytest.raises(PyCronofyRequestError) as info:
        cronofy.create_calendar(app_calendar.profile_id, "Dup")
    assert info.value.response.status_code == 422
    assert _errors(info.value.response, "name") == ["errors.duplicate_calendar_name"]
    # pycronofy's lenient mode finds the existing one by reading the error key.
    again = cronofy.create_calendar(app_calendar.profile_id, "Dup", error_on_duplicate=False)
    assert again["calendar_id"] == first["calendar_id"]


def test_create_calendar_with_every_field(http: httpx.Client, app_calendar: AppCalendar) -> None:
    metadata = {"team": "ops", "nested": {"n": [1, 2, 3]}}
    response = http.post(
        "/v1/calendars",
        json={
            "profile_id": app_calendar.profile_id,
            "name": "  Full  ",
            "color": "#a1b2c3",
            "timezone": "America/New_York",
            "metadata": metadata,
        },
        headers=app_calendar.headers,
    )
    assert response.status_code == 200, response.text
    calendar = response.json()["calendar"]
    assert calendar["calendar_name"] == "Full"
    assert calendar["calendar_color"] == "#A1B2C3"
    assert calendar["calendar_timezone"] == "America/New_York"
    assert calendar["metadata"] == metadata


@pytest.mark.parametrize(
    ("body", "field", "key"),
    [
        ({}, "name", "errors.required"),
        ({"name": ""}, "name", "errors.required"),
        ({"name": "   "}, "name", "errors.required"),
        ({"name": None}, "name", "errors.required"),
        ({"name": "x" * 1025}, "name", "errors.too_long"),
        ({"name": "a", "timezone": "Mars/Olympus"}, "timezone", "errors.invalid_timezone"),
        ({"name": "a", "timezone": "../../etc/passwd"}, "timezone", "errors.invalid_timezone"),
        ({"name": "a", "timezone": ""}, "timezone", "errors.invalid_timezone"),
        ({"name": "a", "color": "red"}, "color", "errors.invalid_color"),
        ({"name": "a", "color": "#12345"}, "color", "errors.invalid_color"),
        ({"name": "a", "metadata": {"k": "x" * 17000}}, "metadata", "errors.metadata_too_large"),
        ({"name": "a", "metadata": "not an object"}, "metadata", "errors.invalid"),
        ({"name": 5}, "name", "errors.invalid"),
    ],
)
def test_create_calendar_validation(
    http: httpx.Client, app_calendar: AppCalendar, body: dict[str, object], field: str, key: str
) -> None:
    response = http.post(
        "/v1/calendars",
        json={"profile_id": app_calendar.profile_id, **body},
        headers=app_calendar.headers,
    )
    assert response.status_code == 422, response.text
    assert _errors(response, field) == [key]
    listed = get(http, "/v1/calendars", app_calendar.access_token).json()["calendars"]
    assert len(listed) == 1  # nothing was created


def test_create_calendar_needs_a_profile_of_ones_own(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    missing = http.post("/v1/calendars", json={"name": "x"}, headers=app_calendar.headers)
    assert missing.status_code == 422
    assert _errors(missing, "profile_id") == ["errors.required"]
    unknown = http.post(
        "/v1/calendars",
        json={"profile_id": "pro_nope", "name": "x"},
        headers=app_calendar.headers,
    )
    assert unknown.status_code == 404
    # Another account's profile is exactly as unknown.
    foreign = new_calendar(api_server.store, "someone")
    response = http.post(
        "/v1/calendars",
        json={"profile_id": foreign.profile_id, "name": "x"},
        headers=app_calendar.headers,
    )
    assert response.status_code == 404
    assert foreign.profile_id not in response.text


def test_create_calendar_on_a_provider_profile_is_forbidden(
    api_server: ApiServer, http: httpx.Client
) -> None:
    calendar = new_calendar(api_server.store, "caldav-user")
    with api_server.store.write() as uow:
        token = uow.tokens.issue(calendar.account_pk, ACCESS, None)
    response = http.post(
        "/v1/calendars",
        json={"profile_id": calendar.profile_id, "name": "New"},
        headers=bearer(token),
    )
    assert response.status_code == 403
    assert _errors(response, "base") == ["errors.create_calendar_unsupported"]


def test_patch_calendar(http: httpx.Client, app_calendar: AppCalendar) -> None:
    url = f"/v1/calendars/{app_calendar.calendar_id}"
    response = http.patch(
        url,
        json={
            "name": "Renamed",
            "color": "#000000",
            "timezone": "Asia/Tokyo",
            "metadata": {"a": 1},
        },
        headers=app_calendar.headers,
    )
    assert response.status_code == 200, response.text
    calendar = response.json()["calendar"]
    assert (calendar["calendar_name"], calendar["calendar_color"]) == ("Renamed", "#000000")
    assert (calendar["calendar_timezone"], calendar["metadata"]) == ("Asia/Tokyo", {"a": 1})
    # Only the given fields change; explicit nulls clear.
    response = http.patch(url, json={"metadata": None}, headers=app_calendar.headers)
    calendar = response.json()["calendar"]
    assert calendar["metadata"] is None
    assert calendar["calendar_name"] == "Renamed"
    assert calendar["calendar_timezone"] == "Asia/Tokyo"
    listed = get(http, "/v1/calendars", app_calendar.access_token).json()["calendars"]
    assert listed[0]["calendar_name"] == "Renamed"


def test_patch_calendar_validation(http: httpx.Client, app_calendar: AppCalendar) -> None:
    url = f"/v1/calendars/{app_calendar.calendar_id}"
    other = http.post(
        "/v1/calendars",
        json={"profile_id": app_calendar.profile_id, "name": "Other"},
        headers=app_calendar.headers,
    )
    assert other.status_code == 200
    cases = [
        ({"name": "other"}, "name", "errors.duplicate_calendar_name"),
        ({"name": ""}, "name", "errors.required"),
        ({"name": None}, "name", "errors.required"),
        ({"timezone": "Nowhere/Land"}, "timezone", "errors.invalid_timezone"),
        ({"color": "#GGGGGG"}, "color", "errors.invalid_color"),
        ({"metadata": {"x": "y" * 20000}}, "metadata", "errors.metadata_too_large"),
    ]
    for body, field, key in cases:
        response = http.patch(url, json=body, headers=app_calendar.headers)
        assert response.status_code == 422, body
        assert _errors(response, field) == [key]
    # Renaming to its own name is no duplicate.
    same = http.patch(url, json={"name": "test-app-calendar"}, headers=app_calendar.headers)
    assert same.status_code == 200


def test_patch_unknown_or_readonly_calendar(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    response = http.patch(
        "/v1/calendars/cal_nope", json={"name": "x"}, headers=app_calendar.headers
    )
    assert response.status_code == 404
    with api_server.store.write() as uow:
        record = uow.calendars.get(
            uow.accounts.get_by_sub(app_calendar.sub).pk, app_calendar.calendar_id
        )
        uow.calendars.update(record.pk, readonly=True)
    url = f"/v1/calendars/{app_calendar.calendar_id}"
    response = http.patch(url, json={"name": "x"}, headers=app_calendar.headers)
    assert response.status_code == 403
    assert _errors(response, "base") == ["errors.calendar_readonly"]
    assert http.delete(url, headers=app_calendar.headers).status_code == 403
    listed = get(http, "/v1/calendars", app_calendar.access_token).json()["calendars"]
    assert listed[0]["calendar_name"] == "test-app-calendar"
    assert listed[0]["permission_level"] == "sandbox"


def test_delete_calendar(http: httpx.Client, app_calendar: AppCalendar) -> None:
    created = http.post(
        "/v1/calendars",
        json={"profile_id": app_calendar.profile_id, "name": "Doomed"},
        headers=app_calendar.headers,
    ).json()["calendar"]
    url = f"/v1/calendars/{created['calendar_id']}"
    # pycronofy sends a JSON body {} with bodiless DELETEs.
    response = http.request("DELETE", url, json={}, headers=app_calendar.headers)
    assert response.status_code == 202
    listed = get(http, "/v1/calendars", app_calendar.access_token).json()["calendars"]
    deleted = next(c for c in listed if c["calendar_id"] == created["calendar_id"])
    assert deleted["calendar_deleted"] is True
    assert http.delete(url, headers=app_calendar.headers).status_code == 404
    assert http.patch(url, json={"name": "x"}, headers=app_calendar.headers).status_code == 404
    # The name is free again.
    again = http.post(
        "/v1/calendars",
        json={"profile_id": app_calendar.profile_id, "name": "Doomed"},
        headers=app_calendar.headers,
    )
    assert again.status_code == 200


def test_delete_calendar_with_events_is_409(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        calendar = uow.calendars.get(account.pk, app_calendar.calendar_id)
        uow.events.upsert_managed(calendar.pk, "e1", content())
    url = f"/v1/calendars/{app_calendar.calendar_id}"
    response = http.delete(url, headers=app_calendar.headers)
    assert response.status_code == 409
    assert _errors(response, "base") == ["calendar_has_events"]
    with api_server.store.write() as uow:
        uow.events.delete_managed(calendar.pk, "e1")
    assert http.delete(url, headers=app_calendar.headers).status_code == 202


def test_sync_status_is_reported(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        calendar = uow.calendars.get(account.pk, app_calendar.calendar_id)
        uow.calendars.set_sync_status(calendar.pk, last_sync_at=when, last_error="boom")
    (listed,) = get(http, "/v1/calendars", app_calendar.access_token).json()["calendars"]
    assert listed["sync"] == {"last_sync_at": "2026-01-02T03:04:05Z", "last_error": "boom"}
