"""Scheduling for provider push channels: the renewal job and the sync-now trigger.

`register_push_jobs` adds the renewal job (`ProviderPushManager.refresh`
every few minutes, first run at once) and returns the callback the push
endpoint calls: it schedules a one-off job that syncs the notified calendar.

`CalendarRuns` coalesces such one-off runs per calendar: while a run of a
calendar is queued, more requests add nothing; while it runs, they make it
run once more after it finishes, so a change that lands after its pull is
never left to polling. A run that finds its account busy (another sync of it
holds `calsync.sync.gate`) is tried again shortly; one refused by a backoff
is dropped, as the account's next pass picks everything up. The daemon uses
the same class for the push of an app's write (`engine_trigger` with
``push_only``), with a short delay that gathers a burst of writes into one run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from calsync.config import AccountSettings, Settings
from calsync.notify.provider_push import ProviderPushManager, PushTarget
from calsync.store import CalendarRecord, Store

log = logging.getLogger(__name__)

RENEW_JOB_ID = "provider-push:renew"
RENEW_EVERY = timedelta(minutes=5)
#: How soon a run that found its account busy is tried again.
BUSY_RETRY = timedelta(seconds=1)


class RunOutcome(Protocol):
    """What a run reports (`calsync.sync.AccountSyncReport` has it)."""

    @property
    def busy(self) -> bool: ...

    @property
    def ok(self) -> bool: ...

    @property
    def skipped(self) -> bool: ...

    def describe_failures(self) -> list[str]: ...


#: Syncs the calendar a notification named (the daemon's engine, or a test's);
#: an outcome whose ``busy`` is true asks for another try shortly.
TriggerSync = Callable[[PushTarget], object]


class JobScheduler(Protocol):
    """The part of an APScheduler 3 scheduler used here (``BackgroundScheduler``)."""

    def add_job(self, func: Callable[..., Any], trigger: Any = None, **options: Any) -> Any: ...


class CalendarSyncer(Protocol):
    """The part of `calsync.sync.SyncEngine` the triggers call."""

    def sync_calendars(
        self, account: AccountSettings, calendars: Sequence[CalendarRecord]
    ) -> RunOutcome: ...

    def push_calendar(self, account: AccountSettings, calendar: CalendarRecord) -> RunOutcome: ...


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
    return CalendarRuns(scheduler, trigger_sync, name="push sync").submit


class CalendarRuns:
    """At most one queued or running run per calendar (see the module doc)."""

    def __init__(
        self,
        scheduler: JobScheduler | None,
        trigger: TriggerSync,
        *,
        name: str = "sync",
        delay: timedelta = timedelta(0),
        busy_retry: timedelta = BUSY_RETRY,
    ) -> None:
        self._scheduler = scheduler
        self._trigger = trigger
        self._name = name
        self._delay = delay
        self._busy_retry = busy_retry
        self._lock = threading.Lock()
        self._state: dict[int, str] = {}  # calendar pk -> queued | running | rerun

    def submit(self, target: PushTarget) -> None:
        """Ask for a run of ``target``'s calendar (after ``delay``, unless one is coming)."""
        if self.request(target):
            self._schedule(target, self._delay)

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
            busy = False
            try:
                outcome = self._trigger(target)
                busy = bool(getattr(outcome, "busy", False))
                if getattr(outcome, "skipped", False) and not busy:
                    why = getattr(outcome, "error", None)
                    log.info("%s of calendar %s skipped: %s", self._name, target.calendar_id, why)
            except Exception:
                log.exception("%s of calendar %s failed", self._name, target.calendar_id)
            with self._lock:
                if busy and self._scheduler is not None:
                    # Whatever was asked meanwhile is covered by the retry.
                    self._state[target.calendar_pk] = "queued"
                elif self._state.get(target.calendar_pk) != "rerun":
                    self._state.pop(target.calendar_pk, None)
                    return
                else:
                    continue
            self._schedule(target, self._busy_retry)
            return

    def _schedule(self, target: PushTarget, delay: timedelta) -> None:
        if self._scheduler is None:
            return
        options: dict[str, Any] = {}
        if delay > timedelta(0):
            options["trigger"] = DateTrigger(run_date=datetime.now(UTC) + delay, timezone=UTC)
        self._scheduler.add_job(
            self.run,
            args=(target,),
            name=f"{self._name} {target.calendar_id}",
            misfire_grace_time=None,
            **options,
        )


def engine_trigger(
    store: Store,
    engine: Callable[[], CalendarSyncer],
    settings: Callable[[], Settings],
    *,
    push_only: bool = False,
) -> TriggerSync:
    """A `TriggerSync` that runs the current engine on just the named calendar:
    a pull and push (a provider said it changed) or, with ``push_only``, a push of
    its pending local changes (an app wrote to it).

    ``engine`` is a getter because the daemon replaces its engine on SIGHUP.
    """

    def sync_now(target: PushTarget) -> RunOutcome | None:
        account = settings().account(target.account_name)
        if account is None or not account.enabled:
            return None
        with store.read() as uow:
            calendar = uow.calendars.get_by_pk(target.calendar_pk)
        if calendar.deleted or calendar.remote_id is None:
            return None
        if push_only:
            report = engine().push_calendar(account, calendar)
        else:
            report = engine().sync_calendars(account, [calendar])
        if not report.ok and not report.busy and not report.skipped:
            # The engine reports failures; whoever runs a job logs them, once.
            log.warning(
                "account %r: %s failed: %s",
                account.name,
                "push" if push_only else "push-triggered sync",
                "; ".join(report.describe_failures()),
            )
        return report

    return sync_now


def _logged(job: Callable[[], object]) -> Callable[[], None]:
    """A job that logs instead of raising (APScheduler would only print it)."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("provider push channel renewal failed")

    return run
