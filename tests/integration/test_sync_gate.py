"""One gate for every way into a sync: the scheduled pass, a provider push, an app's write.

Each trigger is called the way the daemon calls it (`engine_trigger`, on the
memory provider and a real store). While the account backs off, nothing
reaches the provider whatever asked for the run, and the backoff stays;
two runs of one account never overlap; a run that finds the account busy is
tried again shortly (`CalendarRuns`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.triggers.date import DateTrigger

from calsync.errors import RateLimited, TransientProviderError
from calsync.notify.provider_push import PushTarget
from calsync.notify.provider_push_jobs import CalendarRuns, engine_trigger
from calsync.store import Store
from calsync.sync import AccountSyncReport
from tests.integration.test_sync_engine import SyncHarness, content


@pytest.fixture
def harness(store: Store) -> Iterator[SyncHarness]:
    h = SyncHarness(store)
    yield h
    h.close()


def target(h: SyncHarness) -> PushTarget:
    calendar = h.calendar()
    return PushTarget(h.name, calendar.pk, calendar.calendar_id)


def provider_push(h: SyncHarness) -> Callable[[PushTarget], object]:
    return engine_trigger(h.store, lambda: h.engine, lambda: h.settings)


def app_write_push(h: SyncHarness) -> Callable[[PushTarget], object]:
    return engine_trigger(h.store, lambda: h.engine, lambda: h.settings, push_only=True)


def rate_limited(h: SyncHarness) -> datetime:
    """A pass that meets a 429 asking for 10 minutes; returns when the backoff ends."""
    h.backend.fail_next_pulls(1, lambda: RateLimited("slow down", retry_after=600))
    report = h.sync(keep_backoff=True)
    assert report.retry_at is not None
    return report.retry_at


def test_a_provider_push_while_backing_off_leaves_the_provider_and_the_backoff_alone(
    harness: SyncHarness,
) -> None:
    assert harness.sync().ok
    retry_at = rate_limited(harness)
    backoff = harness.engine.backoff(harness.name)
    failures, pulls = backoff.failures, harness.backend.stats.pulls
    harness.backend.remote_upsert(harness.cal_remote_id, content("during the backoff"))

    refused = provider_push(harness)(target(harness))

    assert isinstance(refused, AccountSyncReport)
    assert refused.skipped and not refused.busy and refused.retry_at == retry_at
    assert harness.backend.stats.pulls == pulls, "the provider was not asked"
    assert (backoff.failures, backoff.not_before) == (failures, retry_at), "the backoff holds"
    assert "during the backoff" not in harness.live_by_summary()

    harness.clock.now = retry_at
    synced = provider_push(harness)(target(harness))
    assert isinstance(synced, AccountSyncReport) and synced.ok
    assert "during the backoff" in harness.live_by_summary()


def test_an_app_write_while_backing_off_stays_pending_until_the_backoff_ends(
    harness: SyncHarness,
) -> None:
    assert harness.sync().ok
    retry_at = rate_limited(harness)
    harness.local_upsert("app-1", content("written during the backoff"))

    refused = app_write_push(harness)(target(harness))

    assert isinstance(refused, AccountSyncReport) and refused.skipped
    assert harness.backend.stats.creates == 0
    assert [e.event_id for e in harness.pending()] == ["app-1"]

    harness.clock.now = retry_at
    pushed = app_write_push(harness)(target(harness))
    assert isinstance(pushed, AccountSyncReport) and pushed.ok
    assert pushed.calendars[0].pushed == 1 and harness.backend.stats.pulls == 2, "no pull"
    assert harness.remote_summaries() == ["written during the backoff"]
    assert harness.pending() == []


def test_a_targeted_success_does_not_reset_the_backoff_of_failing_passes(
    harness: SyncHarness,
) -> None:
    assert harness.sync().ok
    harness.backend.fail_next_pulls(2, TransientProviderError)
    for _ in range(2):
        assert not harness.sync().ok  # the test clock skips each backoff
    assert harness.engine.backoff(harness.name).failures == 2
    harness.local_upsert("app-1", content("mine"))
    assert harness.engine.push_calendar(harness.account, harness.calendar()).ok
    assert harness.engine.backoff(harness.name).failures == 2
    assert harness.sync().ok, "a full pass that succeeds does reset it"
    assert harness.engine.backoff(harness.name).failures == 0


def test_runs_of_one_account_never_overlap(harness: SyncHarness) -> None:
    assert harness.sync().ok
    in_pull, release = threading.Event(), threading.Event()

    def slow_failure() -> Exception:
        in_pull.set()
        release.wait(30)
        return TransientProviderError("the pass ended")

    harness.backend.fail_next_pulls(1, slow_failure)
    harness.local_upsert("app-1", content("mine"))
    passing = threading.Thread(target=harness.engine.sync_account, args=(harness.account,))
    passing.start()
    try:
        assert in_pull.wait(30)
        pulls = harness.backend.stats.pulls
        for trigger in (provider_push(harness), app_write_push(harness)):
            busy = trigger(target(harness))
            assert isinstance(busy, AccountSyncReport) and busy.busy and busy.skipped
        assert harness.backend.stats.pulls == pulls and harness.backend.stats.creates == 0
    finally:
        release.set()
        passing.join(30)
    harness.clock.now += timedelta(hours=1)  # past the failed pass's backoff
    assert harness.engine.push_calendar(harness.account, harness.calendar()).ok
    assert harness.backend.stats.creates == 1


class RecordingScheduler:
    """Keeps the jobs `CalendarRuns` adds, for the test to run by hand."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], Any, tuple[Any, ...]]] = []

    def add_job(self, func: Callable[..., Any], trigger: Any = None, **options: Any) -> None:
        self.jobs.append((func, trigger, options.get("args", ())))

    def run_next(self) -> None:
        func, _, args = self.jobs.pop(0)
        func(*args)


def test_a_run_that_finds_its_account_busy_is_tried_again_later() -> None:
    scheduler = RecordingScheduler()
    outcomes = [AccountSyncReport("a", busy=True, skipped=True), AccountSyncReport("a")]
    calls: list[PushTarget] = []

    def trigger(asked: PushTarget) -> AccountSyncReport:
        calls.append(asked)
        return outcomes.pop(0)

    runs = CalendarRuns(scheduler, trigger, delay=timedelta(milliseconds=200))
    one = PushTarget("a", 1, "cal_1")
    asked_at = datetime.now(UTC)
    for _ in range(5):  # a burst of writes
        runs.submit(one)
    assert len(scheduler.jobs) == 1, "a burst is one run"
    _, first_trigger, _ = scheduler.jobs[0]
    assert isinstance(first_trigger, DateTrigger)
    assert first_trigger.run_date >= asked_at + timedelta(milliseconds=200)

    scheduler.run_next()  # the account is busy
    assert len(calls) == 1 and len(scheduler.jobs) == 1, "tried again"
    _, retry_trigger, _ = scheduler.jobs[0]
    assert isinstance(retry_trigger, DateTrigger)
    runs.submit(one)
    assert len(scheduler.jobs) == 1, "the retry covers what is asked meanwhile"

    scheduler.run_next()
    assert len(calls) == 2 and scheduler.jobs == []
    runs.submit(one)
    assert len(scheduler.jobs) == 1, "idle again: a new request is a new run"
