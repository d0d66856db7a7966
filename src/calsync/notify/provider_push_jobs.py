"""Scheduling for provider push channels: the renewal job and the sync-now trigger.

`register_push_jobs` adds the renewal job (`ProviderPushManager.refresh`
every few minutes, first run at once) and returns the callback the push
endpoint calls: it schedules a one-off job that syncs the notified calendar.

Bursts coalesce per calendar: while a push sync of a calendar is queued, more
notifications add nothing; while it runs, they make it run once more after
it finishes, so a change that lands after its pull is never left to polling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.triggers.interval import IntervalTrigger

from calsync.config import AccountSettings, Settings
from calsync.notify.provider_push import ProviderPushManager, PushTarget
from calsync.providers.base import Provider
from calsync.store import CalendarRecord

if TYPE_CHECKING:
    from calsync.sync import AccountSyncReport

log = logging.getLogger(__name__)

RENEW_JOB_ID = "provider-push:renew"
RENEW_EVERY = timedelta(minutes=5)

#: Syncs the calendar a notification named (the daemon's engine, or a test's).
TriggerSync = Callable[[PushTarget], object]


class JobScheduler(Protocol):
    """The part of an APScheduler 3 scheduler used here (``BackgroundScheduler``)."""

    def add_job(self, func: Callable[..., Any], trigger: Any = None, **options: Any) -> Any: ...


class CalendarSyncer(Protocol):
    """`calsync.sync.SyncEngine.sync_calendars`'s shape."""

    def sync_calendars(
        self, account: AccountSettings, provider: Provider, calendars: Sequence[CalendarRecord]
    ) -> AccountSyncReport: ...


def register_push_jobs(
    scheduler: JobScheduler,
    manager: ProviderPushManager,
    trigger_sync: TriggerSync,
    *,
    every: timedelta = RENEW_EVERY,
) -> Callable[[PushTarget], None]:
    """Add the renewal job; return the push endpoint's callback (schedules a sync)."""
    scheduler.add_job(
        _logged(manager.refresh),
        IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
        id=RENEW_JOB_ID,
        name="renew provider push channels",
        next_run_time=datetime.now(UTC),
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    coalescer = SyncCoalescer(trigger_sync)

    def on_change(target: PushTarget) -> None:
        if coalescer.request(target):
            scheduler.add_job(
                coalescer.run,
                args=(target,),
                name=f"push sync {target.calendar_id}",
                misfire_grace_time=None,
            )

    return on_change


class SyncCoalescer:
    """At most one queued or running push sync per calendar (see the module doc)."""

    def __init__(self, trigger_sync: TriggerSync) -> None:
        self._trigger = trigger_sync
        self._lock = threading.Lock()
        self._state: dict[int, str] = {}  # calendar pk -> queued | running | rerun

    def request(self, target: PushTarget) -> bool:
        """True when the caller must schedule `run`; False when one is already coming."""
        with self._lock:
            state = self._state.get(target.calendar_pk)
            if state is None:
                self._state[target.calendar_pk] = "queued"
                return True
            if state == "running":
                self._state[target.calendar_pk] = "rerun"
            return False

    def run(self, target: PushTarget) -> None:
        while True:
            with self._lock:
                self._state[target.calendar_pk] = "running"
            try:
                self._trigger(target)
            except Exception:
                log.exception("push sync of calendar %s failed", target.calendar_id)
            with self._lock:
                if self._state.get(target.calendar_pk) != "rerun":
                    self._state.pop(target.calendar_pk, None)
                    return


def engine_trigger(
    manager: ProviderPushManager,
    engine: Callable[[], CalendarSyncer],
    settings: Callable[[], Settings],
) -> TriggerSync:
    """A `TriggerSync` that runs the current engine on just the notified calendar.

    ``engine`` is a getter because the daemon replaces its engine on SIGHUP.
    """

    def sync_now(target: PushTarget) -> None:
        account = settings().account(target.account_name)
        if account is None or not account.enabled:
            return
        with manager.store.read() as uow:
            calendar = uow.calendars.get_by_pk(target.calendar_pk)
        if calendar.deleted or calendar.remote_id is None:
            return
        provider = manager.provider_factory(account.provider, account.name, account.options)
        try:
            report = engine().sync_calendars(account, provider, [calendar])
        finally:
            provider.close()
        if not report.ok:  # the engine reports failures; the scheduler's jobs log theirs
            log.warning(
                "account %r: push sync failed: %s",
                account.name,
                "; ".join(report.describe_failures()),
            )

    return sync_now


def _logged(job: Callable[[], object]) -> Callable[[], None]:
    """A job that logs instead of raising (APScheduler would only print it)."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("provider push channel renewal failed")

    return run
