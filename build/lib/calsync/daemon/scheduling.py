"""The per-account sync jobs on an APScheduler 3 background scheduler.

Jobs run in a thread pool (provider client libraries are synchronous). Each
account has one job, ``sync:<name>``, with ``coalesce=True`` (missed runs
collapse into one) and ``max_instances=1`` (an account never syncs twice at
once). `SyncScheduler.apply` makes the jobs match a mapping of account name to
interval, so a config reload is just another ``apply``. `SyncScheduler.defer`
holds an account back until its backoff has passed, also across a reload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

JOB_PREFIX = "sync:"
DEFAULT_WORKERS = 4


def job_id(account_name: str) -> str:
    return f"{JOB_PREFIX}{account_name}"


class SyncScheduler:
    """Owns the scheduler and keeps one interval job per configured account."""

    def __init__(
        self, run_account: Callable[[str], object], *, max_workers: int = DEFAULT_WORKERS
    ) -> None:
        self._run_account = run_account
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._intervals: dict[str, timedelta] = {}
        self._not_before: dict[str, datetime] = {}

    @property
    def aps(self) -> BackgroundScheduler:
        """The underlying scheduler, for jobs other packages register (push renewal)."""
        return self._scheduler

    def start(self) -> None:
        self._scheduler.start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def scheduled(self) -> dict[str, timedelta]:
        """Account name -> interval of the jobs currently scheduled."""
        return dict(self._intervals)

    def apply(self, intervals: Mapping[str, timedelta]) -> None:
        """Add, change or remove jobs so there is exactly one per entry of ``intervals``.

        A new account syncs at once; a changed interval restarts that job's clock.
        """
        for name in sorted(set(self._intervals) - set(intervals)):
            self._scheduler.remove_job(job_id(name))
            del self._intervals[name]
            self._not_before.pop(name, None)
            log.info("sync job for account %r removed", name)
        for name, interval in sorted(intervals.items()):
            if interval <= timedelta(0):
                raise ValueError(f"sync interval for {name!r} must be positive, got {interval}")
            current = self._intervals.get(name)
            if current == interval:
                continue
            trigger = IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC)
            if current is None:
                self._scheduler.add_job(
                    self._run_account,
                    trigger,
                    args=(name,),
                    id=job_id(name),
                    name=f"sync account {name}",
                    next_run_time=datetime.now(UTC),
                    replace_existing=True,
                )
                log.info("sync job for account %r every %s", name, interval)
            else:
                self._scheduler.reschedule_job(job_id(name), trigger=trigger)
                log.info("sync job for account %r now every %s (was %s)", name, interval, current)
            self._intervals[name] = interval
            not_before = self._not_before.get(name)
            if not_before is not None:
                self.defer(name, not_before)  # a new trigger must not cut a backoff short

    def defer(self, name: str, until: datetime) -> None:
        """Run ``name`` no earlier than ``until`` (a later regular run is left alone)."""
        if name not in self._intervals:
            return
        self._not_before[name] = until
        job = self._scheduler.get_job(job_id(name))
        if job is None or job.next_run_time is None:
            return
        if job.next_run_time < until:
            job.modify(next_run_time=until)
            log.info("account %r backs off: next sync at %s", name, f"{until:%H:%M:%S}")

    def wake(self, name: str) -> None:
        """Run ``name``'s job now (a lease for a due calendar was just granted),
        unless it backs off; the regular interval carries on afterwards."""
        job = self._scheduler.get_job(job_id(name))
        if job is None or job.next_run_time is None:
            return
        now = datetime.now(UTC)
        not_before = self._not_before.get(name)
        if not_before is not None and not_before > now:
            return
        if job.next_run_time > now:
            job.modify(next_run_time=now)

    def next_run(self, name: str) -> datetime | None:
        job = self._scheduler.get_job(job_id(name))
        return None if job is None else job.next_run_time

    def shutdown(self) -> None:
        """Take no new jobs and wait for running ones to finish their transactions."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
