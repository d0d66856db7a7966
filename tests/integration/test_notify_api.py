"""``/v1/channels`` through pycronofy and raw HTTP, with real receivers on loopback."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pycronofy
import pytest
import standardwebhooks
from fastapi import FastAPI

from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from tests.fixtures.api import (
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    bearer,
    create_app_calendar,
    get,
    run_api_server,
)
from tests.fixtures.e2e import caldav_account, open_account
from tests.fixtures.radicale import RadicaleCalendar, vevent_ics
from tests.fixtures.store import content
from tests.integration.notify_receiver import Received, Receiver, running_receiver

FAST = RetryPolicy(schedule=[timedelta(milliseconds=50)] * 3, jitter=0.0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def with_notify(policy: RetryPolicy | None = None, **notify: Any) -> Any:
    """A ``configure_app`` hook replacing ``[notify]`` settings (and the API's retry policy)."""

    def configure(app: FastAPI) -> None:
        services = app.state.services
        settings = replace(services.settings, notify=replace(services.settings.notify, **notify))
        app.state.services = replace(services, settings=settings)
        if policy is not None:
            app.state.notify_relay = OutboxRelay(services.store, settings, policy=policy)

    return configure


def create(http: httpx.Client, token: str, **body: Any) -> httpx.Response:
    return http.post("/v1/channels", json=body, headers=bearer(token))


def test_pycronofy_create_list_close_and_signed_verification(
    cronofy: pycronofy.Client, receiver: Receiver, app_calendar: AppCalendar
) -> None:
    channel = cronofy.create_notification_channel(
        receiver.url, calendar_ids=(app_calendar.calendar_id,)
    )
    assert channel["channel_id"].startswith("chn_")
    assert channel["filters"] == {"calendar_ids": [app_calendar.calendar_id]}
    (verification,) = receiver.received  # sent before the create call returned
    body = verification.body.decode()
    assert verification.json["notification"] == {"type": "verification"}
    assert verification.json["channel"] == channel
    assert cronofy.hmac_valid(verification.headers["cronofy-hmac-sha256"], body)
    assert not cronofy.hmac_valid(verification.headers["cronofy-hmac-sha256"], body + " ")
    verifier = standardwebhooks.Webhook(base64.b64encode(CLIENT_SECRET.encode()).decode())
    verifier.verify(verification.body, verification.headers)

    (listed,) = cronofy.list_notification_channels()
    assert listed["channel_id"] == channel["channel_id"]
    assert listed["status"]["failure_count"] == 0
    assert listed["status"]["last_success_at"] is not None
    assert listed["status"]["disabled"] is False
    cronofy.close_notification_channel(channel["channel_id"])
    assert cronofy.list_notification_channels() == []


def test_raw_http_rules(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar, receiver: Receiver
) -> None:
    token = app_calendar.access_token
    first = create(http, token, callback_url=receiver.url)
    assert first.status_code == 200, first.text
    again = create(http, token, callback_url=receiver.url, filters={"only_managed": False})
    assert again.json() == first.json()  # identical (normalised) channel: the same one
    assert len(receiver.received) == 1  # and no second verification

    other = create_app_calendar(http, "another-app-calendar")
    foreign = create(
        http, token, callback_url=receiver.url, filters={"calendar_ids": [other.calendar_id]}
    )
    unknown = create(http, token, callback_url=receiver.url, filters={"calendar_ids": ["cal_nope"]})
    assert foreign.status_code == unknown.status_code == 422
    assert foreign.json() == unknown.json()  # another account's calendar looks unknown
    assert create(http, token).status_code == 422
    assert create(http, token, callback_url="ftp://127.0.0.1/x").status_code == 422

    channel_id = first.json()["channel"]["channel_id"]
    gone = http.request("DELETE", f"/v1/channels/{channel_id}", json={}, headers=other.headers)
    assert gone.status_code == 404  # another account's channel looks like no channel
    assert (
        http.request(
            "DELETE", f"/v1/channels/{channel_id}", json={}, headers=bearer(token)
        ).status_code
        == 202
    )
    assert get(http, "/v1/channels", token).json() == {"channels": []}
    assert get(http, "/v1/channels").status_code == 401


def test_at_most_128_channels(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar, receiver: Receiver
) -> None:
    token = app_calendar.access_token
    with api_server.store.write() as uow:  # 127 through the store: quicker than HTTP
        account = uow.accounts.get_by_sub(app_calendar.sub)
        for i in range(127):
            uow.channels.create(
                account.pk, f"{receiver.url}?n={i}", {}, fingerprint=str(i), max_channels=128
            )
    assert create(http, token, callback_url=f"{receiver.url}?n=127").status_code == 200
    refused = create(http, token, callback_url=f"{receiver.url}?n=128")
    assert refused.status_code == 422
    assert "errors.too_many_channels" in refused.text


def test_callbacks_to_private_addresses_are_refused(store_url: str) -> None:
    with (
        run_api_server(store_url, configure_app=with_notify(allow_private_callbacks=False)) as srv,
        httpx.Client(base_url=srv.base_url) as http,
    ):
        token = create_app_calendar(http, "ssrf").access_token
        for url in (
            "http://127.0.0.1:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/",
            "http://localhost/",
        ):
            response = create(http, token, callback_url=url)
            assert response.status_code == 422, url
            assert "errors.invalid_callback_url" in response.text


def test_no_client_secret_refuses_channels(store_url: str, receiver: Receiver) -> None:
    with run_api_server(store_url) as srv, httpx.Client(base_url=srv.base_url) as http:
        token = create_app_calendar(http, "nosecret").access_token
        srv.app.state.services = replace(
            srv.services,
            settings=replace(srv.settings, api=replace(srv.settings.api, client_secret_file=None)),
        )
        response = create(http, token, callback_url=receiver.url)
    assert response.status_code == 422
    assert "errors.signing_secret_missing" in response.text
    assert receiver.all_attempts == []


def test_slow_verification_keeps_the_channel_and_is_retried(
    store_url: str, receiver: Receiver
) -> None:
    answer = threading.Event()

    def hold_the_first(_item: Received) -> tuple[int, dict[str, str]]:
        answer.wait(30)  # nothing is answered before the channel was created
        return 200, {}

    receiver.respond = hold_the_first
    with (
        run_api_server(
            store_url, configure_app=with_notify(FAST, verification_timeout=timedelta(seconds=0.3))
        ) as srv,
        httpx.Client(base_url=srv.base_url, timeout=10) as http,
    ):
        token = create_app_calendar(http, "slow").access_token
        created = create(http, token, callback_url=receiver.url)
        assert created.status_code == 200
        # Created while the receiver had answered nothing: no waiting for it.
        assert receiver.all_attempts == []
        answer.set()
        (status,) = get(http, "/v1/channels", token).json()["channels"]
        assert status["status"]["failure_count"] == 1
        assert status["status"]["next_attempt_at"] is not None
        assert status["status"]["last_success_at"] is None
        relay = OutboxRelay(srv.store, srv.settings, policy=FAST)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and relay.run_once() == 0:
            time.sleep(0.05)
        relay.close()
        (status,) = get(http, "/v1/channels", token).json()["channels"]
    ids = {a.webhook_id for a in receiver.all_attempts}
    assert len(ids) == 1  # the timed-out attempt and the retry are one notification
    assert [r.kind for r in receiver.received][-1] == "verification"
    assert status["status"]["failure_count"] == 0


def test_upsert_through_the_api_is_notified_and_readable(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar, receiver: Receiver
) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    if "/v1/calendars/{calendar_id}/events" not in paths or "/v1/events" not in paths:
        pytest.skip("the events API (API-EVENTS) is not in this tree yet")
    token = app_calendar.access_token
    assert create(http, token, callback_url=receiver.url).status_code == 200
    upsert = http.post(
        f"/v1/calendars/{app_calendar.calendar_id}/events",
        json={
            "event_id": "notify-1",
            "summary": "Notified",
            "start": "2026-12-01T09:00:00Z",
            "end": "2026-12-01T10:00:00Z",
        },
        headers=bearer(token),
    )
    assert upsert.status_code == 202, upsert.text
    relay = OutboxRelay(api_server.store, api_server.settings, policy=FAST)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(r.kind == "change" for r in receiver.received):
        relay.run_once()
        time.sleep(0.05)
    relay.close()
    change = next(r for r in receiver.received if r.kind == "change")
    since = change.json["notification"]["changes_since"]
    events = get(
        http,
        "/v1/events",
        token,
        params={
            "tzid": "UTC",
            "from": "2026-11-01",
            "to": "2027-01-01",
            "last_modified": since,
            "include_managed": "true",
        },
    )
    assert events.status_code == 200, events.text
    assert "notify-1" in {e.get("event_id") for e in events.json()["events"]}


def test_a_change_on_radicale_is_notified(
    radicale_calendar: RadicaleCalendar, e2e_store_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """A change made on Radicale, synced by the engine, reaches a channel of that
    account; the notification's ``changes_since`` reads it back."""
    with open_account(e2e_store_url, tmp_path, caldav_account(radicale_calendar)) as e2e:
        e2e.sync_ok()  # discovers the calendar
        response = create(e2e.http, e2e.token, callback_url=receiver.url)
        assert response.status_code == 200, response.text
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        radicale_calendar.put(
            "radicale-change.ics",
            vevent_ics(
                "radicale-change@e2e",
                f"DTSTAMP:20260101T000000Z\nDTSTART:{start:%Y%m%dT%H%M%SZ}\n"
                f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\nSUMMARY:From Radicale",
            ),
        )
        assert e2e.sync_ok().calendars[0].upserted == 1
        relay = OutboxRelay(e2e.server.store, e2e.server.settings, policy=FAST)
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not any(
                r.kind == "change" for r in receiver.received
            ):
                relay.run_once()
                time.sleep(0.05)
        finally:
            relay.close()
        change = next(r for r in receiver.received if r.kind == "change")
        since = change.json["notification"]["changes_since"]
        assert [e["summary"] for e in e2e.read(last_modified=since)] == ["From Radicale"]


def test_next_attempt_at_follows_the_head_of_the_queue_not_older_waiting_deliveries(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar, receiver: Receiver
) -> None:
    """A channel's deliveries go out in order, so its next attempt is its oldest
    pending delivery's: a change queued behind a verification that is backing
    off must not make ``next_attempt_at`` show the change's (past) creation time."""
    receiver.respond = lambda _r: (429, {"Retry-After": "600"})
    token = app_calendar.access_token
    before = datetime.now(UTC)
    assert create(http, token, callback_url=receiver.url).status_code == 200
    (verification,) = receiver.all_attempts  # answered 429: retried in 10 minutes
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        calendar = uow.calendars.get(account.pk, app_calendar.calendar_id)
        uow.events.upsert_managed(calendar.pk, "queued-1", content("Queued"))
    relay = OutboxRelay(api_server.store, api_server.settings, policy=FAST)
    relay.run_once()  # fans the change out; the verification is not due, so nothing is sent
    relay.close()
    assert receiver.all_attempts == [verification]
    time.sleep(1.1)  # the change's own due time is now clearly in the past
    (listed,) = get(http, "/v1/channels", token).json()["channels"]
    next_attempt = datetime.strptime(
        listed["status"]["next_attempt_at"], "%Y-%m-%dT%H:%M:%SZ"
    ).replace(tzinfo=UTC)
    assert next_attempt >= before + timedelta(seconds=599)
