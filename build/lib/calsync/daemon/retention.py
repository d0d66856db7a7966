"""The hourly history-pruning job (``[store] history_retention``).

Registered on the daemon's scheduler beside the sync jobs; it runs in the
scheduler's thread pool, reads the retention from the current settings (so a
reload applies at the next run) and never raises into the scheduler: a failed
prune is logged and simply tried again an hour later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger

from calsync.config import Settings
from calsync.notify.provider_push_jobs import JobScheduler
from calsync.store import Store
from calsync.store.repos.retention import PruneCounts

log = logging.getLogger(__name__)

JOB_ID = "store:retention"
EVERY = timedelta(hours=1)
#: The first prune waits a little, so it never competes with start-up syncs.
FIRST_RUN_DELAY = timedelta(minutes=2)
#: How long expired authorization requests and codes are kept (issue #12).
CONNECT_GRACE = timedelta(days=1)


def prune_once(
    store: Store, settings: Callable[[], Settings], now: Callable[[], datetime]
) -> PruneCounts | None:
    """One prune; None when it failed (logged)."""
    retention = settings().store.history_retention
    try:
        counts = store.prune_history(now() - retention)
    except Exception:
        log.exception("pruning history older than %s failed; retrying in an hour", retention)
        return None
    try:
        # Expired connect-flow requests and codes: useless once expired, kept a day
        # so a late callback still meets "expired" rather than "unknown".
        with store.write() as uow:
            expired = uow.auth_requests.prune(now() - CONNECT_GRACE)
            expired += uow.auth_codes.prune(now() - CONNECT_GRACE)
        if expired:
            log.info("pruned %d expired authorization request(s) and code(s)", expired)
    except Exception:
        log.exception("pruning expired authorization requests failed; retrying in an hour")
    if counts.total:
        log.info(
            "pruned history older than %s: %d delivery(ies), %d outbox row(s), %d change(s)",
            retention,
            counts.deliveries,
            counts.outbox,
            counts.changes,
        )
    return counts


def register_retention_job(
    scheduler: JobScheduler,
    store: Store,
    settings: Callable[[], Settings],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    scheduler.add_job(
        prune_once,
        IntervalTrigger(seconds=EVERY.total_seconds(), timezone=UTC),
        args=(store, settings, now),
        id=JOB_ID,
        name="prune finished history",
        next_run_time=now() + FIRST_RUN_DELAY,
        replace_existing=True,
    )
