"""Profile notifications from engine-driven syncs reach a real receiver through the relay.

A memory-provider account with two calendars is synced by a real `SyncEngine`
into a real store (SQLite and PostgreSQL); a channel is created through
`create_channel`; an `OutboxRelay` delivers to a loopback receiver.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pycronofy
import pytest
import standardwebhooks

from calsync.config import Settings
from calsync.errors import CredentialsInvalid, TransientProviderError
from calsync.model import EventContent
from calsync.notify.channels import create_channel
from calsync.notify.relay import OutboxRelay
from calsync.notify.schedule import RetryPolicy
from calsync.providers.memory import MemoryBackend, drop_backend, get_backend
from calsync.store import AccountRecord, ProfileRecord, Store
from calsync.sync import PROFILE_DISCONNECTED, PROFILE_INITIAL_SYNC_COMPLETED, SyncEngine
from tests.fixtures.api import CLIENT_ID, CLIENT_SECRET, make_settings
from tests.fixtures.store import BASE_TIME, memory_account
from tests.integration.notify_receiver import Received, Receiver, running_receiver

FAST = RetryPolicy(schedule=[timedelta(milliseconds=50)] * 3, jitter=0.0)
PROFILE_KINDS = {PROFILE_DISCONNECTED, PROFILE_INITIAL_SYNC_COMPLETED}


class World:
    """One memory account ("Work" with events, "Home" empty), its engine, a channel, a relay."""

    def __init__(self, store: Store, receiver: Receiver) -> None:
        self.store = store
        self.receiver = receiver
        self.name = f"acct-{uuid.uuid4().hex[:12]}"
        drop_backend(self.name)
        self.backend: MemoryBackend = get_backend(self.name)
        # "Home" stays empty: an empty calendar's first sync counts as complete too.
        work = self.backend.ensure_calendar("Work")
        self.backend.ensure_calendar("Home")
        for day in range(4):  # more than one pull page
            start = BASE_TIME + timedelta(days=day)
            self.backend.remote_upsert(
                work, EventContent(summary=f"W{day}", start=start, end=start + timedelta(hours=1))
            )
        self.account = memory_account(self.name, ["Work", "Home"], page_size=3)
        base: Settings = make_settings(store.backend, "http://127.0.0.1:1", 1)
        self.settings = replace(base, accounts=(self.account,))
        self.engine = SyncEngine(store, self.settings)
        self.engine.discover(self.account)
        account, _ = self.records()
        create_channel(store, self.settings, account, receiver.url, None)
        self.relay = OutboxRelay(store, self.settings, policy=FAST)

    def records(self) -> tuple[AccountRecord, ProfileRecord]:
        with self.store.read() as uow:
            account = uow.accounts.find_by_name(self.name)
            assert account is not None
            (profile,) = uow.profiles.list(account.pk)
        return account, profile

    def sync(self) -> None:
        self.engine.sync_account(self.account)
        self.engine.backoff(self.name).success()  # a test step never waits out a backoff

    def drain(self) -> list[Received]:
        """Deliver everything queued; the profile notifications received so far."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            self.relay.run_once()
            with self.store.read() as uow:
                if not uow.channels.list_deliveries(status="pending") and not uow.outbox.count(
                    status="pending"
                ):
                    break
            time.sleep(0.02)
        return [r for r in self.receiver.received if r.kind in PROFILE_KINDS]

    def close(self) -> None:
        self.relay.close()
        drop_backend(self.name)


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    with running_receiver() as receiver:
        w = World(store, receiver)
        try:
            yield w
        finally:
            w.close()


def _verified(item: Received) -> dict[str, object]:
    key = base64.b64encode(CLIENT_SECRET.encode()).decode()
    standardwebhooks.Webhook(key).verify(item.body, item.headers)
    client = pycronofy.Client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert client.hmac_valid(item.headers["cronofy-hmac-sha256"], item.body.decode())
    profile = item.json["notification"]["profile"]
    assert isinstance(profile, dict)
    return profile


def test_initial_sync_completed_once_all_calendars_synced_then_disconnected(
    world: World,
) -> None:
    _account, profile = world.records()
    expected = {
        "profile_id": profile.profile_id,
        "provider_name": profile.provider_name,
        "profile_name": profile.profile_name,
    }
    # The first calendar's pull fails: the profile's first full sync is not complete.
    world.backend.fail_next_pulls(1, TransientProviderError("remote hiccup"))
    world.sync()
    assert world.drain() == []

    world.sync()  # now the failed calendar completes too
    (initial,) = world.drain()
    assert initial.kind == PROFILE_INITIAL_SYNC_COMPLETED
    assert _verified(initial) == expected

    world.sync()  # later full or incremental passes never announce it again
    world.backend.expire_cursors()
    world.sync()
    assert [r.kind for r in world.drain()] == [PROFILE_INITIAL_SYNC_COMPLETED]

    world.backend.fail_next_pulls(1, CredentialsInvalid("401 from the server"))
    world.sync()
    got = world.drain()
    assert [r.kind for r in got] == [PROFILE_INITIAL_SYNC_COMPLETED, PROFILE_DISCONNECTED]
    assert _verified(got[1]) == expected  # the same payload shape as every profile event

    world.backend.fail_next_pulls(1, CredentialsInvalid("401 again"))
    world.sync()  # already disconnected: not announced twice
    assert len(world.drain()) == 2


def test_a_calendar_discovered_later_does_not_announce_the_initial_sync_again(
    world: World,
) -> None:
    world.sync()
    assert [r.kind for r in world.drain()] == [PROFILE_INITIAL_SYNC_COMPLETED]
    world.backend.ensure_calendar("Later")
    world.engine.discover(world.account)
    world.sync()
    world.sync()
    assert [r.kind for r in world.drain()] == [PROFILE_INITIAL_SYNC_COMPLETED]
    account, _ = world.records()
    with world.store.read() as uow:  # the new calendar did complete its own full sync
        stamped = [
            uow.cursors.get(c.pk) for c in uow.calendars.list(account.pk) if c.name == "Later"
        ]
    assert stamped and stamped[0] is not None and stamped[0].full_sync_completed_at is not None
