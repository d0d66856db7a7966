"""The default 1 s debounce has a leading edge: an isolated change is sent at once,
and only the changes that follow within the window wait for it, folded into one.

The relay's passes (`OutboxRelay.run_once`, the work of one `run_forever` loop)
run against a real store and a real receiver; the store's clock, which decides
when a delivery is due, is the wall clock plus an offset that the test moves
forward. The clock is frozen once the channel is verified, so "within the window"
and "after the window" are the test's choice and never a race with a loaded
machine (eight commits on a busy PostgreSQL can take longer than the window).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from calsync.config import Settings
from calsync.notify.channels import create_channel
from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from calsync.store import EventQuery, Store
from calsync.store.channel_records import ChannelRecord, DeliveryRecord
from calsync.store.records import CalendarRecord
from tests.fixtures.api import make_settings
from tests.fixtures.store import StoreClock, content, new_calendar
from tests.integration.notify_receiver import Received, Receiver, running_receiver

DEBOUNCE = timedelta(seconds=1)  # the [notify] debounce default
BURST = 8


@pytest.fixture
def settings(store_url: str) -> Settings:
    base = make_settings(store_url, "http://127.0.0.1:9", 9)
    return replace(base, notify=replace(base.notify, debounce=DEBOUNCE))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def _changes(received: list[Received]) -> list[Received]:
    return [r for r in received if r.kind == "change"]


def _since(item: Received) -> datetime:
    text = item.json["notification"]["changes_since"]
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _world(
    store: Store, settings: Settings, receiver: Receiver
) -> tuple[CalendarRecord, ChannelRecord, OutboxRelay]:
    assert settings.notify.debounce == DEBOUNCE
    calendar = new_calendar(store)
    with store.read() as uow:
        account = uow.accounts.get(calendar.account_pk)
    channel, _ = create_channel(store, settings, account, receiver.url, None)
    policy = RetryPolicy(schedule=[timedelta(milliseconds=50)] * 3, jitter=0.0)
    relay = OutboxRelay(store, settings, policy=policy)
    relay.run_once()
    assert [r.kind for r in receiver.received] == ["verification"]
    return calendar, channel, relay


def _write(store: Store, calendar: CalendarRecord, event_id: str) -> str:
    with store.write() as uow:
        write = uow.events.upsert_managed(calendar.pk, event_id, content(event_id))
    assert write.event is not None
    return write.event.event_uid


def _pending_change(store: Store, channel: ChannelRecord) -> DeliveryRecord:
    with store.read() as uow:
        (pending,) = [
            d
            for d in uow.channels.list_deliveries(channel.pk, status="pending")
            if d.kind == "change"
        ]
    return pending


def test_an_isolated_change_goes_at_once_and_a_burst_after_it_waits_for_the_window(
    store: Store, settings: Settings, receiver: Receiver, store_clock: StoreClock
) -> None:
    calendar, channel, relay = _world(store, settings, receiver)
    store_clock.freeze()
    store_clock.offset += 2 * DEBOUNCE  # a quiet period since the verification

    first_uid = _write(store, calendar, "first")
    assert relay.run_once() == 1, "an isolated change is not held for the debounce"
    (first,) = _changes(receiver.received)

    burst = []
    for i in range(BURST):  # each commit followed by a relay pass, all within the window
        burst.append(_write(store, calendar, f"burst-{i}"))
        assert relay.run_once() == 0
    assert _changes(receiver.received) == [first]
    held = _pending_change(store, channel)
    with store.read() as uow:
        sent_at = uow.channels.get(channel.account_pk, channel.channel_id).last_success_at
    assert sent_at is not None and held.next_attempt_at == sent_at + DEBOUNCE
    assert held.change_count == BURST, "the burst is folded into one notification"

    store_clock.offset += DEBOUNCE  # the window ends
    assert relay.run_once() == 1
    first_again, second = _changes(receiver.received)
    assert first_again == first and second.webhook_id != first.webhook_id
    with store.read() as uow:
        seen_first = uow.events.list_changed(
            EventQuery(account_pk=channel.account_pk, since=_since(first), include_managed=True)
        )
        seen_second = uow.events.list_changed(
            EventQuery(account_pk=channel.account_pk, since=_since(second), include_managed=True)
        )
    assert first_uid in {e.event_uid for e in seen_first}
    assert set(burst) <= {e.event_uid for e in seen_second}

    store_clock.offset += 2 * DEBOUNCE  # quiet again: the next change is isolated
    _write(store, calendar, "later")
    assert relay.run_once() == 1
    assert len(_changes(receiver.received)) == 3


def test_a_change_while_a_notification_is_in_flight_waits_for_the_window(
    store: Store, settings: Settings, receiver: Receiver, store_clock: StoreClock
) -> None:
    calendar, channel, relay = _world(store, settings, receiver)
    store_clock.freeze()
    store_clock.offset += 2 * DEBOUNCE
    in_flight, release = threading.Event(), threading.Event()

    def hold_the_first_change(item: Received) -> tuple[int, dict[str, str]]:
        if item.kind == "change" and not in_flight.is_set():
            in_flight.set()
            release.wait(30)
        return 200, {}

    receiver.respond = hold_the_first_change
    _write(store, calendar, "first")
    sending = threading.Thread(target=relay.run_once)
    sending.start()
    try:
        assert in_flight.wait(30)
        with store.read() as uow:
            (leased,) = [
                d
                for d in uow.channels.list_deliveries(channel.pk, status="pending")
                if d.kind == "change"
            ]
        _write(store, calendar, "second")
        OutboxRelay(store, settings).fan_out()  # another relay's pass meanwhile
        with store.read() as uow:
            waiting = [
                d
                for d in uow.channels.list_deliveries(channel.pk, status="pending")
                if d.webhook_id != leased.webhook_id and d.kind == "change"
            ]
        (second,) = waiting
        assert second.next_attempt_at == leased.next_attempt_at + DEBOUNCE
    finally:
        release.set()
        sending.join(30)
    assert len(_changes(receiver.received)) == 1
    store_clock.offset += DEBOUNCE
    assert relay.run_once() == 1
    assert len(_changes(receiver.received)) == 2
