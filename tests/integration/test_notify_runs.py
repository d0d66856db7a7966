"""Runs of deliveries per channel: order, one request at a time, and a failure mid-run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from calsync.config import Settings
from calsync.notify.channels import enqueue_profile_event
from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from calsync.store import Store
from tests.fixtures.api import make_settings
from tests.fixtures.store import new_calendar
from tests.integration.notify_receiver import Received, Receiver, running_receiver
from tests.integration.test_notify_relay import make_channel

SLOW = RetryPolicy(schedule=[timedelta(minutes=5)] * 3, jitter=0.0)
QUEUED = 12


@pytest.fixture
def settings(store_url: str) -> Settings:
    return make_settings(store_url, "http://127.0.0.1:9", 9)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def _queue_profile_events(store: Store, account_pk: int, count: int) -> None:
    with store.read() as uow:
        account = uow.accounts.get(account_pk)
        (profile,) = uow.profiles.list(account_pk)
    with store.write() as uow:
        for _ in range(count):
            enqueue_profile_event(uow, account, profile, "profile_initial_sync_completed")


def test_a_run_is_sent_in_order_one_request_at_a_time(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    channel, _ = make_channel(store, settings, receiver.url)
    _queue_profile_events(store, channel.account_pk, QUEUED)
    in_flight, overlap, lock = 0, False, threading.Lock()

    def respond(_item: Received) -> tuple[int, dict[str, str]]:
        nonlocal in_flight, overlap
        with lock:
            in_flight += 1
            overlap |= in_flight > 1
        time.sleep(0.002)
        with lock:
            in_flight -= 1
        return 200, {}

    receiver.respond = respond
    relay = OutboxRelay(store, settings, per_channel=5)
    sent = 0
    for _ in range(10):
        sent += relay.run_once()
    relay.close()
    assert sent == QUEUED + 1  # the verification too
    with store.read() as uow:
        deliveries = uow.channels.list_deliveries(channel.pk)
    assert [d.status for d in deliveries] == ["delivered"] * (QUEUED + 1)
    assert [r.webhook_id for r in receiver.received] == [d.webhook_id for d in deliveries]
    assert not overlap


def test_a_failure_stops_the_run_and_gives_back_the_rest_unattempted(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    channel, _ = make_channel(store, settings, receiver.url)
    _queue_profile_events(store, channel.account_pk, QUEUED)
    answers = iter([200, 200, 503])
    receiver.respond = lambda _item: (next(answers, 200), {})
    relay = OutboxRelay(store, settings, policy=SLOW, per_channel=QUEUED + 1)
    assert relay.run_once() == 2
    relay.close()
    with store.read() as uow:
        first, second, failed, *rest = uow.channels.list_deliveries(channel.pk)
    assert (first.status, second.status) == ("delivered", "delivered")
    assert failed.status == "pending" and failed.attempts == 1 and failed.last_status == 503
    assert failed.lease_until is None
    assert len(rest) == QUEUED - 2
    # Never sent, so never attempted: pending, unleased, and not counted.
    assert {(d.status, d.attempts, d.lease_until) for d in rest} == {("pending", 0, None)}
    assert len(receiver.all_attempts) == 3


def test_a_closed_channel_mid_run_records_nothing_for_it(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    calendar = new_calendar(store, "work")
    channel, _ = make_channel(store, settings, receiver.url)
    _queue_profile_events(store, calendar.account_pk, 3)
    closed = threading.Event()

    def respond(_item: Received) -> tuple[int, dict[str, str]]:
        if not closed.is_set():
            with store.write() as uow:
                uow.channels.delete(channel.account_pk, channel.channel_id)
            closed.set()
        return 200, {}

    receiver.respond = respond
    relay = OutboxRelay(store, settings, per_channel=10)
    relay.run_once()  # records outcomes for rows that are gone: no error
    relay.close()
    with store.read() as uow:
        assert uow.channels.list_deliveries(channel.pk) == []
