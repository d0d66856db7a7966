"""Sync ownership by lease (issue #16), in process over one real store: shares,
takeovers and the fence. The daemons themselves are in tests/system/test_replicas.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest

from calsync.daemon.leases import LeaseKeeper
from calsync.errors import LeaseLost
from calsync.store import Store
from calsync.store.sql import utcnow
from calsync.sync import SyncEngine
from calsync.sync.ownership import FencedStore
from tests.fixtures.api import run_api_server
from tests.integration.lease_world import LeaseWorld, lease_world

CALENDARS = ["A", "B", "C", "D"]


class Stalled(LeaseKeeper):
    """A keeper whose renewals do not run (a paused process): it still believes."""

    def refresh(self) -> None:
        pass


@pytest.fixture
def world(store: Store) -> Iterator[LeaseWorld]:
    with lease_world(store, CALENDARS) as world:
        yield world


def test_two_replicas_share_the_calendars_and_never_hold_one_twice(
    world: LeaseWorld,
) -> None:
    store, settings, _ = world
    a = LeaseKeeper(store, lambda: settings, replica="a")
    b = LeaseKeeper(store, lambda: settings, replica="b")
    a.tick()
    assert len(a.held()) == 4  # alone: everything
    b.tick()  # two live now; nothing is free yet
    assert len(b.held()) == 0
    a.tick()  # gives back its surplus
    b.tick()
    assert len(a.held()) == 2 and len(b.held()) == 2
    assert not set(a.held()) & set(b.held())
    with store.read() as uow:
        rows = {r.calendar_pk: r.holder for r in uow.sync_leases.list()}
    assert sorted(str(holder) for holder in rows.values()) == ["a", "a", "b", "b"]
    assert a.takeovers == b.takeovers == 0
    b.stop()  # a clean stop gives its leases back at once
    a.tick()
    assert len(a.held()) == 4 and a.takeovers == 0


def test_an_expired_lease_is_taken_over_and_fences_its_old_holder(
    world: LeaseWorld,
) -> None:
    store, settings, account = world
    a = Stalled(store, lambda: settings, replica="a")
    a.tick()
    pk = min(a.held())
    token = a.token(pk)
    assert token is not None
    with store.write() as uow:  # a stops renewing: its leases and heartbeat run out
        uow.sync_leases.renew("a", {p: a.token(p) or 0 for p in a.held()}, utcnow())
        uow.sync_leases.forget_replica("a")
    b = LeaseKeeper(store, lambda: settings, replica="b")
    b.tick()
    assert pk in b.held() and b.takeovers == 4
    assert b.token(pk) == token + 1

    fenced = FencedStore(store, pk, "a", token)
    with pytest.raises(LeaseLost), fenced.write() as uow:
        uow.cursors.set(pk, "stale", full_sync_completed=True)
    with store.read() as uow:
        assert uow.cursors.get(pk) is None  # rolled back

    # a's engine still believes it holds the calendars (its keeper has not run
    # since, as in a pause): its commits are refused.
    engine = SyncEngine(store, settings, ownership=a)
    report = engine.sync_account(account)
    assert [c.error for c in report.calendars] == ["not synced: the sync lease was lost"] * 4
    with store.read() as uow:
        assert all(uow.cursors.get(p) is None for p in b.held())
    assert a.held() == {}

    # b's engine syncs them all, fenced by its own tokens.
    report = SyncEngine(store, settings, ownership=b).sync_account(account)
    assert report.ok and len(report.calendars) == 4
    with store.read() as uow:
        assert all(uow.cursors.get(p) is not None for p in b.held())
        assert {r.synced_by for r in uow.sync_leases.list()} == {"b"}


def test_a_calendar_synced_is_not_due_again_within_its_interval(
    world: LeaseWorld,
) -> None:
    store, settings, account = world
    a = LeaseKeeper(store, lambda: settings, replica="a")
    a.tick()
    engine = SyncEngine(store, settings, ownership=a)
    assert len(engine.sync_account(account).calendars) == 4
    assert engine.sync_account(account).calendars == ()  # none due yet
    a.stop()
    b = LeaseKeeper(store, lambda: settings, replica="b")
    b.tick()  # the leases moved, with their due times
    assert SyncEngine(store, settings, ownership=b).sync_account(account).calendars == ()


class HandsOverRightAfterSyncing(LeaseKeeper):
    """A keeper whose renewal thread runs the moment a calendar's sync leaves
    `syncing` (the one instant a loaded machine can always hit)."""

    after: Callable[[int], None] = staticmethod(lambda _pk: None)

    @contextmanager
    def syncing(self, calendar_pk: int) -> Iterator[None]:
        with super().syncing(calendar_pk):
            yield
        self.after(calendar_pk)


def test_a_lease_given_back_as_a_sync_ends_carries_that_sync_s_due_time(
    world: LeaseWorld,
) -> None:
    store, settings, account = world
    a = HandsOverRightAfterSyncing(store, lambda: settings, replica="a")
    a.tick()
    b = LeaseKeeper(store, lambda: settings, replica="b")
    ended: list[int] = []

    def rebalance(pk: int) -> None:
        ended.append(pk)
        if len(ended) == len(CALENDARS):  # a's last sync just ended: b starts
            b.tick()  # b is live: a's fair share is now half
            a.tick()  # a gives back its surplus (the highest keys)...
            b.tick()  # ...and b takes it

    a.after = rebalance
    by_a = SyncEngine(store, settings, ownership=a).sync_account(account).calendars
    assert len(by_a) == len(CALENDARS) and all(c.ok for c in by_a)
    assert ended[-1] in b.held()  # it moved the instant its sync ended
    # Seen in the three-replica system test: the lease moved before its sync's due
    # time was recorded, and the next replica synced it again at once.
    assert SyncEngine(store, settings, ownership=b).sync_account(account).calendars == ()


def test_replicas_with_different_accounts_warn_in_the_log_and_healthz(
    world: LeaseWorld,
    store_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, settings, account = world
    extra = replace(account, name=account.name + "-only-on-b")
    other = replace(settings, accounts=(account, extra))
    a = LeaseKeeper(store, lambda: settings, replica="a")
    b = LeaseKeeper(store, lambda: other, replica="b")
    a.tick()
    assert a.status()["warnings"] == []
    b.tick()
    with caplog.at_level("WARNING", logger="calsync.daemon.leases"):
        a.tick()
    assert "[[accounts]] differ between replicas: b have another list" in caplog.text
    with run_api_server(store_url, migrate=False) as server:
        server.services.replica_status.source = a.status
        body = httpx.get(f"{server.base_url}/healthz", timeout=10).json()
    assert body["status"] == "ok"
    assert body["replicas"]["replica"] == "a" and body["replicas"]["live"] == 2
    [warning] = body["replicas"]["warnings"]
    assert "[[accounts]] differ between replicas" in warning


def test_sync_once_beside_a_replica_leaves_it_its_calendars_and_says_so(
    world: LeaseWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    from calsync.cli.sync_once import run_once

    store, settings, _ = world
    if store.backend == "sqlite":
        pytest.skip(
            "on SQLite `sync --once` beside a daemon is refused (test_sqlite_single_process)"
        )
    daemon = LeaseKeeper(store, lambda: settings, replica="daemon")
    daemon.tick()
    assert len(daemon.held()) == 4
    [report] = run_once(store, settings)
    assert report.calendars == ()  # every calendar is the running replica's
    assert "4 calendar(s) left to the running replicas" in capsys.readouterr().err
    with store.read() as uow:
        assert all(uow.cursors.get(pk) is None for pk in daemon.held())

    daemon.stop()  # gone: `sync --once` takes the leases, syncs, and gives them back
    [report] = run_once(store, settings)
    assert report.ok and len(report.calendars) == 4
    assert "left to the running replicas" not in capsys.readouterr().err
    with store.read() as uow:
        assert {lease.holder for lease in uow.sync_leases.list()} == {None}
        assert all(lease.synced_at is not None for lease in uow.sync_leases.list())


def test_the_holder_renews_while_a_sync_of_one_of_its_calendars_is_committing(
    world: LeaseWorld,
) -> None:
    """The fence locks the lease row against grants only: the holder's renewal does not
    wait for the sync's open transaction (with ``FOR SHARE`` it did, and the sync's
    next transaction then waited for the renewal; bench/replicas.py)."""
    store, settings, _ = world
    if store.backend == "sqlite":
        pytest.skip("SQLite serializes every writer; the row lock is PostgreSQL's")
    a = LeaseKeeper(store, lambda: settings, replica="a")
    a.tick()
    pk = min(a.held())
    token = a.token(pk)
    assert token is not None
    inside, release = threading.Event(), threading.Event()

    def syncing() -> None:
        with FencedStore(store, pk, "a", token).write() as uow:
            uow.cursors.set(pk, "mid-sync", full_sync_completed=False)
            inside.set()
            release.wait(30)

    sync = threading.Thread(target=syncing)
    sync.start()
    try:
        assert inside.wait(10)
        renewal = threading.Thread(target=a.tick)
        renewal.start()
        renewal.join(10)  # a guard: it does not wait for the sync at all
        assert not renewal.is_alive(), "the renewal waited for the sync's transaction"
        assert a.token(pk) == token  # renewed, same token
        # Another replica still cannot be granted the row while the commit is open.
        with store.write() as uow:
            uow.sync_leases.renew("a", {p: a.token(p) or 0 for p in a.held()}, utcnow())
        b = LeaseKeeper(store, lambda: settings, replica="b")
        b.tick()
        assert pk not in b.held()
    finally:
        release.set()
        sync.join(10)
    with store.read() as uow:
        cursor = uow.cursors.get(pk)
        assert cursor is not None and cursor.cursor == "mid-sync"
