"""Deliveries that must not be followed or sent: redirects, and SSRF at delivery time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from calsync.config import Settings
from calsync.notify.channels import create_channel
from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from calsync.store import Store
from calsync.store.channel_records import ChannelRecord, DeliveryRecord
from tests.fixtures.api import make_settings
from tests.fixtures.store import new_calendar
from tests.integration.notify_receiver import Received, Receiver, running_receiver

FAST = RetryPolicy(schedule=[timedelta(milliseconds=50)] * 3, jitter=0.0)
#: A public address (never contacted: the delivery is refused before any connection).
PUBLIC = "93.184.216.34"


@pytest.fixture
def settings(store_url: str) -> Settings:
    return make_settings(store_url, "http://127.0.0.1:9", 9)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def _status(store: Store, channel: ChannelRecord) -> tuple[ChannelRecord, list[DeliveryRecord]]:
    with store.read() as uow:
        (status,) = uow.channels.list(channel.account_pk)
        return status, uow.channels.list_deliveries(channel.pk)


def test_a_redirect_is_not_followed_counts_as_a_failure_and_is_retried(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    with running_receiver() as elsewhere:
        answers = iter([(302, {"Location": elsewhere.url})])

        def respond(_item: Received) -> tuple[int, dict[str, str]]:
            return next(answers, (200, {}))

        receiver.respond = respond
        calendar = new_calendar(store)
        with store.read() as uow:
            account = uow.accounts.get(calendar.account_pk)
        channel, _ = create_channel(store, settings, account, receiver.url, None)
        relay = OutboxRelay(store, settings, policy=FAST)
        try:
            assert relay.run_once() == 0
            status, (delivery,) = _status(store, channel)
            assert elsewhere.all_attempts == []  # the Location was never requested
            assert [a.kind for a in receiver.all_attempts] == ["verification"]
            assert receiver.received == []
            assert status.failure_count == 1 and status.last_error == "HTTP 302"
            assert delivery.status == "pending" and delivery.last_status == 302
            assert status.next_attempt_at is not None

            time.sleep(0.06)  # past the retry delay: the same notification again
            assert relay.run_once() == 1
        finally:
            relay.close()
        assert elsewhere.all_attempts == []
        (first, second) = receiver.all_attempts
        assert second.webhook_id == first.webhook_id
        status, (delivery,) = _status(store, channel)
        assert delivery.status == "delivered" and status.failure_count == 0


class Rebinding:
    """DNS that answers a public address at creation, then ``later`` (a rebinding attack)."""

    def __init__(self, later: str) -> None:
        self.later = later
        self.calls: list[str] = []

    def __call__(self, host: str, _port: int) -> list[str]:
        self.calls.append(host)
        return [PUBLIC] if len(self.calls) == 1 else [self.later]


@pytest.mark.parametrize("later", ["127.0.0.1", "10.1.2.3", "::ffff:10.0.0.1"])
def test_a_host_that_resolves_to_a_private_address_at_delivery_is_refused(
    store: Store, settings: Settings, receiver: Receiver, later: str
) -> None:
    settings = replace(settings, notify=replace(settings.notify, allow_private_callbacks=False))
    sent: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        sent.append(request)  # a real client, but nothing leaves the process
        return httpx.Response(200)

    resolve = Rebinding(later)
    port = receiver.server.server_address[1]
    calendar = new_calendar(store)
    with store.read() as uow:
        account = uow.accounts.get(calendar.account_pk)
    url = f"http://hooks.example.com:{port}/hook"
    channel, _ = create_channel(store, settings, account, url, None, resolve=resolve)
    relay = OutboxRelay(
        store,
        settings,
        lambda: httpx.Client(transport=httpx.MockTransport(transport)),
        policy=FAST,
        resolve=resolve,
    )
    try:
        assert relay.run_once() == 0
    finally:
        relay.close()
    assert resolve.calls == ["hooks.example.com", "hooks.example.com"]
    assert sent == [] and receiver.all_attempts == []  # refused before connecting
    status, (delivery,) = _status(store, channel)
    assert status.failure_count == 1 and "callback refused" in (status.last_error or "")
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status is None and status.next_attempt_at is not None
