"""How the API answers bodies it cannot read and input with several problems.

* malformed JSON is ``base`` / ``errors.invalid_json``, the position in words;
* a body that is not sent as JSON (or has no Content-Type) is 415 and says so;
* validation reports every problem at once, each under its field, as Cronofy does;
* a 405 lists in ``Allow`` every method the path serves.
"""

from __future__ import annotations

from typing import Any

import httpx
import pycronofy

from tests.fixtures.api import AppCalendar, bearer, get


def post(http: httpx.Client, path: str, token: str, body: bytes, content_type: str | None) -> Any:
    headers = bearer(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return http.post(path, content=body, headers=headers)


def test_malformed_json_is_base_invalid_json_with_the_position(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    body = b'{"profile_id": "p",\n "name": "x",, "color": "#000000"}'
    response = post(http, "/v1/calendars", app_calendar.access_token, body, "application/json")
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert list(errors) == ["base"]  # not the byte offset as a field name
    (error,) = errors["base"]
    assert error["key"] == "errors.invalid_json"
    assert "line 2, column 14" in error["description"]
    assert "character 33" in error["description"]


def test_json_that_is_not_utf8_is_invalid_json(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    body = b'{"name": "\xff\xfe"}'
    response = post(http, "/v1/calendars", app_calendar.access_token, body, "application/json")
    assert response.status_code == 422
    assert response.json()["errors"]["base"][0]["key"] == "errors.invalid_json"


def test_a_body_that_is_not_json_says_so(http: httpx.Client, app_calendar: AppCalendar) -> None:
    token = app_calendar.access_token
    body = b'{"profile_id": "p", "name": "x"}'
    for content_type, named in (
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        (None, "no Content-Type header"),
    ):
        response = post(http, "/v1/calendars", token, body, content_type)
        assert response.status_code == 415, (content_type, response.text)
        (error,) = response.json()["errors"]["base"]
        assert error["key"] == "errors.unsupported_media_type"
        assert named in error["description"] and "application/json" in error["description"]
    # The same on an event upsert, whose body is read by calsync's own parser.
    events = f"/v1/calendars/{app_calendar.calendar_id}/events"
    response = post(http, events, token, b"event_id=1", "application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_pycronofy_habits_still_work(
    http: httpx.Client, app_calendar: AppCalendar, cronofy: pycronofy.Client
) -> None:
    """GETs carry a JSON ``{}`` body (or any body: a GET's body means nothing)."""
    assert get(http, "/v1/calendars", app_calendar.access_token).status_code == 200
    odd = http.request(
        "GET",
        "/v1/calendars",
        content=b"not json",
        headers={**bearer(app_calendar.access_token), "Content-Type": "text/plain"},
    )
    assert odd.status_code == 200
    assert [c["calendar_id"] for c in cronofy.list_calendars()] == [app_calendar.calendar_id]
    unauthenticated = get(http, "/v1/calendars")  # pycronofy's "Bearer None"
    assert unauthenticated.status_code == 401


def test_every_problem_of_a_calendar_is_reported_at_once(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    response = http.post(
        "/v1/calendars",
        json={
            "profile_id": app_calendar.profile_id,
            "color": "red",
            "timezone": "Mars/Olympus",
            "metadata": "not an object",
        },
        headers=bearer(app_calendar.access_token),
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {field: [e["key"] for e in found] for field, found in errors.items()} == {
        "name": ["errors.required"],
        "color": ["errors.invalid_color"],
        "timezone": ["errors.invalid_timezone"],
        "metadata": ["errors.invalid"],
    }


def test_every_problem_of_an_event_is_reported_at_once(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    response = http.post(
        f"/v1/calendars/{app_calendar.calendar_id}/events",
        json={
            "event_id": "e1",
            "start": "2026-06-27T09:00:00.250Z",
            "end": "tomorrow",
            "tzid": "Moon/Base",
            "transparency": "see-through",
            "location": {"lat": 91, "long": "east"},
            "attendees": {"invite": [{"name": "no email"}]},
        },
        headers=bearer(app_calendar.access_token),
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {
        "summary",
        "start",
        "end",
        "tzid",
        "transparency",
        "location.lat",
        "location.long",
        "attendees.invite",
    }
    assert errors["summary"][0]["key"] == "errors.required"
    assert "milliseconds" in errors["start"][0]["description"]
    assert errors["tzid"][0]["key"] == "errors.invalid_timezone"


def test_every_problem_of_a_read_is_reported_at_once(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    response = get(
        http,
        "/v1/events",
        app_calendar.access_token,
        params={"from": "2026-02-30", "include_deleted": "maybe", "localized_times": "sure"},
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"tzid", "from", "include_deleted", "localized_times"}
    assert errors["tzid"][0]["key"] == "errors.required"


def test_method_not_allowed_lists_every_method_of_the_path(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    headers = bearer(app_calendar.access_token)
    cases = {
        "/v1/calendars": {"GET", "POST"},
        "/v1/events": {"GET", "DELETE"},
        "/v1/channels": {"GET", "POST"},
        f"/v1/calendars/{app_calendar.calendar_id}": {"PATCH", "DELETE"},
        f"/v1/calendars/{app_calendar.calendar_id}/events": {"POST", "DELETE"},
    }
    for path, expected in cases.items():
        for method in ("PUT", "OPTIONS"):
            response = http.request(method, path, headers=headers)
            assert response.status_code == 405, (method, path)
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert expected <= allowed, (path, allowed)
            assert allowed - expected <= {"HEAD"}, (path, allowed)
            assert response.json()["errors"]["base"][0]["key"] == "errors.method_not_allowed"
