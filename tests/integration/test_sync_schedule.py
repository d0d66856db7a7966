"""Scheduling: rediscovery every ``[sync] rediscover_interval`` and per-account intervals.

The engine's clock is injected, so "an hour later" is a step, not a wait. The
scheduler part runs the real APScheduler and reads back when each job runs next.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from calsync.config import AccountSettings, Settings
from calsync.daemon.process import account_intervals
from calsync.daemon.scheduling import SyncScheduler
from calsync.providers.memory import MemoryBackend, drop_backend, get_backend
from calsync.store import Store
from calsync.sync import SyncEngine
from tests.fixtures.api import make_settings
from tests.fixtures.store import memory_account as store_memory_account

#: APScheduler computes run times from float timestamps: allow for their rounding.
EPSILON = timedelta(milliseconds=1)


def memory_account(
    name: str, *, interval: timedelta | None = None, enabled: bool = True
) -> AccountSettings:
    return store_memory_account(name, ["Work"], page_size=50, interval=interval, enabled=enabled)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def backend_name() -> Iterator[str]:
    name = f"acct-{uuid.uuid4().hex[:12]}"
    drop_backend(name)
    yield name
    drop_backend(name)


def _calendar_names(store: Store, account_name: str) -> set[str]:
    with store.read() as uow:
        account = uow.accounts.find_by_name(account_name)
        assert account is not None
        return {c.name for c in uow.calendars.list(account.pk) if not c.deleted}


def test_calendars_added_remotely_appear_once_the_rediscover_interval_has_passed(
    store: Store, backend_name: str
) -> None:
    account = memory_account(backend_name)
    base: Settings = make_settings(store.backend, "http://127.0.0.1:1", 1)
    settings = replace(base, accounts=(account,))
    interval = settings.sync.rediscover_interval
    assert interval == timedelta(hours=1)
    clock = Clock()
    engine = SyncEngine(store, settings, clock=clock)
    backend: MemoryBackend = get_backend(backend_name)

    started = clock.now
    assert engine.sync_account(account).ok  # the first pass always discovers
    assert _calendar_names(store, backend_name) == {"Work"}

    backend.add_calendar("Home")
    clock.now = started + interval - timedelta(seconds=1)
    report = engine.sync_account(account)
    assert report.ok and [c.name for c in report.calendars] == ["Work"]
    assert _calendar_names(store, backend_name) == {"Work"}, "rediscovered too early"

    clock.now = started + interval
    report = engine.sync_account(account)
    assert report.ok and sorted(c.name for c in report.calendars) == ["Home", "Work"]
    assert _calendar_names(store, backend_name) == {"Home", "Work"}

    # The clock restarts at that discovery: the next one is a full interval later.
    backend.add_calendar("Travel")
    clock.now = started + interval + interval / 2
    assert engine.sync_account(account).ok
    assert "Travel" not in _calendar_names(store, backend_name)
    clock.now = started + 2 * interval
    assert engine.sync_account(account).ok
    assert "Travel" in _calendar_names(store, backend_name)


def test_account_intervals_apply_each_accounts_own_override() -> None:
    base = make_settings("sqlite://", "http://127.0.0.1:1", 1)
    settings = replace(
        base,
        accounts=(
            memory_account("default"),
            memory_account("fast", interval=timedelta(seconds=90)),
            memory_account("off", interval=timedelta(seconds=10), enabled=False),
        ),
    )
    assert settings.sync.interval == timedelta(minutes=5)
    assert account_intervals(settings) == {
        "default": timedelta(minutes=5),
        "fast": timedelta(seconds=90),
    }


def test_the_scheduler_runs_each_account_at_once_then_every_its_own_interval() -> None:
    base = make_settings("sqlite://", "http://127.0.0.1:1", 1)
    settings = replace(
        base,
        accounts=(
            memory_account("default"),
            memory_account("fast", interval=timedelta(seconds=90)),
        ),
    )
    ran: list[str] = []
    both_ran = threading.Event()

    def run_account(name: str) -> None:
        ran.append(name)
        if {"default", "fast"} <= set(ran):
            both_ran.set()

    scheduler = SyncScheduler(run_account, max_workers=2)
    try:
        applied_at = datetime.now(UTC)
        scheduler.apply(account_intervals(settings))
        applied_by = datetime.now(UTC)
        scheduler.start()
        assert both_ran.wait(10), f"jobs did not run at once: {ran}"
        assert scheduler.scheduled() == {
            "default": timedelta(minutes=5),
            "fast": timedelta(seconds=90),
        }
        for name, interval in scheduler.scheduled().items():
            next_run = scheduler.next_run(name)
            assert next_run is not None
            # The first run was due when the job was added; the next is one interval on
            # (give or take APScheduler's float timestamps).
            low, high = applied_at + interval - EPSILON, applied_by + interval + EPSILON
            assert low <= next_run <= high, (name, next_run)

        # A reload that changes one account's override reschedules only that job.
        changed = replace(
            settings,
            accounts=(
                memory_account("default"),
                memory_account("fast", interval=timedelta(hours=2)),
            ),
        )
        reloaded_at = datetime.now(UTC)
        scheduler.apply(account_intervals(changed))
        reloaded_by = datetime.now(UTC)
        fast_next = scheduler.next_run("fast")
        assert fast_next is not None
        low, high = reloaded_at - EPSILON, reloaded_by + EPSILON
        assert low + timedelta(hours=2) <= fast_next <= high + timedelta(hours=2)
    finally:
        scheduler.shutdown()
    assert sorted(ran) == ["default", "fast"]
