"""History retention: finished rows older than the cut-off go, pending ones never do."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, select, update

from calsync.daemon.retention import FIRST_RUN_DELAY, JOB_ID, prune_once, register_retention_job
from calsync.errors import StoreError
from calsync.store import Store
from calsync.store.channels_models import Delivery
from calsync.store.models import ChangeLogEntry, OutboxEntry
from calsync.store.repos.retention import PruneCounts
from tests.fixtures.api import make_settings
from tests.fixtures.store import content, new_calendar

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=40)


def _history(store: Store) -> tuple[list[int], list[int], list[int]]:
    """Three changes (three outbox rows) and four deliveries; their ids in order."""
    cal = new_calendar(store)
    for i in range(3):
        with store.write() as uow:
            uow.events.upsert_managed(cal.pk, f"e{i}", content(f"event {i}", day=i))
    with store.write() as uow:
        channel, _ = uow.channels.create(
            cal.account_pk, "https://hooks.example.org/x", {}, fingerprint="f", max_channels=10
        )
        deliveries = [uow.channels.add_delivery(channel.pk, "change").pk for _ in range(4)]
    with store.read() as uow:
        changes = [c.pk for c in uow.changes.list_since(cal.account_pk, limit=10)]
        outbox = [o.pk for o in uow.outbox.list()]
    assert len(changes) == len(outbox) == 3
    return changes, outbox, deliveries


def test_prune_keeps_pending_and_recent_rows(store: Store, store_url: str) -> None:
    changes, outbox, deliveries = _history(store)
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ChangeLogEntry).where(ChangeLogEntry.id.in_(changes[:2])).values(updated=OLD)
            )
            for pk, status, created in (
                (outbox[0], "delivered", OLD),
                (outbox[1], "pending", OLD),  # never fanned out: kept however old
                (outbox[2], "delivered", NOW),
            ):
                conn.execute(
                    update(OutboxEntry)
                    .where(OutboxEntry.id == pk)
                    .values(status=status, created_at=created)
                )
            for pk, status, created in (
                (deliveries[0], "delivered", OLD),
                (deliveries[1], "failed", OLD),
                (deliveries[2], "pending", OLD),  # still to be attempted: kept
                (deliveries[3], "delivered", NOW),
            ):
                conn.execute(
                    update(Delivery)
                    .where(Delivery.id == pk)
                    .values(status=status, created_at=created)
                )

        # A batch of 1 makes every table take several transactions.
        counts = store.prune_history(NOW - timedelta(days=30), batch=1)
        assert counts == PruneCounts(deliveries=2, outbox=1, changes=2)
        with engine.connect() as conn:
            assert list(conn.scalars(select(ChangeLogEntry.id))) == changes[2:]
            assert sorted(conn.scalars(select(OutboxEntry.id))) == outbox[1:]
            assert sorted(conn.scalars(select(Delivery.id))) == deliveries[2:]
    finally:
        engine.dispose()
    assert store.prune_history(NOW - timedelta(days=30)).total == 0


def test_the_daemon_job_prunes_with_the_current_retention(
    store: Store, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    changes, _, _ = _history(store)
    base = make_settings(store_url, "http://127.0.0.1:1", 1)
    settings = replace(base, store=replace(base.store, history_retention=timedelta(days=1)))
    scheduler = BackgroundScheduler(timezone=UTC)
    register_retention_job(scheduler, store, lambda: settings, now=lambda: NOW)
    job = scheduler.get_job(JOB_ID)
    assert job.trigger.interval == timedelta(hours=1)
    assert job.next_run_time == NOW + FIRST_RUN_DELAY

    # Nothing is older than a day yet; three days on, every change is.
    assert prune_once(store, lambda: settings, lambda: NOW) == PruneCounts()
    with caplog.at_level(logging.INFO, logger="calsync.daemon.retention"):
        later = prune_once(store, lambda: settings, lambda: NOW + timedelta(days=3))
    assert later is not None and later.changes == len(changes)
    assert "pruned history older than 1 day" in caplog.text

    class Broken(Store):
        def prune_history(self, before: datetime, *, batch: int = 5000) -> PruneCounts:
            raise StoreError("store unavailable: down for maintenance")

    with caplog.at_level(logging.ERROR, logger="calsync.daemon.retention"):
        assert prune_once(Broken(store_url), lambda: settings, lambda: NOW) is None
    assert "retrying in an hour" in caplog.text
