"""Subscriptions on the fake Graph server: the validation handshake, notifications, lifecycle.

A real HTTP receiver on 127.0.0.1 plays the client's webhook endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.graph_testing import WebhookReceiver, event_body, graph_client, graph_fake, soon
from tests.fakes.microsoft_graph import MicrosoftGraphFake

__all__ = ["graph_fake"]


@pytest.fixture
def client(graph_fake: MicrosoftGraphFake) -> Iterator[httpx.Client]:
    with graph_client(graph_fake) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def expires(minutes: float = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def subscription(calendar: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "changeType": "created,updated,deleted",
        "notificationUrl": url,
        "resource": f"me/calendars/{calendar}/events",
        "expirationDateTime": expires(),
        "clientState": "s3cret",
        **extra,
    }


def changes(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [n for payload in receiver.notifications for n in payload["value"] if "changeType" in n]


def test_the_handshake_echoes_the_decoded_token_and_creates_the_subscription(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = client.post(
        "/subscriptions", json=subscription(graph_fake.default_calendar_id, receiver.url)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["clientState"] == "s3cret" and body["changeType"] == "created,updated,deleted"
    assert body["applicationId"] == graph_fake.client_id
    assert len(receiver.validations) == 1
    assert receiver.validations[0].startswith("Validation: Testing client application")
    listed = client.get("/subscriptions").json()["value"]
    assert [s["id"] for s in listed] == [body["id"]]


@pytest.mark.parametrize("mode", ["wrong-body", "html", "not-decoded", "status-500"])
def test_a_failed_handshake_creates_nothing(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver, mode: str
) -> None:
    receiver.mode = mode
    refused = client.post(
        "/subscriptions", json=subscription(graph_fake.default_calendar_id, receiver.url)
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("Subscription validation request failed.")
    assert receiver.validations  # the handshake was attempted
    assert client.get("/subscriptions").json()["value"] == []


def test_a_handshake_answered_too_late_fails(receiver: WebhookReceiver) -> None:
    receiver.mode, receiver.delay = "slow", 1.5
    with MicrosoftGraphFake(validation_timeout=0.3) as fake, graph_client(fake) as client:
        refused = client.post(
            "/subscriptions", json=subscription(fake.default_calendar_id, receiver.url)
        )
        assert refused.status_code == 400
        assert "200 OK" in refused.json()["error"]["message"]


def test_the_lifecycle_url_is_validated_too(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    with WebhookReceiver() as lifecycle:
        body = subscription(
            graph_fake.default_calendar_id, receiver.url, lifecycleNotificationUrl=lifecycle.url
        )
        assert client.post("/subscriptions", json=body).status_code == 201
        assert len(receiver.validations) == len(lifecycle.validations) == 1


@pytest.mark.parametrize(
    "change",
    [
        # Expiry times are made when the test runs: collected minutes earlier
        # (a busy machine, many workers), "4231 minutes from now" would not be.
        lambda: {"expirationDateTime": expires(4231)},
        lambda: {"expirationDateTime": expires(-5)},
        lambda: {"expirationDateTime": "2030-01-01T00:00:00"},
        lambda: {"clientState": None},
        lambda: {"changeType": "created,moved"},
        lambda: {"resource": "me/messages"},
        lambda: {"notificationUrl": "http://example.com/hook"},
        lambda: {"includeResourceData": True},
        lambda: {"notificationURL": "https://example.com/hook"},
    ],
)
def test_requests_graph_refuses_get_400(
    graph_fake: MicrosoftGraphFake,
    client: httpx.Client,
    receiver: WebhookReceiver,
    change: Callable[[], dict[str, Any]],
) -> None:
    body = {**subscription(graph_fake.default_calendar_id, receiver.url), **change()}
    refused = client.post("/subscriptions", json={k: v for k, v in body.items() if v is not None})
    assert refused.status_code == 400, refused.text
    assert client.get("/subscriptions").json()["value"] == []


def test_too_long_a_subscription_names_the_limit(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    body = subscription(
        graph_fake.default_calendar_id, receiver.url, expirationDateTime=expires(5000)
    )
    refused = client.post("/subscriptions", json=body).json()["error"]
    assert refused["code"] == "ExtensionError"
    assert refused["message"] == "Subscription expiration can only be 4230 minutes in the future."


def test_changes_are_notified_per_subscribed_calendar(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    work = graph_fake.add_calendar("Work")
    sub = client.post("/subscriptions", json=subscription(work, receiver.url)).json()
    graph_fake.put_event(graph_fake.default_calendar_id, event_body("Elsewhere", soon()))
    created = client.post(f"/me/calendars/{work}/events", json=event_body("Here", soon())).json()
    client.patch(f"/me/events/{created['id']}", json={"subject": "Here, edited"})
    client.delete(f"/me/events/{created['id']}")

    assert receiver.wait_for(lambda _: len(changes(receiver)) >= 3)
    kinds = [(n["changeType"], n["resourceData"]["id"]) for n in changes(receiver)]
    assert kinds == [
        ("created", created["id"]),
        ("updated", created["id"]),
        ("deleted", created["id"]),
    ]
    first = changes(receiver)[0]
    assert first["subscriptionId"] == sub["id"] and first["clientState"] == "s3cret"
    assert first["tenantId"] == graph_fake.tenant_id
    assert first["resource"] == f"Users/{graph_fake.user_id}/Events/{created['id']}"
    assert first["resourceData"]["@odata.etag"] == created["@odata.etag"]
    assert first["subscriptionExpirationDateTime"] == sub["expirationDateTime"]


def test_change_types_filter_notifications(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    calendar = graph_fake.default_calendar_id
    client.post("/subscriptions", json=subscription(calendar, receiver.url, changeType="deleted"))
    event = graph_fake.put_event(calendar, event_body("x", soon()))
    graph_fake.patch_event(event, {"subject": "y"})
    graph_fake.delete_event(event)
    assert receiver.wait_for(lambda _: len(changes(receiver)) >= 1)
    assert [n["changeType"] for n in changes(receiver)] == ["deleted"]


def test_renewal_deletion_and_expiry(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    calendar = graph_fake.default_calendar_id
    sub = client.post("/subscriptions", json=subscription(calendar, receiver.url)).json()
    renewed = client.patch(
        f"/subscriptions/{sub['id']}", json={"expirationDateTime": expires(4000)}
    )
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > sub["expirationDateTime"]
    too_far = client.patch(
        f"/subscriptions/{sub['id']}", json={"expirationDateTime": expires(9000)}
    )
    assert too_far.status_code == 400
    assert client.patch(f"/subscriptions/{sub['id']}", json={"clientState": "x"}).status_code == 400

    assert client.delete(f"/subscriptions/{sub['id']}").status_code == 204
    assert client.get(f"/subscriptions/{sub['id']}").status_code == 404
    kept = client.post("/subscriptions", json=subscription(calendar, receiver.url)).json()
    graph_fake.put_event(calendar, event_body("after", soon()))
    assert receiver.wait_for(lambda _: len(changes(receiver)) >= 1)
    assert {n["subscriptionId"] for n in changes(receiver)} == {kept["id"]}

    graph_fake.expire_subscription(kept["id"])
    assert (
        client.patch(
            f"/subscriptions/{kept['id']}", json={"expirationDateTime": expires()}
        ).status_code
        == 404
    )


def test_lifecycle_events(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    calendar = graph_fake.default_calendar_id
    with WebhookReceiver() as lifecycle:
        body = subscription(calendar, receiver.url, lifecycleNotificationUrl=lifecycle.url)
        sub = client.post("/subscriptions", json=body).json()

        graph_fake.send_lifecycle_event(sub["id"], "reauthorizationRequired")
        assert lifecycle.wait_for(lambda n: len(n) >= 1)
        event = lifecycle.notifications[0]["value"][0]
        assert event["lifecycleEvent"] == "reauthorizationRequired"
        assert event["subscriptionId"] == sub["id"] and event["clientState"] == "s3cret"
        graph_fake.put_event(calendar, event_body("while paused", soon()))
        assert len(graph_fake.dropped_notifications) == 1
        assert client.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
        graph_fake.put_event(calendar, event_body("resumed", soon()))
        assert receiver.wait_for(lambda _: len(changes(receiver)) >= 1)
        assert len(changes(receiver)) == 1

        graph_fake.send_lifecycle_event(sub["id"], "missed")
        graph_fake.send_lifecycle_event(sub["id"], "subscriptionRemoved")
        assert lifecycle.wait_for(lambda n: len(n) >= 3)
        kinds = [p["value"][0]["lifecycleEvent"] for p in lifecycle.notifications]
        assert kinds == ["reauthorizationRequired", "missed", "subscriptionRemoved"]
        assert client.get(f"/subscriptions/{sub['id']}").status_code == 404


def test_failed_deliveries_are_retried(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    calendar = graph_fake.default_calendar_id
    sub = client.post("/subscriptions", json=subscription(calendar, receiver.url)).json()
    receiver.notification_status = 500
    graph_fake.put_event(calendar, event_body("x", soon()))
    deadline = time.monotonic() + 15  # a guard, not a timing assertion
    while len(graph_fake.notifications_for(sub["id"])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    attempts = graph_fake.notifications_for(sub["id"])
    assert [a.status for a in attempts][:2] == [500, 500]
    assert attempts[0].body == attempts[1].body


def test_resource_paths_name_the_calendars_watched(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    other = graph_fake.add_calendar("Other")
    default_only = subscription(graph_fake.default_calendar_id, receiver.url)
    default_only["resource"] = "me/calendar/events"
    sub = client.post("/subscriptions", json=default_only).json()
    graph_fake.put_event(other, event_body("not watched", soon()))
    watched = graph_fake.put_event(graph_fake.default_calendar_id, event_body("watched", soon()))
    assert receiver.wait_for(lambda _: len(changes(receiver)) >= 1)
    assert [(n["subscriptionId"], n["resourceData"]["id"]) for n in changes(receiver)] == [
        (sub["id"], watched)
    ]
    someone_else = {**default_only, "resource": "users/someone@contoso.com/events"}
    assert client.post("/subscriptions", json=someone_else).status_code == 403
