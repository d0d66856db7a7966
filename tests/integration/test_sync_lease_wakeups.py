"""A calendar marked due by a replica that does not hold it wakes its holder at
once (issue #16): PostgreSQL LISTEN/NOTIFY behind `Store.due_listener`, and the
daemon's `DueWakeups` thread. In process over one real store; the daemons
themselves are in tests/system/test_replica_wakeups.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from calsync.daemon.due_wakeups import DueWakeups
from calsync.daemon.leases import LeaseKeeper
from calsync.notify.provider_push import PushTarget
from calsync.store import Store
from calsync.sync import SyncEngine
from tests.integration.lease_world import LeaseWorld, lease_world

CALENDARS = ["A", "B"]
#: A guard, far below a renewal (lease_ttl / 3 = 20 s here), and no renewal runs anyway.
GUARD = 10.0


@pytest.fixture
def world(store: Store) -> Iterator[LeaseWorld]:
    if store.backend == "sqlite":
        assert store.due_listener() is None  # one process: woken in memory
        pytest.skip("SQLite has one syncing process; nothing to wake across processes")
    with lease_world(store, CALENDARS) as world:
        yield world


class Collected:
    def __init__(self) -> None:
        self.targets: list[PushTarget] = []
        self.arrived = threading.Event()

    def __call__(self, target: PushTarget) -> None:
        self.targets.append(target)
        self.arrived.set()


def test_a_push_reaching_the_non_holder_wakes_the_holder_at_once(
    world: LeaseWorld,
) -> None:
    store, settings, account = world
    holder = LeaseKeeper(store, lambda: settings, replica="holder")
    holder.tick()  # alone: it holds both calendars
    other = LeaseKeeper(store, lambda: settings, replica="other")
    other.tick()
    assert len(holder.held()) == 2 and other.held() == {}
    runs = Collected()
    wakeups = DueWakeups(store, holder, runs)
    wakeups.start()
    try:
        # Listening before the mark is made: a resumed listener makes the keeper look.
        assert runs.arrived.wait(0) is False
        with store.read() as uow:
            found = uow.accounts.find_by_name(account.name)
            assert found is not None
            calendar = min(uow.calendars.list(found.pk), key=lambda c: c.pk)
        # A provider push for the calendar reaches the other replica: it only marks it.
        report = SyncEngine(store, settings, ownership=other).sync_calendars(account, [calendar])
        assert report.calendars == ()  # not its calendar to sync
        assert runs.arrived.wait(GUARD), "the holder was not woken"
        assert runs.targets == [PushTarget(account.name, calendar.pk, calendar.calendar_id)]
        assert wakeups.woken == 1
    finally:
        wakeups.stop()


def test_only_a_committed_mark_is_signalled_and_only_to_the_holder(
    world: LeaseWorld,
) -> None:
    store, settings, _ = world
    holder = LeaseKeeper(store, lambda: settings, replica="holder")
    holder.tick()
    bystander = LeaseKeeper(store, lambda: settings, replica="bystander")
    pks = sorted(holder.held())
    listener = store.due_listener()
    assert listener is not None
    try:
        assert listener.wait(0.1).resumed  # the first wait connects
        with pytest.raises(RuntimeError), store.write() as uow:
            uow.sync_leases.mark_due(pks)
            raise RuntimeError("rolled back")
        assert listener.wait(1.0).calendar_pks == frozenset()
        with store.write() as uow:
            uow.sync_leases.mark_due(pks)
        signal = listener.wait(GUARD)
        assert signal.calendar_pks == frozenset(pks) and not signal.resumed
    finally:
        listener.close()
    # A replica that holds none of them runs nothing.
    runs = Collected()
    DueWakeups(store, bystander, runs)._wake(pks)
    assert runs.targets == []
