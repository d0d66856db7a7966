"""Secret rotation: deliveries carry one signature per active secret, each verifiable."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pycronofy
import pytest
import standardwebhooks

from calsync.config import Secret, Settings
from calsync.notify.channels import create_channel
from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from calsync.notify.signing import signing_secrets
from calsync.store import Store
from tests.fixtures.api import CLIENT_ID, CLIENT_SECRET, make_settings
from tests.fixtures.store import new_calendar
from tests.integration.notify_receiver import Received, Receiver, running_receiver

FAST = RetryPolicy(schedule=[timedelta(milliseconds=50)] * 3, jitter=0.0)
PREVIOUS = ("rotated-out-last-month", "rotated-out-last-year")


@pytest.fixture
def settings(store_url: str) -> Settings:
    base = make_settings(store_url, "http://127.0.0.1:9", 9)
    previous = tuple(Secret(value) for value in PREVIOUS)
    return replace(base, api=replace(base.api, previous_client_secret_files=previous))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def _deliver_verification(
    store: Store, settings: Settings, receiver: Receiver, relay: OutboxRelay
) -> Received:
    calendar = new_calendar(store)
    with store.read() as uow:
        account = uow.accounts.get(calendar.account_pk)
    create_channel(store, settings, account, receiver.url, None)
    try:
        assert relay.run_once() == 1
    finally:
        relay.close()
    (verification,) = receiver.received
    return verification


def _assert_every_secret_verifies(item: Received) -> None:
    header = item.headers["cronofy-hmac-sha256"]
    assert len(header.split(",")) == 1 + len(PREVIOUS)
    for secret in (CLIENT_SECRET, *PREVIOUS):
        client = pycronofy.Client(client_id=CLIENT_ID, client_secret=secret)
        assert client.hmac_valid(header, item.body.decode()), secret
        key = base64.b64encode(secret.encode()).decode()
        standardwebhooks.Webhook(key).verify(item.body, item.headers)
    stranger = pycronofy.Client(client_id=CLIENT_ID, client_secret="never-configured")
    assert not stranger.hmac_valid(header, item.body.decode())


def test_deliveries_are_signed_with_the_current_and_every_previous_secret(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    assert signing_secrets(settings) == (CLIENT_SECRET, *PREVIOUS)
    relay = OutboxRelay(store, settings, policy=FAST, secrets=signing_secrets(settings))
    _assert_every_secret_verifies(_deliver_verification(store, settings, receiver, relay))


def test_the_relay_built_from_settings_alone_signs_with_every_secret(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    relay = OutboxRelay(store, settings, policy=FAST)  # as the daemon and the API build it
    _assert_every_secret_verifies(_deliver_verification(store, settings, receiver, relay))
