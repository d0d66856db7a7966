"""The outbox relay against a real store (SQLite and PostgreSQL) and real HTTP receivers."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks

from calsync.config import Settings
from calsync.notify.channels import create_channel, enqueue_profile_event
from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from calsync.store import EventQuery, Store
from calsync.store.channel_records import ChannelRecord
from tests.fixtures.api import CLIENT_SECRET, make_settings
from tests.fixtures.store import StoreClock, content, new_calendar
from tests.integration.notify_receiver import Receiver, running_receiver

FAST = RetryPolicy(schedule=[timedelta(milliseconds=50)] * 3, jitter=0.0)


@pytest.fixture
def settings(store_url: str) -> Settings:
    return make_settings(store_url, "http://127.0.0.1:9", 9)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def relay_for(store: Store, settings: Settings, **kw: object) -> OutboxRelay:
    kw.setdefault("policy", FAST)
    return OutboxRelay(store, settings, **kw)  # type: ignore[arg-type]


def drain(relay: OutboxRelay, until: float = 5.0) -> None:
    """Run passes until nothing is due (retries included) or ``until`` seconds pass."""
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        relay.run_once()
        with relay._store.read() as uow:
            if not uow.channels.list_deliveries(status="pending") and not uow.outbox.count(
                status="pending"
            ):
                return
        time.sleep(0.02)


def make_channel(
    store: Store, settings: Settings, url: str, account_name: str = "work", **filters: object
) -> tuple[ChannelRecord, int]:
    calendar = new_calendar(store, account_name)
    with store.read() as uow:
        account = uow.accounts.get(calendar.account_pk)
    channel, _ = create_channel(store, settings, account, url, filters or None)
    return channel, calendar.pk


def test_verification_and_change_are_signed_and_cover_the_change(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    channel, calendar_pk = make_channel(store, settings, receiver.url)
    with store.write() as uow:
        write = uow.events.upsert_managed(calendar_pk, "ev-1", content("One"))
    relay = relay_for(store, settings)
    drain(relay)
    kinds = [r.kind for r in receiver.received]
    assert kinds == ["verification", "change"]
    verifier = standardwebhooks.Webhook(base64.b64encode(CLIENT_SECRET.encode()).decode())
    for item in receiver.received:
        assert verifier.verify(item.body, item.headers)["channel"]["channel_id"] == (
            channel.channel_id
        )
    change = receiver.received[1].json["notification"]
    since = datetime.strptime(change["changes_since"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert write.event is not None
    assert since <= write.event.updated < since + timedelta(seconds=1)
    with store.read() as uow:
        seen = uow.events.list_changed(
            EventQuery(account_pk=channel.account_pk, since=since, include_managed=True)
        )
    assert write.event.event_uid in {e.event_uid for e in seen}


def test_fan_out_is_idempotent_and_a_burst_collapses(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    channel, calendar_pk = make_channel(store, settings, receiver.url)
    for i in range(20):
        with store.write() as uow:
            uow.events.upsert_managed(calendar_pk, f"ev-{i}", content(f"E{i}"))
    relay = relay_for(store, settings)
    assert relay.fan_out() == 20
    assert relay.fan_out() == 0  # the outbox rows are consumed exactly once
    with store.read() as uow:
        pending = uow.channels.list_deliveries(channel.pk, status="pending")
    changes = [d for d in pending if d.kind == "change"]
    assert len(changes) == 1 and changes[0].change_count == 20
    drain(relay)
    assert [r.kind for r in receiver.received] == ["verification", "change"]


def test_receiver_down_then_up_same_webhook_id_and_nothing_lost(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    channel, calendar_pk = make_channel(store, settings, receiver.url)
    relay = relay_for(store, settings)
    drain(relay)  # verification
    receiver.respond = lambda _r: (503, {})
    with store.write() as uow:
        first = uow.events.upsert_managed(calendar_pk, "ev-a", content("A"))
    for _ in range(3):
        relay.run_once()
        time.sleep(0.06)
    failed = [a for a in receiver.all_attempts if a.kind == "change"]
    assert len(failed) >= 2
    assert len({a.webhook_id for a in failed}) == 1  # one notification, retried
    with store.read() as uow:
        (status,) = uow.channels.list(channel.account_pk)
    assert status.failure_count >= 2 and status.next_attempt_at is not None
    with store.write() as uow:  # a change while the receiver is down folds in
        uow.events.upsert_managed(calendar_pk, "ev-b", content("B"))
    receiver.respond = lambda _r: (200, {})
    drain(relay)
    delivered = [r for r in receiver.received if r.kind == "change"]
    assert delivered[0].webhook_id == failed[0].webhook_id
    assert first.event is not None
    earliest = min(
        datetime.strptime(r.json["notification"]["changes_since"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
        for r in delivered
    )
    assert earliest <= first.event.updated
    with store.read() as uow:
        (status,) = uow.channels.list(channel.account_pk)
        assert uow.channels.list_deliveries(channel.pk, status="pending") == []
    assert status.failure_count == 0 and status.last_success_at is not None


def test_410_disables_the_channel(store: Store, settings: Settings, receiver: Receiver) -> None:
    receiver.respond = lambda _r: (410, {})
    channel, _ = make_channel(store, settings, receiver.url)
    relay_for(store, settings).run_once()
    with store.read() as uow:
        (status,) = uow.channels.list(channel.account_pk)
    assert status.disabled and "410" in (status.disabled_reason or "")
    assert status.next_attempt_at is None


def test_failing_for_three_days_disables(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    receiver.respond = lambda _r: (500, {})
    channel, _ = make_channel(store, settings, receiver.url)
    relay_for(store, settings).run_once()  # first failure: failing_since = now
    later = OutboxRelay(
        store, settings, policy=FAST, clock=lambda: datetime.now(UTC) + timedelta(days=3, hours=1)
    )
    time.sleep(0.06)
    later.run_once()
    with store.read() as uow:
        (status,) = uow.channels.list(channel.account_pk)
    assert status.disabled and "failing" in (status.disabled_reason or "")


def test_retry_after_is_honoured(store: Store, settings: Settings, receiver: Receiver) -> None:
    receiver.respond = lambda _r: (429, {"Retry-After": "120"})
    channel, _ = make_channel(store, settings, receiver.url)
    before = datetime.now(UTC)
    relay_for(store, settings).run_once()
    with store.read() as uow:
        (status,) = uow.channels.list(channel.account_pk)
    assert status.next_attempt_at is not None
    assert status.next_attempt_at >= before + timedelta(seconds=119)


def test_an_expired_lease_is_delivered_again_with_the_same_id(
    store: Store, settings: Settings, receiver: Receiver, store_clock: StoreClock
) -> None:
    make_channel(store, settings, receiver.url)
    with store.write() as uow:  # a relay claims, then "crashes" before posting
        (claimed,) = uow.channels.claim("dead-worker", lease=timedelta(minutes=1))
    relay = relay_for(store, settings)
    assert relay.run_once() == 0  # still leased: nothing for anyone else
    store_clock.offset += timedelta(minutes=1, seconds=1)  # the lease runs out
    assert relay.run_once() == 1
    assert receiver.received[0].webhook_id == claimed.delivery.webhook_id


def test_filters_and_profile_events(store: Store, settings: Settings, receiver: Receiver) -> None:
    work = new_calendar(store, "work", "Work")
    other = new_calendar(store, "work", "Other")
    with store.read() as uow:
        account = uow.accounts.get(work.account_pk)
        profile = uow.profiles.get_by_pk(work.profile_pk)
    only_work, _ = create_channel(
        store, settings, account, receiver.url, {"calendar_ids": [work.calendar_id]}
    )
    managed, _ = create_channel(store, settings, account, receiver.url, {"only_managed": True})
    relay = relay_for(store, settings)
    drain(relay)
    receiver.received.clear()
    with store.write() as uow:
        uow.events.upsert_managed(other.pk, "ev-other", content("Other"))
        enqueue_profile_event(uow, account, profile, "profile_initial_sync_completed")
    drain(relay)
    by_channel = {(r.json["channel"]["channel_id"], r.kind) for r in receiver.received}
    assert by_channel == {
        (managed.channel_id, "change"),
        (managed.channel_id, "profile_initial_sync_completed"),
        (only_work.channel_id, "profile_initial_sync_completed"),
    }


def test_concurrent_relays_never_send_one_channel_twice_at_once(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    settings = replace(settings, notify=replace(settings.notify, debounce=timedelta(0)))
    channel, calendar_pk = make_channel(store, settings, receiver.url)
    in_flight = 0
    overlap = False
    lock = threading.Lock()

    def respond(_item: object) -> tuple[int, dict[str, str]]:
        nonlocal in_flight, overlap
        with lock:
            in_flight += 1
            overlap |= in_flight > 1
        time.sleep(0.02)
        with lock:
            in_flight -= 1
        return 200, {}

    receiver.respond = respond
    stop = threading.Event()
    relays = [relay_for(store, settings, poll_interval=0.005) for _ in range(3)]
    threads = [threading.Thread(target=r.run_forever, args=(stop,)) for r in relays]
    for t in threads:
        t.start()
    try:
        for i in range(30):
            with store.write() as uow:
                uow.events.upsert_managed(calendar_pk, f"ev-{i}", content(f"E{i}"))
            time.sleep(0.005)
        with store.read() as uow:
            last_seq = uow.accounts.get(channel.account_pk).last_change_seq
        assert receiver.wait_for(
            lambda got: (
                any(r.kind == "change" for r in got) and _covered(store, channel.pk) >= last_seq
            ),
            timeout=15,
        )
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not overlap


def _covered(store: Store, channel_pk: int) -> int:
    with store.read() as uow:
        done = uow.channels.list_deliveries(channel_pk, status="delivered")
    return max((d.last_seq or 0 for d in done), default=0)


def test_a_host_name_is_pinned_to_the_checked_address_and_keeps_its_host_header(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    port = receiver.server.server_address[1]
    resolved: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]  # the address the check accepted; no DNS involved

    calendar = new_calendar(store)
    with store.read() as uow:
        account = uow.accounts.get(calendar.account_pk)
    url = f"http://hooks.invalid:{port}/hook"
    create_channel(store, settings, account, url, None, resolve=resolve)
    relay_for(store, settings, resolve=resolve).run_once()
    (verification,) = receiver.received
    assert verification.headers["host"] == f"hooks.invalid:{port}"
    assert resolved == ["hooks.invalid", "hooks.invalid"]  # at creation, and at delivery


def test_a_daemon_start_releases_leases_only_where_it_owns_the_store(
    store: Store, settings: Settings
) -> None:
    from calsync.daemon.relay_thread import reclaim_dead_leases

    make_channel(store, settings, "http://127.0.0.1:9/hook")
    with store.write() as uow:
        claimed = uow.channels.claim("a-killed-process", lease=timedelta(minutes=1))
    assert claimed
    released = reclaim_dead_leases(store)
    with store.read() as uow:
        holders = {d.leased_by for d in uow.channels.list_deliveries(status="pending")}
    if store.backend == "sqlite":  # one process per file: the lease is a dead run's
        assert released == len(claimed) and holders == {None}
    else:  # a replica may be sending it right now
        assert released == 0 and holders == {"a-killed-process"}


def test_a_commit_in_this_process_wakes_an_idle_relay(
    store: Store, settings: Settings, receiver: Receiver
) -> None:
    _, calendar_pk = make_channel(store, settings, receiver.url)
    relay = relay_for(store, settings, poll_interval=3600)  # it would never poll again
    woken: list[int] = []
    unsubscribe = store.on_outbox(lambda: woken.append(1))
    unsubscribe_relay = store.on_outbox(relay.wake)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        assert receiver.wait_for(lambda got: [r.kind for r in got] == ["verification"])
        with store.write() as uow:  # no notification queued: nobody is woken
            uow.calendars.update(calendar_pk, metadata={"k": "v"})
        assert woken == []
        with store.write() as uow:
            uow.events.upsert_managed(calendar_pk, "ev-1", content("One"))
        assert woken == [1]
        assert receiver.wait_for(lambda got: [r.kind for r in got][-1:] == ["change"], timeout=30)
    finally:
        unsubscribe()
        unsubscribe_relay()
        stop.set()
        relay.wake()
        thread.join(10)
    assert not thread.is_alive()
