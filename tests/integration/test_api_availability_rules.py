"""Availability rules over real HTTP: pycronofy's round trip, managed availability
(DST-correct per rule tzid), validation and tenant isolation, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pycronofy
import pytest

from tests.fixtures.api import (
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    bearer,
    create_app_calendar,
    cronofy_client,
)

LONDON_HOURS: dict[str, Any] = {
    "availability_rule_id": "office",
    "tzid": "Europe/London",
    "weekly_periods": [
        {"day": day, "start_time": "09:00", "end_time": "10:00"}
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    ],
}


def z(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_rules_round_trip_through_pycronofy(
    api_server: ApiServer, app_calendar: AppCalendar, cronofy: pycronofy.Client
) -> None:
    created = cronofy.upsert_availability_rule(
        {**LONDON_HOURS, "calendar_ids": [app_calendar.calendar_id]}
    )
    assert created == {**LONDON_HOURS, "calendar_ids": [app_calendar.calendar_id]}
    assert cronofy.get_availability_rule("office") == created
    # An upsert by the same id replaces the rule.
    changed = {
        **LONDON_HOURS,
        "tzid": "America/Chicago",
        "weekly_periods": [{"day": "monday", "start_time": "08:30", "end_time": "24:00"}],
    }
    assert cronofy.upsert_availability_rule(changed) == changed
    cronofy.upsert_availability_rule({**LONDON_HOURS, "availability_rule_id": "another"})
    listed = cronofy.list_availability_rules()
    assert [r["availability_rule_id"] for r in listed] == ["another", "office"]
    assert listed[1] == changed
    cronofy.delete_availability_rule("office")
    assert [r["availability_rule_id"] for r in cronofy.list_availability_rules()] == ["another"]
    with pytest.raises(pycronofy.exceptions.PyCronofyRequestError) as missing:
        cronofy.get_availability_rule("office")
    assert missing.value.response.status_code == 404
    with pytest.raises(pycronofy.exceptions.PyCronofyRequestError) as gone:
        cronofy.delete_availability_rule("office")
    assert gone.value.response.status_code == 404


def test_managed_availability_follows_the_rule_across_dst(
    http: httpx.Client, app_calendar: AppCalendar, cronofy: pycronofy.Client
) -> None:
    """09:00-10:00 Europe/London is 09:00Z before 2031-03-30 and 08:00Z after it."""
    cronofy.upsert_availability_rule(LONDON_HOURS)
    cronofy.upsert_availability_rule(
        {
            "availability_rule_id": "evenings",
            "tzid": "America/New_York",
            "weekly_periods": [{"day": "saturday", "start_time": "18:00", "end_time": "19:00"}],
        }
    )
    start = datetime(2031, 3, 28, tzinfo=UTC)  # a Friday
    body: dict[str, Any] = {
        "participants": [{"members": [{"sub": app_calendar.sub, "managed_availability": True}]}],
        "required_duration": {"minutes": 60},
        "query_periods": [{"start": z(start), "end": z(start + timedelta(days=4))}],
    }
    response = http.post("/v1/availability", json=body, headers=app_calendar.headers)
    assert response.status_code == 200, response.text
    got = [(p["start"], p["end"]) for p in response.json()["available_periods"]]
    me = "2031-03-{:02d}T{:02d}:00:00Z"
    assert got == [
        (me.format(28, 9), me.format(28, 10)),  # Friday, GMT
        (me.format(29, 9), me.format(29, 10)),  # Saturday, GMT
        (me.format(29, 22), me.format(29, 23)),  # Saturday 18:00 New York (EDT since 9 March)
        (me.format(30, 8), me.format(30, 9)),  # Sunday, BST from 01:00 GMT that day
        (me.format(31, 8), me.format(31, 9)),  # Monday, BST
    ]
    # Only the rule named: the New York evening is gone.
    body["participants"][0]["members"][0]["availability_rule_ids"] = ["office"]
    response = http.post("/v1/availability", json=body, headers=app_calendar.headers)
    assert len(response.json()["available_periods"]) == 4
    # A managed member without rules is never available.
    cronofy.delete_availability_rule("office")
    cronofy.delete_availability_rule("evenings")
    response = http.post("/v1/availability", json=body, headers=app_calendar.headers)
    assert response.json() == {"available_periods": []}


def _errors(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    return set(response.json()["errors"])


def test_rule_validation(http: httpx.Client, app_calendar: AppCalendar) -> None:
    def post(**changes: Any) -> httpx.Response:
        return http.post(
            "/v1/availability_rules", json={**LONDON_HOURS, **changes}, headers=app_calendar.headers
        )

    assert _errors(post(tzid="Mars/Olympus")) == {"tzid"}
    assert _errors(post(availability_rule_id="")) == {"availability_rule_id"}
    assert _errors(post(weekly_periods=[])) == {"weekly_periods"}
    bad_day = [{"day": "funday", "start_time": "09:00", "end_time": "10:00"}]
    assert _errors(post(weekly_periods=bad_day)) == {"weekly_periods.0.day"}
    backwards = [{"day": "monday", "start_time": "10:00", "end_time": "09:00"}]
    assert _errors(post(weekly_periods=backwards)) == {"weekly_periods.0.end_time"}
    late = [{"day": "monday", "start_time": "09:00", "end_time": "24:30"}]
    assert _errors(post(weekly_periods=late)) == {"weekly_periods.0.end_time"}
    assert _errors(post(calendar_ids=["cal_nope"])) == {"calendar_ids"}


def test_rules_are_tenant_isolated(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    alice = app_calendar
    bob = create_app_calendar(http, "bob")
    alice_client = cronofy_client(api_server.base_url, alice.access_token, alice.refresh_token)
    bob_client = cronofy_client(api_server.base_url, bob.access_token, bob.refresh_token)
    alice_client.upsert_availability_rule(LONDON_HOURS)
    assert bob_client.list_availability_rules() == []
    for call in (bob_client.get_availability_rule, bob_client.delete_availability_rule):
        with pytest.raises(pycronofy.exceptions.PyCronofyRequestError) as refused:
            call("office")
        assert refused.value.response.status_code == 404
    # Bob's rule of the same id is his own; Alice's is untouched.
    bob_client.upsert_availability_rule({**LONDON_HOURS, "tzid": "Asia/Tokyo"})
    assert alice_client.get_availability_rule("office")["tzid"] == "Europe/London"
    # A rule may not name another account's calendar.
    response = http.post(
        "/v1/availability_rules",
        json={**LONDON_HOURS, "calendar_ids": [alice.calendar_id]},
        headers=bob.headers,
    )
    assert _errors(response) == {"calendar_ids"}
    # The API key sees each member's own rules (Alice 09:00 London, Bob 09:00 Tokyo).
    start = datetime(2031, 6, 2, tzinfo=UTC)
    response = http.post(
        "/v1/availability",
        json={
            "participants": [
                {
                    "members": [
                        {"sub": alice.sub, "managed_availability": True},
                        {"sub": bob.sub, "managed_availability": True},
                    ],
                    "required": 1,
                }
            ],
            "required_duration": {"minutes": 60},
            "query_periods": [{"start": z(start), "end": z(start + timedelta(days=1))}],
        },
        headers=bearer(CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text
    assert [
        (p["start"], [s["sub"] for s in p["participants"]])
        for p in response.json()["available_periods"]
    ] == [("2031-06-02T00:00:00Z", [bob.sub]), ("2031-06-02T08:00:00Z", [alice.sub])]
