"""Injected faults of the fake Graph server: throttling, outages, lost replies, races."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.graph_testing import event_body, graph_client, graph_fake, soon
from tests.fakes.microsoft_graph import MicrosoftGraphFake

__all__ = ["graph_fake"]


@pytest.fixture
def client(graph_fake: MicrosoftGraphFake) -> Iterator[httpx.Client]:
    with graph_client(graph_fake) as c:
        yield c


@pytest.mark.parametrize(
    ("status", "retry_after", "header", "code"),
    [
        (429, 2, "2", "ApplicationThrottled"),
        (429, 0.25, "0.25", "ApplicationThrottled"),
        (503, 1.5, "1.5", "serviceNotAvailable"),
        (504, None, None, "UnknownError"),
    ],
)
def test_failures_carry_graph_error_bodies_and_retry_after(
    client: httpx.Client,
    graph_fake: MicrosoftGraphFake,
    status: int,
    retry_after: float | None,
    header: str | None,
    code: str,
) -> None:
    graph_fake.fail_next(status, retry_after=retry_after, count=2)
    for _ in range(2):
        failed = client.get("/me/calendars", headers={"client-request-id": "req-1"})
        assert failed.status_code == status
        assert failed.headers.get("retry-after") == header
        error = failed.json()["error"]
        assert error["code"] == code and error["message"]
        assert error["innerError"]["request-id"] == "req-1"
        assert failed.headers["request-id"] == "req-1"
    assert client.get("/me/calendars").status_code == 200


def test_faults_can_target_one_method_and_path(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    graph_fake.fail_next(503, method="POST", path_contains="/events")
    assert client.get("/me/calendars").status_code == 200
    assert client.get("/me/events").status_code == 200
    assert client.post("/me/events", json=event_body("x", soon())).status_code == 503
    assert client.post("/me/events", json=event_body("x", soon())).status_code == 201


def test_a_lost_reply_was_still_processed(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    created = client.post("/me/events", json=event_body("v1", soon())).json()
    graph_fake.lose_next_responses(1)
    with pytest.raises(httpx.TransportError):
        client.patch(f"/me/events/{created['id']}", json={"subject": "v2"})
    after = client.get(f"/me/events/{created['id']}").json()
    assert after["subject"] == "v2" and after["changeKey"] != created["changeKey"]


def test_another_client_racing_ours_makes_if_match_stale(
    client: httpx.Client, graph_fake: MicrosoftGraphFake
) -> None:
    created = client.post("/me/events", json=event_body("mine", soon())).json()
    graph_fake.on_next_request(
        "PATCH", created["id"], lambda: graph_fake.patch_event(created["id"], {"subject": "theirs"})
    )
    raced = client.patch(
        f"/me/events/{created['id']}",
        json={"subject": "mine, edited"},
        headers={"If-Match": created["@odata.etag"]},
    )
    assert raced.status_code == 412
    assert client.get(f"/me/events/{created['id']}").json()["subject"] == "theirs"


def test_requests_are_recorded(client: httpx.Client, graph_fake: MicrosoftGraphFake) -> None:
    client.get("/me/calendars")
    client.post("/me/events", json=event_body("x", soon()))
    assert graph_fake.count("GET", "/me/calendars") == 1
    assert graph_fake.count("POST", "/events") == 1
    post = next(r for r in graph_fake.requests if r.method == "POST")
    assert post.status == 201 and post.json["subject"] == "x"
    assert post.headers["authorization"].startswith("Bearer ")
