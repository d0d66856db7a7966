"""The fake Graph server's JSON batching and ``$filter=type eq ...`` on a list of events.

Rules from https://learn.microsoft.com/en-us/graph/json-batching (see `_graph_batch`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.graph_testing import event_body, graph_client, graph_fake, soon, weekly
from tests.fakes.microsoft_graph import MicrosoftGraphFake

__all__ = ["graph_fake"]


@pytest.fixture
def client(graph_fake: MicrosoftGraphFake) -> Iterator[httpx.Client]:
    with graph_client(graph_fake) as c:
        yield c


def _get(ident: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "method": "GET", "url": url, **extra}


def _events(fake: MicrosoftGraphFake, count: int) -> list[str]:
    return [
        fake.put_event(fake.default_calendar_id, event_body(f"e{i}", soon(i + 1)))
        for i in range(count)
    ]


def test_a_batch_answers_each_request_by_id_in_another_order(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    ids = _events(graph_fake, 3)
    requests = [_get(str(n), f"/me/events/{event_id}") for n, event_id in enumerate(ids)]
    requests.append(_get("missing", "/me/events/" + ids[0][:-6] + "AAAAA="))
    reply = client.post("/$batch", json={"requests": requests})
    assert reply.status_code == 200
    responses = reply.json()["responses"]
    assert [r["id"] for r in responses] != [r["id"] for r in requests]  # any order
    by_id = {r["id"]: r for r in responses}
    assert set(by_id) == {"0", "1", "2", "missing"}
    for n, event_id in enumerate(ids):
        assert by_id[str(n)]["status"] == 200
        assert by_id[str(n)]["body"]["id"] == event_id
        assert by_id[str(n)]["headers"]["Content-Type"].startswith("application/json")
    assert by_id["missing"]["status"] in (400, 404)
    assert by_id["missing"]["body"]["error"]["code"]
    # One HTTP request; its three-plus-one individual requests are recorded apart.
    assert graph_fake.count("POST", "/$batch") == 1
    assert len(graph_fake.batched) == 4


def test_an_unknown_event_in_a_batch_is_its_own_404(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    [event_id] = _events(graph_fake, 1)
    graph_fake.delete_event(event_id)
    reply = client.post("/$batch", json={"requests": [_get("a", f"/me/events/{event_id}")]})
    assert reply.status_code == 200
    [only] = reply.json()["responses"]
    assert only["status"] == 404
    assert only["body"]["error"]["code"] == "ErrorItemNotFound"


def test_a_throttled_request_in_a_batch_carries_its_own_retry_after(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    first, second = _events(graph_fake, 2)
    graph_fake.fail_next(429, retry_after=1.5, path_contains=second)
    reply = client.post(
        "/$batch",
        json={"requests": [_get("1", f"/me/events/{first}"), _get("2", f"/me/events/{second}")]},
    )
    assert reply.status_code == 200
    assert "retry-after" not in reply.headers  # the batch itself went through
    by_id = {r["id"]: r for r in reply.json()["responses"]}
    assert by_id["1"]["status"] == 200
    assert by_id["2"]["status"] == 429
    assert by_id["2"]["headers"]["Retry-After"] == "1.5"
    assert by_id["2"]["body"]["error"]["code"] == "ApplicationThrottled"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"requests": [_get(str(n), "/me") for n in range(21)]}, "at most 20"),
        ({"requests": []}, "non-empty"),
        ({}, "non-empty"),
        ({"requests": [_get("1", "/me"), _get("1", "/me/calendars")]}, "duplicate"),
        ({"requests": [_get("a", "/me"), _get("A", "/me/calendars")]}, "duplicate"),
        ({"requests": [{"method": "GET", "url": "/me"}]}, "needs an 'id'"),
        ({"requests": [{"id": 1, "method": "GET", "url": "/me"}]}, "needs an 'id'"),
        ({"requests": [{"id": "1", "url": "/me"}]}, "no method"),
        ({"requests": [{"id": "1", "method": "GET"}]}, "no url"),
        ({"requests": [_get("1", "https://graph.microsoft.com/v1.0/me")]}, "relative url"),
        ({"requests": [_get("1", "/v1.0/me")]}, "relative url"),
        (
            {"requests": [{"id": "1", "method": "POST", "url": "/me/events", "body": {}}]},
            "Content-Type",
        ),
        ({"requests": [_get("1", "/me", dependsOn=["2"]), _get("2", "/me")]}, "depends on"),
        ({"requests": [_get("1", "/$batch")]}, "batch cannot contain"),
    ],
)
def test_a_malformed_batch_fails_whole_with_400(
    client: httpx.Client, graph_fake: MicrosoftGraphFake, payload: dict[str, Any], why: str
) -> None:
    reply = client.post("/$batch", json=payload)
    assert reply.status_code == 400
    assert why in reply.json()["error"]["message"]
    assert graph_fake.batched == []  # nothing ran


def test_a_batch_needs_post_json_and_a_token(graph_fake: MicrosoftGraphFake) -> None:
    with graph_client(graph_fake) as client:
        assert client.get("/$batch").status_code == 405
        assert client.post("/$batch", content=b"{}").status_code == 415
    with graph_client(graph_fake, token="not-a-token") as client:
        reply = client.post("/$batch", json={"requests": [_get("1", "/me")]})
        assert reply.status_code == 401


def test_individual_requests_get_only_the_batch_authorization(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    """Prefer on the batch does not reach the individual requests; per request it does."""
    [event_id] = _events(graph_fake, 1)
    zone = 'outlook.timezone="Pacific Standard Time"'
    reply = client.post(
        "/$batch",
        headers={"Prefer": zone},
        json={
            "requests": [
                _get("plain", f"/me/events/{event_id}"),
                _get("zoned", f"/me/events/{event_id}", headers={"Prefer": zone}),
            ]
        },
    )
    by_id = {r["id"]: r for r in reply.json()["responses"]}
    assert by_id["plain"]["body"]["start"]["timeZone"] == "UTC"
    assert by_id["zoned"]["body"]["start"]["timeZone"] == "Pacific Standard Time"


def test_a_request_whose_dependency_failed_gets_424(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    [event_id] = _events(graph_fake, 1)
    graph_fake.delete_event(event_id)
    reply = client.post(
        "/$batch",
        json={
            "requests": [
                _get("1", f"/me/events/{event_id}"),
                _get("2", "/me", dependsOn=["1"]),
            ]
        },
    )
    by_id = {r["id"]: r for r in reply.json()["responses"]}
    assert by_id["1"]["status"] == 404
    assert by_id["2"]["status"] == 424


def test_writes_in_a_batch_apply(client: httpx.Client, graph_fake: MicrosoftGraphFake) -> None:
    reply = client.post(
        "/$batch",
        json={
            "requests": [
                {
                    "id": "c",
                    "method": "POST",
                    "url": "/me/events",
                    "headers": {"Content-Type": "application/json"},
                    "body": event_body("batched", soon()),
                }
            ]
        },
    )
    [created] = reply.json()["responses"]
    assert created["status"] == 201
    assert graph_fake.event(created["body"]["id"])["subject"] == "batched"  # type: ignore[index]


def test_events_filtered_by_type_list_series_masters_with_paging(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    cal = graph_fake.default_calendar_id
    masters = {
        graph_fake.put_event(
            cal, event_body(f"s{i}", soon(i + 1), recurrence=weekly(soon(i + 1), 4))
        )
        for i in range(3)
    }
    _events(graph_fake, 2)
    params = {"$filter": "type eq 'seriesMaster'", "$top": "2"}
    page = client.get(f"/me/calendars/{cal}/events", params=params).json()
    found = [e["id"] for e in page["value"]]
    assert all(e["type"] == "seriesMaster" and e["recurrence"] for e in page["value"])
    link = page["@odata.nextLink"]
    assert "$filter" in link or "%24filter" in link  # the filter survives paging
    rest = client.get(link).json()
    found += [e["id"] for e in rest["value"]]
    assert "@odata.nextLink" not in rest
    assert set(found) == masters and len(found) == 3
    singles = client.get("/me/events", params={"$filter": "type eq 'singleInstance'"}).json()
    assert len(singles["value"]) == 2
    # The list holds singles and masters only, never occurrences.
    none = client.get("/me/events", params={"$filter": "type eq 'occurrence'"}).json()
    assert none["value"] == []


@pytest.mark.parametrize(
    "expression",
    ["type eq 'master'", "type eq seriesMaster", "subject eq 'x'", "type ne 'seriesMaster'"],
)
def test_other_event_filters_are_refused(client: httpx.Client, expression: str) -> None:
    reply = client.get("/me/events", params={"$filter": expression})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "BadRequest"
