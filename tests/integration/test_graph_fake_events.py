"""Event CRUD on the fake Graph server, over HTTPS with httpx as any Graph client would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.graph_testing import event_body, graph_client, graph_fake, soon, when
from tests.fakes.microsoft_graph import MicrosoftGraphFake

__all__ = ["graph_fake"]

MARKER = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name calsync"


@pytest.fixture
def client(graph_fake: MicrosoftGraphFake) -> Iterator[httpx.Client]:
    with graph_client(graph_fake) as c:
        yield c


def error_code(reply: httpx.Response) -> str:
    body: dict[str, Any] = reply.json()
    assert set(body["error"]) == {"code", "message", "innerError"}
    assert {"date", "request-id"} <= set(body["error"]["innerError"])
    return str(body["error"]["code"])


def weekly(start: datetime, count: int, zone: str = "UTC", **extra: Any) -> dict[str, Any]:
    day = when(start, zone)["dateTime"][:10]
    return event_body(
        "Standup",
        start,
        30,
        zone,
        recurrence={
            "pattern": {
                "type": "weekly",
                "interval": 1,
                "daysOfWeek": [start.strftime("%A").lower()],
                "firstDayOfWeek": "monday",
            },
            "range": {"type": "numbered", "startDate": day, "numberOfOccurrences": count},
        },
        **extra,
    )


def test_create_answers_201_in_the_events_zone_and_reads_come_back_in_utc(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    body = {
        "subject": "Lunch",
        "body": {"contentType": "text", "content": "Fish & chips"},
        "start": {"dateTime": "2030-01-15T12:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2030-01-15T13:30:00", "timeZone": "W. Europe Standard Time"},
        "location": {"displayName": "Canteen"},
    }
    created = client.post(f"/me/calendars/{graph_fake.default_calendar_id}/events", json=body)
    assert created.status_code == 201
    event = created.json()
    assert event["type"] == "singleInstance" and event["seriesMasterId"] is None
    assert event["start"] == {
        "dateTime": "2030-01-15T12:00:00.0000000",
        "timeZone": "W. Europe Standard Time",
    }
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert "transactionId" not in event  # returned only when set

    read = client.get(f"/me/events/{event['id']}").json()
    assert read["start"] == {"dateTime": "2030-01-15T11:00:00.0000000", "timeZone": "UTC"}
    assert read["originalStartTimeZone"] == "W. Europe Standard Time"
    assert read["body"]["contentType"] == "html" and "Fish &amp; chips" in read["body"]["content"]
    assert read["location"]["displayName"] == "Canteen"

    pacific = client.get(
        f"/me/calendars/{graph_fake.default_calendar_id}/events/{event['id']}",
        headers={
            "Prefer": 'outlook.timezone="Pacific Standard Time", outlook.body-content-type="text"'
        },
    )
    assert pacific.json()["start"] == {
        "dateTime": "2030-01-15T03:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert pacific.json()["body"] == {"contentType": "text", "content": "Fish & chips"}
    assert 'outlook.timezone="Pacific Standard Time"' in pacific.headers["preference-applied"]


def test_a_retried_create_with_its_transaction_id_returns_the_original(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    path = f"/me/calendars/{graph_fake.default_calendar_id}/events"
    body = event_body("Once", soon(), transactionId="7E163156-7762-4BEB-A1C6-729EA81755A7")
    graph_fake.lose_next_responses(1)
    with pytest.raises(httpx.TransportError):
        client.post(path, json=body)  # created, but the reply was lost
    retried = client.post(path, json={**body, "subject": "Once, retried"})
    again = client.post(path, json=body)
    assert retried.status_code == again.status_code == 201
    assert retried.json()["id"] == again.json()["id"]
    assert retried.json()["subject"] == "Once"  # the original, not a second event
    assert retried.json()["transactionId"] == body["transactionId"]
    assert len(graph_fake.event_ids(graph_fake.default_calendar_id)) == 1
    changed = client.patch(f"/me/events/{retried.json()['id']}", json={"transactionId": "other"})
    assert changed.status_code == 400
    # Once the event is gone, the id may be used again.
    assert client.delete(f"/me/events/{retried.json()['id']}").status_code == 204
    fresh = client.post(path, json=body)
    assert fresh.status_code == 201 and fresh.json()["id"] != retried.json()["id"]


def test_etag_and_change_key_change_on_update_and_guard_it(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    created = client.post("/me/events", json=event_body("v1", soon())).json()
    path = f"/me/events/{created['id']}"
    updated = client.patch(
        path, json={"subject": "v2"}, headers={"If-Match": created["@odata.etag"]}
    )
    assert updated.status_code == 200
    assert updated.json()["changeKey"] != created["changeKey"]
    assert updated.json()["@odata.etag"] != created["@odata.etag"]

    stale = client.patch(path, json={"subject": "v3"}, headers={"If-Match": created["@odata.etag"]})
    assert stale.status_code == 412 and error_code(stale) == "ErrorIrresolvableConflict"
    assert client.get(path).json()["subject"] == "v2"
    stale_delete = client.delete(path, headers={"If-Match": created["@odata.etag"]})
    assert stale_delete.status_code == 412
    assert (
        client.delete(path, headers={"If-Match": updated.json()["@odata.etag"]}).status_code == 204
    )

    gone = client.get(path)
    assert gone.status_code == 404 and error_code(gone) == "ErrorItemNotFound"
    assert client.delete(path).status_code == 404
    malformed = client.get("/me/events/not-an-id")
    assert malformed.status_code == 400 and error_code(malformed) == "ErrorInvalidIdMalformed"


def test_extended_properties_are_stored_and_returned_only_when_expanded(
    client: httpx.Client,
) -> None:
    created = client.post(
        "/me/events",
        json=event_body(
            "Marked", soon(), singleValueExtendedProperties=[{"id": MARKER, "value": "evt_1"}]
        ),
    ).json()
    assert "singleValueExtendedProperties" not in created
    path = f"/me/events/{created['id']}"
    expanded = client.get(
        path, params={"$expand": f"singleValueExtendedProperties($filter=id eq '{MARKER}')"}
    )
    assert expanded.json()["singleValueExtendedProperties"] == [{"id": MARKER, "value": "evt_1"}]
    other = "String {00000000-0000-0000-0000-000000000001} Name other"
    unexpanded_other = client.get(
        path, params={"$expand": f"singleValueExtendedProperties($filter=id eq '{other}')"}
    )
    assert unexpanded_other.json()["singleValueExtendedProperties"] == []
    client.patch(path, json={"singleValueExtendedProperties": [{"id": MARKER, "value": "evt_2"}]})
    # GUIDs compare case-insensitively.
    upper = MARKER.replace("66f5a359", "66F5A359")
    again = client.get(
        path, params={"$expand": f"singleValueExtendedProperties($filter=id eq '{upper}')"}
    )
    assert again.json()["singleValueExtendedProperties"][0]["value"] == "evt_2"
    bad = client.post(
        "/me/events",
        json=event_body(
            "x", soon(), singleValueExtendedProperties=[{"id": "calsync", "value": "1"}]
        ),
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"colour": "red"}, "RequestBodyRead"),
        ({"id": "AAMkAGxyz"}, "ErrorInvalidPropertyForOperation"),
        ({"start": None}, "ErrorInvalidRequest"),
        (
            {"start": {"dateTime": "2030-01-01T10:00:00+02:00", "timeZone": "UTC"}},
            "InvalidDateTime",
        ),
        (
            {"start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "Mars/Olympus"}},
            "TimeZoneNotSupportedException",
        ),
        ({"showAs": "maybe"}, "RequestBodyRead"),
        ({"isAllDay": True}, "ErrorInvalidRequest"),
        ({"end": {"dateTime": "2000-01-01T00:00:00", "timeZone": "UTC"}}, "ErrorInvalidRequest"),
    ],
)
def test_bodies_graph_would_refuse_get_400(
    client: httpx.Client, change: dict[str, Any], code: str
) -> None:
    body = {**event_body("x", soon()), **change}
    refused = client.post("/me/events", json={k: v for k, v in body.items() if v is not None})
    assert refused.status_code == 400
    assert error_code(refused) == code


def test_malformed_requests(client: httpx.Client) -> None:
    not_json = client.post("/me/events", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    text = client.post("/me/events", content=b"{}", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    assert client.get("/me/events", params={"$filter": "subject eq 'x'"}).status_code == 400
    assert client.get("/me/unknown").status_code == 400
    assert client.get("/me/calendars/AAMkAGbm9wZQ==").status_code in (400, 404)


def test_all_day_events_are_floating_midnights(client: httpx.Client) -> None:
    body = {
        "subject": "Holiday",
        "isAllDay": True,
        "start": {"dateTime": "2030-05-01T00:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2030-05-03T00:00:00", "timeZone": "W. Europe Standard Time"},
    }
    created = client.post("/me/events", json=body).json()
    read = client.get(f"/me/events/{created['id']}").json()
    assert read["isAllDay"] is True
    assert read["start"] == {"dateTime": "2030-05-01T00:00:00.0000000", "timeZone": "UTC"}
    assert read["end"] == {"dateTime": "2030-05-03T00:00:00.0000000", "timeZone": "UTC"}


def test_series_occurrences_exceptions_and_cancellations(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    start = soon(days=2)
    master = client.post("/me/events", json=weekly(start, 4, "W. Europe Standard Time")).json()
    assert master["type"] == "seriesMaster"
    assert master["recurrence"]["range"]["endDate"] == "0001-01-01"  # Graph's normal form
    window = {
        "startDateTime": (start - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endDateTime": (start + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    instances_path = f"/me/events/{master['id']}/instances"
    occurrences = client.get(instances_path, params=window).json()["value"]
    assert [o["type"] for o in occurrences] == ["occurrence"] * 4
    assert {o["seriesMasterId"] for o in occurrences} == {master["id"]}
    assert occurrences[1]["originalStart"] == (start + timedelta(days=7)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert all(o["recurrence"] is None for o in occurrences)
    assert all(o["@odata.etag"] == master["@odata.etag"] for o in occurrences)

    second, third = occurrences[1]["id"], occurrences[2]["id"]
    moved = client.patch(
        f"/me/events/{second}",
        json={
            "subject": "Moved",
            "start": when(start + timedelta(days=8)),
            "end": when(start + timedelta(days=8, minutes=30)),
        },
    )
    assert moved.status_code == 200
    assert moved.json()["type"] == "exception" and moved.json()["id"] == second
    assert client.delete(f"/me/events/{third}").status_code == 204
    assert client.get(f"/me/events/{third}").status_code == 404
    assert client.patch(f"/me/events/{second}", json={"recurrence": None}).status_code == 400

    after = client.get(instances_path, params=window).json()["value"]
    assert [(o["type"], o["subject"]) for o in after] == [
        ("occurrence", "Standup"),
        ("exception", "Moved"),
        ("occurrence", "Standup"),
    ]
    assert client.get(f"/me/events/{second}").json()["subject"] == "Moved"
    assert client.get(f"/me/events/{master['id']}").json()["type"] == "seriesMaster"

    # A new pattern rebuilds the series: exceptions and cancellations are gone.
    recurrence = master["recurrence"]
    recurrence["range"]["numberOfOccurrences"] = 5
    assert (
        client.patch(f"/me/events/{master['id']}", json={"recurrence": recurrence}).status_code
        == 200
    )
    rebuilt = client.get(instances_path, params=window).json()["value"]
    assert [o["type"] for o in rebuilt] == ["occurrence"] * 5


def test_calendar_view_lists_instances_and_events_lists_masters(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    start = soon(days=1)
    client.post("/me/events", json=weekly(start, 3))
    client.post("/me/events", json=event_body("Single", start + timedelta(hours=2)))
    events = client.get("/me/events").json()["value"]
    assert sorted(e["type"] for e in events) == ["seriesMaster", "singleInstance"]
    params = {
        "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "endDateTime": (start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S"),
        "$top": "2",
    }
    view_path = f"/me/calendars/{graph_fake.default_calendar_id}/calendarView"
    first = client.get(view_path, params=params).json()
    assert len(first["value"]) == 2 and "$skip=2" in first["@odata.nextLink"]
    rest = client.get(first["@odata.nextLink"]).json()
    types = [e["type"] for e in first["value"] + rest["value"]]
    assert sorted(types) == ["occurrence", "occurrence", "occurrence", "singleInstance"]
    assert "@odata.nextLink" not in rest


def test_calendars_list_pages_and_unknown_calendars(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    for n in range(11):
        graph_fake.add_calendar(f"Team {n:02d}")
    first = client.get("/me/calendars").json()
    assert len(first["value"]) == 10 and first["value"][0]["isDefaultCalendar"] is True
    second = client.get(first["@odata.nextLink"]).json()
    assert len(second["value"]) == 2 and "@odata.nextLink" not in second
    names = [c["name"] for c in first["value"] + second["value"]]
    assert len(set(names)) == 12
    calendar_id = first["value"][1]["id"]
    assert client.get(f"/me/calendars/{calendar_id}").json()["name"] == names[1]
    graph_fake.remove_calendar(calendar_id)
    missing = client.get(f"/me/calendars/{calendar_id}/events")
    assert missing.status_code == 404 and error_code(missing) == "ErrorItemNotFound"


def test_another_clients_edits_show_through_the_back_door(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    event_id = graph_fake.put_event(graph_fake.default_calendar_id, event_body("Theirs", soon()))
    graph_fake.patch_event(event_id, {"subject": "Theirs, edited"})
    assert client.get(f"/me/events/{event_id}").json()["subject"] == "Theirs, edited"
    graph_fake.delete_event(event_id)
    assert graph_fake.event(event_id) is None
    assert client.get(f"/me/events/{event_id}").status_code == 404
