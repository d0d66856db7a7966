"""The default 1 s debounce, with a relay running as the daemon runs it (`run_forever`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from calsync.config import Settings
from calsync.notify.channels import create_channel
from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from calsync.store import EventQuery, Store
from tests.fixtures.api import make_settings
from tests.fixtures.store import content, new_calendar
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


def test_a_burst_is_one_notification_covering_every_change(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    assert settings.notify.debounce == DEBOUNCE
    calendar = new_calendar(store)
    with store.read() as uow:
        account = uow.accounts.get(calendar.account_pk)
    create_channel(store, settings, account, receiver.url, None)
    policy = RetryPolicy(schedule=[timedelta(milliseconds=50)] * 3, jitter=0.0)
    relay = OutboxRelay(store, settings, policy=policy, poll_interval=0.02)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        assert receiver.wait_for(lambda got: [r.kind for r in got] == ["verification"])
        started = time.monotonic()
        uids = []
        for i in range(BURST):  # one commit each, spread over ~200 ms
            with store.write() as uow:
                write = uow.events.upsert_managed(calendar.pk, f"ev-{i}", content(f"E{i}"))
            assert write.event is not None
            uids.append(write.event.event_uid)
            time.sleep(0.025)
        burst_took = time.monotonic() - started
        assert burst_took < 0.6, f"the burst took {burst_took:.2f}s; too slow to test debounce"
        assert receiver.wait_for(lambda got: len(_changes(got)) >= 1, timeout=10)
        (first,) = _changes(receiver.received)
        # Held back by the debounce, measured from the first change, not sent at once.
        assert first.at - started >= DEBOUNCE.total_seconds() - 0.1
        time.sleep(DEBOUNCE.total_seconds() + 0.3)  # nothing else was queued for the burst
        assert _changes(receiver.received) == [first]
        with store.read() as uow:
            seen = uow.events.list_changed(
                EventQuery(account_pk=account.pk, since=_since(first), include_managed=True)
            )
        assert set(uids) <= {e.event_uid for e in seen}

        with store.write() as uow:  # a change after the delivery is a new notification
            later = uow.events.upsert_managed(calendar.pk, "ev-later", content("Later"))
        assert later.event is not None
        assert receiver.wait_for(lambda got: len(_changes(got)) == 2, timeout=10)
        second = _changes(receiver.received)[1]
        assert second.webhook_id != first.webhook_id
        assert _since(second) <= later.event.updated
        with store.read() as uow:
            seen = uow.events.list_changed(
                EventQuery(account_pk=account.pk, since=_since(second), include_managed=True)
            )
        assert later.event.event_uid in {e.event_uid for e in seen}
    finally:
        stop.set()
        thread.join(10)
