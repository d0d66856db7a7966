"""One calendar's sync over an open provider: pull, plan and apply, push.

The pull runs outside any transaction, since the cursor it starts from is read
first. A pull made with a cursor is then planned and applied in one write
transaction, with the new cursor (`apply.load_state`, `plan`, `apply_plan`). A
pull without one (first sync, an expired cursor) lists the whole calendar and
commits it a page per short transaction, the deletions and the cursor in the
last one (`calsync.sync.paged`): memory stays bounded by a page and API writes
are never held up for long (SQLite has one write lock). Then the pending local
changes are pushed, each committed on its own; a push refused as stale clears
the cursor, so the next pass reconciles and re-plans it under the conflict policy.

What fails here raises to the engine (`calsync.sync.engine`), which records it
(`calsync.sync.failures`); a push failing after a stored pull raises
`PushFailed`, which keeps the pull's figures for the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from calsync.config import SyncSettings
from calsync.errors import CursorExpired
from calsync.providers.base import Provider, SyncWindow
from calsync.store import CalendarRecord, CursorRecord, UnitOfWork
from calsync.sync.apply import ApplyResult, apply_plan, load_state
from calsync.sync.failures import PushFailed
from calsync.sync.milestones import after_calendar_synced
from calsync.sync.ownership import StoreView
from calsync.sync.paged import ListingAborted, store_listing
from calsync.sync.planner import plan
from calsync.sync.progress import ProgressSink
from calsync.sync.pulling import pull_all, pull_pages
from calsync.sync.push import PushResult, push_pending
from calsync.sync.report import CalendarSyncOutcome
from calsync.sync.state import Pulled, SyncPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CalendarPass:
    """What every calendar of one run shares: the provider, the policy, the clock."""

    provider: Provider
    policy: SyncPolicy
    settings: SyncSettings
    clock: Callable[[], datetime]
    progress: ProgressSink | None = None

    def sync(self, calendar: CalendarRecord, view: StoreView) -> CalendarSyncOutcome:
        """Pull, store and push the calendar. Raises what the provider or the store
        raised (`PushFailed` when only the push failed)."""
        assert calendar.remote_id is not None
        with view.read() as uow:
            stored = uow.cursors.get(calendar.pk)
        pulled: Pulled | None = None
        if stored is not None and stored.cursor is not None:
            try:
                pulled = pull_all(
                    self.provider, calendar.remote_id, stored.cursor, self._window(), self.progress
                )
            except CursorExpired as exc:
                log.info("calendar %s: %s; listing it whole", calendar.calendar_id, exc.message)
        if pulled is None:
            applied, pulled = self._store_listing(calendar, view)
        else:
            applied = self._store_pull(calendar, pulled, view)
        if applied.aborted is not None:
            log.error("calendar %s: %s", calendar.calendar_id, applied.aborted.reason)
            return CalendarSyncOutcome(
                calendar.calendar_id,
                calendar.name,
                ok=False,
                error=applied.aborted.reason,
                full_listing=pulled.from_scratch,
                mass_delete_aborted=True,
            )

        outcome = CalendarSyncOutcome(
            calendar.calendar_id,
            calendar.name,
            ok=True,
            upserted=applied.upserted,
            tombstoned=applied.tombstoned,
            conflicts=len(applied.conflicts),
            full_listing=pulled.from_scratch,
        )
        if self.provider.capabilities.read_only:
            return outcome
        try:
            result = push_pending(view, self.provider, calendar)
        except Exception as exc:
            raise PushFailed(outcome, exc) from exc
        return _pushed(calendar, view, outcome, result)

    def push(self, calendar: CalendarRecord, view: StoreView) -> CalendarSyncOutcome:
        """Push the calendar's pending changes; what the pull would have planned
        (recreations, conflicts) waits for the next pass."""
        outcome = CalendarSyncOutcome(calendar.calendar_id, calendar.name, ok=True)
        if self.provider.capabilities.read_only or calendar.remote_id is None:
            return outcome
        return _pushed(calendar, view, outcome, push_pending(view, self.provider, calendar))

    def _store_pull(self, calendar: CalendarRecord, pulled: Pulled, view: StoreView) -> ApplyResult:
        """Plan and apply a pull made with a cursor, as one transaction."""
        now = self.clock()
        with view.write() as uow:
            before = uow.cursors.get(calendar.pk)
            actions = plan(load_state(uow, calendar.pk, pulled), pulled, self.policy)
            applied = apply_plan(uow, calendar.pk, actions)
            if applied.aborted is not None:
                uow.calendars.set_sync_status(
                    calendar.pk, last_sync_at=None, last_error=applied.aborted.reason
                )
            else:
                _record_synced(uow, calendar, before, pulled, now)
        return applied

    def _store_listing(
        self, calendar: CalendarRecord, view: StoreView
    ) -> tuple[ApplyResult, Pulled]:
        """Pull the calendar from scratch and store it a page per transaction, the
        deletions and the cursor in the last one (`calsync.sync.paged`)."""
        assert calendar.remote_id is not None
        with view.read() as uow:
            before = uow.cursors.get(calendar.pk)
            live_before = uow.events.count_live(calendar.pk)
        log.info("calendar %s: listing it from scratch", calendar.calendar_id)
        pages = pull_pages(self.provider, calendar.remote_id, None, self._window(), self.progress)
        try:
            return store_listing(
                view.write,
                calendar.pk,
                pages,
                self.policy,
                lambda uow, pulled: _record_synced(uow, calendar, before, pulled, self.clock()),
                live_before=live_before,
            )
        except ListingAborted as aborted:  # rolled back: record why on its own
            with view.write() as uow:
                uow.calendars.set_sync_status(
                    calendar.pk, last_sync_at=None, last_error=aborted.abort.reason
                )
            return ApplyResult(aborted=aborted.abort), Pulled(from_scratch=True)
        finally:
            pages.close()

    def _window(self) -> SyncWindow:
        return sync_window(self.settings, self.clock())


def sync_window(settings: SyncSettings, now: datetime) -> SyncWindow:
    """The span a pull asks for: ``[sync] window_past_days`` .. ``window_future_days``."""
    return SyncWindow(
        start=now - timedelta(days=settings.window_past_days),
        end=now + timedelta(days=settings.window_future_days),
    )


def _pushed(
    calendar: CalendarRecord, view: StoreView, outcome: CalendarSyncOutcome, result: PushResult
) -> CalendarSyncOutcome:
    """The outcome with the push's figures; a push refused as stale clears the cursor."""
    if result.stale:
        with view.write() as uow:
            uow.cursors.clear(calendar.pk)
    return replace(outcome, pushed=result.pushed)


def _record_synced(
    uow: UnitOfWork,
    calendar: CalendarRecord,
    before: CursorRecord | None,
    pulled: Pulled,
    now: datetime,
) -> None:
    uow.calendars.set_sync_status(calendar.pk, last_sync_at=now, last_error=None)
    if after_calendar_synced(uow, calendar, before, full_listing=pulled.full_listing):
        log.info("profile %s: initial sync completed", calendar.profile_id)
