"""The push jobs on a real APScheduler: renewal at once, notifications become sync jobs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from calsync.api.provider_push import install_provider_push
from calsync.notify.provider_push import PushTarget
from calsync.notify.provider_push_jobs import (
    RENEW_JOB_ID,
    CalendarRuns,
    engine_trigger,
    register_push_jobs,
)
from tests.integration.google_push_world import CAL, PushWorld, push_world, timed, wait_until

__all__ = ["push_world"]


def test_jobs_open_channels_and_sync_notified_calendars(push_world: PushWorld) -> None:
    w = push_world
    synced: list[PushTarget] = []
    sync_now = engine_trigger(w.store, lambda: w.engine, w.current_settings)

    def trigger(target: PushTarget) -> None:
        synced.append(target)
        sync_now(target)

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start()
    try:
        on_change = register_push_jobs(scheduler, w.manager, trigger)
        install_provider_push(w.server.app, w.manager, on_change)
        assert wait_until(lambda: len(w.fake.channels) == 2), "the renewal job runs at once"
        job = scheduler.get_job(RENEW_JOB_ID)
        assert job is not None and job.next_run_time > datetime.now(UTC)
        start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        w.fake.put_event(CAL, timed("Via the scheduler", start))
        assert wait_until(lambda: "Via the scheduler" in w.event_summaries())
        assert synced and {t.calendar_id for t in synced} == {w.calendar(CAL).calendar_id}
    finally:
        scheduler.shutdown(wait=True)


def test_coalescer_runs_once_more_for_a_change_during_a_sync() -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow_sync(target: PushTarget) -> None:
        runs.append(target.calendar_pk)
        started.set()
        release.wait(5)

    coalescer = CalendarRuns(None, slow_sync)
    target = PushTarget("acct", 7, "cal_x")
    assert coalescer.request(target) is True
    assert coalescer.request(target) is False, "already queued"
    worker = threading.Thread(target=coalescer.run, args=(target,))
    worker.start()
    assert started.wait(5)
    assert coalescer.request(target) is False, "running: marked for one more run"
    assert coalescer.request(target) is False
    release.set()
    worker.join(5)
    assert runs == [7, 7]
    assert coalescer.request(target) is True, "idle again"


def test_coalescer_keeps_calendars_apart_and_survives_failures() -> None:
    calls: list[int] = []

    def failing(target: PushTarget) -> None:
        calls.append(target.calendar_pk)
        raise RuntimeError("provider down")

    coalescer = CalendarRuns(None, failing)
    one, two = PushTarget("a", 1, "cal_1"), PushTarget("a", 2, "cal_2")
    assert coalescer.request(one) and coalescer.request(two)
    coalescer.run(one)
    coalescer.run(two)
    assert calls == [1, 2]
    assert coalescer.request(one), "a failed run does not wedge the calendar"
