"""`SyncEngine`: one account's sync pass, calendar by calendar.

Entry points: `SyncEngine.sync_account` (a scheduled pass, ``sync --once``),
`SyncEngine.sync_calendars` (some calendars, after a provider push) and
`SyncEngine.push_calendar` (pending local changes only, after an app's write).
Each goes through the account's gate (`calsync.sync.gate`): nothing runs while
the account backs off, and two runs of one account never overlap.

This module is the account's side: the profile, discovery, which calendars
this replica owns (`calsync.sync.ownership`), the backoff, and when a failure
stops the pass. One calendar's pull, plan, apply and push is
`calsync.sync.calendar_pass`; how failures are worded and recorded is
`calsync.sync.failures`.

Failures never corrupt the store nor drop a pending change:

* `CursorExpired` -> the calendar is pulled again without a cursor (a full
  reconcile; see the planner for what a complete listing may delete).
* `RateLimited` / `TransientProviderError` -> the calendar records the error;
  the account backs off (`Backoff`, per account). A rate limit stops the
  account's pass at once, since every calendar shares the quota.
* `CredentialsInvalid` -> the profile is marked disconnected (with a
  ``profile_disconnected`` notification) and the pass stops; the same
  credentials are not sent again (`calsync.sync.credentials`).
* An account-level failure (no calendar list) is kept on the profile
  (``last_error``) until a pass succeeds, so ``calsync status`` shows why a
  first sync never connected.
* A push refused as stale (`PreconditionFailed`) clears the cursor, so the
  next pass reconciles and re-plans it under the conflict policy.

The transaction that completes a profile's first full sync also queues
``profile_initial_sync_completed`` (`calsync.sync.milestones`).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from calsync.config import AccountSettings, Settings
from calsync.errors import (
    CredentialsInvalid,
    LeaseLost,
    RateLimited,
    TransientProviderError,
)
from calsync.providers import registry
from calsync.providers.base import Provider
from calsync.store import CalendarRecord, ProfileRecord, Store
from calsync.store.profile_events import PROFILE_DISCONNECTED, PROFILE_INITIAL_SYNC_COMPLETED
from calsync.sync import ownership
from calsync.sync.backoff import Backoff
from calsync.sync.calendar_pass import CalendarPass
from calsync.sync.credentials import fingerprint, refused_report, still_refused
from calsync.sync.discovery import (
    ensure_profile,
    recently_discovered,
    record_calendars,
    syncable_calendars,
)
from calsync.sync.failures import (
    PushFailed,
    describe,
    is_bug,
    not_synced,
    record_account_failure,
    record_calendar_failure,
    record_disconnected,
    refused,
)
from calsync.sync.gate import AccountGate
from calsync.sync.ownership import Ownership
from calsync.sync.progress import ProgressSink
from calsync.sync.report import AccountSyncReport, CalendarSyncOutcome
from calsync.sync.state import SyncPolicy

log = logging.getLogger(__name__)

__all__ = ["PROFILE_DISCONNECTED", "PROFILE_INITIAL_SYNC_COMPLETED", "SyncEngine"]


class ProviderFactoryFn(Protocol):
    """`calsync.providers.registry.create`'s shape."""

    def __call__(self, name: str, account_name: str, options: Mapping[str, Any]) -> Provider: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SyncEngine:
    """Thread-safe across accounts; one pass per account at a time (the scheduler's job)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        provider_factory: ProviderFactoryFn = registry.create,
        clock: Callable[[], datetime] = _utcnow,
        *,
        rng: Callable[[], float] = random.random,
        gate: AccountGate | None = None,
        ownership: Ownership | None = None,
    ) -> None:
        self.store = store
        #: This replica's calendar leases (PostgreSQL replicas); None: sync everything.
        self.ownership = ownership
        self.settings = settings
        self._factory = provider_factory
        self._clock = clock
        self._lock = threading.Lock()
        #: Shared with the engine a reload replaces, so backoffs and running
        #: passes carry over (see `calsync.sync.gate`).
        self.gate = gate if gate is not None else AccountGate(clock, rng=rng)
        self._discovered_at: dict[str, datetime] = {}
        #: Also trust a discovery recorded in the store by another process when it is
        #: younger than ``[sync] rediscover_interval``: `sync --once` sets it, being a
        #: fresh process every run (issue #11).
        self.stored_discovery = False

    # -- public entry points: each goes through the gate ----------------------------

    def sync_account(
        self,
        account: AccountSettings,
        *,
        progress: ProgressSink | None = None,
        allow_mass_delete: bool = False,
        retry_refused: bool = False,
    ) -> AccountSyncReport:
        """One pass over the account's calendars. Never raises for provider or store
        failures: the report (and each calendar's ``last_error``) says what failed.

        ``retry_refused``: try credentials the provider refused before (an operator
        asked for this account); otherwise the pass stops before contacting it."""
        with self.gate.admitted(account.name, wait=True) as refusal:
            if refusal is not None:
                return refused(account, refusal)
            return self._sync_account(account, progress, allow_mass_delete, retry_refused)

    def sync_calendars(
        self, account: AccountSettings, calendars: Sequence[CalendarRecord]
    ) -> AccountSyncReport:
        """Pull and push just ``calendars`` (a provider push said they changed)."""
        return self._targeted(account, calendars, push_only=False)

    def push_calendar(
        self, account: AccountSettings, calendar: CalendarRecord
    ) -> AccountSyncReport:
        """Push ``calendar``'s pending local changes now, without a pull (an app wrote)."""
        return self._targeted(account, [calendar], push_only=True)

    def discover(self, account: AccountSettings) -> None:
        """Refresh the account's calendar list (the daemon runs it every
        ``[sync] rediscover_interval``). Raises `ProviderError` after recording it."""
        profile = ensure_profile(self.store, account)
        if still_refused(profile, account):
            raise CredentialsInvalid(refused_report(profile, account).error or "")
        provider = self._factory(account.provider, account.name, account.options)
        try:
            self._discover(provider, profile, account)
        except CredentialsInvalid as exc:
            self._mark_disconnected(profile, exc, account)
            raise
        finally:
            provider.close()

    def backoff(self, account_name: str) -> Backoff:
        return self.gate.backoff(account_name)

    # -- passes -----------------------------------------------------------------------

    def _sync_account(
        self,
        account: AccountSettings,
        progress: ProgressSink | None,
        allow_mass_delete: bool,
        retry_refused: bool,
    ) -> AccountSyncReport:
        try:
            profile = ensure_profile(self.store, account)
        except Exception as exc:
            log.exception("account %r: cannot prepare the store", account.name)
            return AccountSyncReport(account.name, error=describe(exc), bug=is_bug(exc))
        if not retry_refused and still_refused(profile, account):
            return refused_report(profile, account)
        provider: Provider | None = None
        try:
            provider = self._factory(account.provider, account.name, account.options)
            trusted = False
            if self._discovery_due(account.name):
                trusted = self.stored_discovery and recently_discovered(
                    profile, account, self._clock(), self.settings.sync.rediscover_interval
                )
                if not trusted:
                    self._discover(provider, profile, account)
                    if self.ownership is not None:
                        self.ownership.refresh()  # leases for calendars just discovered
            calendars = syncable_calendars(self.store, profile)
            report = self._sync_calendars(
                account,
                provider,
                calendars,
                profile=profile,
                progress=progress,
                allow_mass_delete=allow_mass_delete,
            )
            if trusted and report.failed and report.error is None and report.retry_at is None:
                # A calendar failed in a run that skipped discovery: it may be gone from
                # the server, which discovery would have found first. Discover now, and
                # leave out calendars no longer listed, as if the run had discovered.
                self._discover(provider, profile, account)
                if self.ownership is not None:
                    self.ownership.refresh()
                listed = {c.calendar_id for c in syncable_calendars(self.store, profile)}
                kept = tuple(c for c in report.calendars if c.calendar_id in listed)
                report = replace(report, calendars=kept)
            return report
        except Exception as exc:  # provider construction or discovery failed
            return self._account_failure(account, profile, exc)
        finally:
            if provider is not None:
                provider.close()

    def _targeted(
        self, account: AccountSettings, calendars: Sequence[CalendarRecord], *, push_only: bool
    ) -> AccountSyncReport:
        """A run of some calendars, refused (``busy``) rather than waiting for a pass."""
        with self.gate.admitted(account.name, wait=False) as refusal:
            if refusal is not None:
                return refused(account, refusal)
            try:
                profile = ensure_profile(self.store, account)
            except Exception as exc:
                log.exception("account %r: cannot prepare the store", account.name)
                return AccountSyncReport(account.name, error=describe(exc), bug=is_bug(exc))
            if still_refused(profile, account):
                return refused_report(profile, account)
            provider: Provider | None = None
            try:
                provider = self._factory(account.provider, account.name, account.options)
                return self._sync_calendars(
                    account, provider, calendars, profile=profile, push_only=push_only
                )
            except Exception as exc:  # provider construction failed
                return self._account_failure(account, profile, exc)
            finally:
                if provider is not None:
                    provider.close()

    def _sync_calendars(
        self,
        account: AccountSettings,
        provider: Provider,
        calendars: Sequence[CalendarRecord],
        *,
        profile: ProfileRecord,
        progress: ProgressSink | None = None,
        allow_mass_delete: bool = False,
        push_only: bool | None = None,
    ) -> AccountSyncReport:
        """Sync (or, with ``push_only``, just push) the given calendars over an open
        provider. ``push_only`` None marks the account's full pass: only a full pass
        clears the backoff, so a calendar that keeps succeeding never hides one that
        keeps failing; any run's failure extends it."""
        policy = SyncPolicy(
            conflict=account.conflict,
            max_delete_fraction=self.settings.sync.max_delete_fraction,
            allow_mass_delete=allow_mass_delete,
            expect_echoes=provider.capabilities.incremental and not provider.capabilities.read_only,
            series_as_unit=provider.capabilities.series_as_unit,
        )
        one = CalendarPass(provider, policy, self.settings.sync, self._clock, progress)
        outcomes: list[CalendarSyncOutcome] = []
        retry_after: float | None = None
        transient = False
        pass_started = self._clock()
        calendars = ownership.owned(
            self.ownership,
            self.store,
            calendars,
            now=pass_started,
            interval=self.settings.sync.interval,
            full_pass=push_only is None,
        )
        for index, calendar in enumerate(calendars):
            partial: CalendarSyncOutcome | None = None
            view = ownership.view(self.ownership, self.store, calendar.pk)
            if view is None:  # the lease went away since `owned`
                continue
            # The calendar stays busy until its due time is recorded: the lease keeper
            # gives back only calendars that are not busy, and a lease handed over
            # before the record would reach the next replica as due at once.
            with ownership.syncing(self.ownership, calendar.pk):
                try:
                    if push_only:
                        outcomes.append(one.push(calendar, view))
                    else:
                        outcomes.append(one.sync(calendar, view))
                        ownership.record_sync(
                            self.ownership,
                            self.store,
                            view,
                            pass_started,
                            self.settings.sync.interval,
                        )
                    continue
                except PushFailed as failure:
                    exc: Exception = failure.cause
                    partial = failure.partial
                except Exception as caught:
                    exc = caught
                if isinstance(exc, LeaseLost) or isinstance(exc.__cause__, LeaseLost):
                    # Another replica owns it now: its outcome and status are not ours to write.
                    log.warning("calendar %s: %s; not committed", calendar.calendar_id, exc)
                    if self.ownership is not None:
                        self.ownership.lost(calendar.pk)
                    outcomes.append(not_synced(calendar, "not synced: the sync lease was lost"))
                    continue
                outcomes.append(record_calendar_failure(self.store, calendar, exc, partial))
                if not push_only:
                    ownership.record_sync(
                        self.ownership, self.store, view, pass_started, self.settings.sync.interval
                    )
            if isinstance(exc, RateLimited | CredentialsInvalid):
                rest = calendars[index + 1 :]
                outcomes += [not_synced(c, "not synced: " + exc.message) for c in rest]
                if isinstance(exc, CredentialsInvalid):
                    self._mark_disconnected(profile, exc, account)
                    return AccountSyncReport(account.name, tuple(outcomes), error=exc.message)
                retry_after, transient = exc.retry_after, True
                break
            transient |= isinstance(exc, TransientProviderError)
        backoff = self.backoff(account.name)
        retry_at = None
        if transient:
            retry_at = backoff.failure(self._clock(), retry_after=retry_after)
        else:
            if push_only is None:
                backoff.success()
            if not profile.connected or profile.last_error is not None:
                with self.store.write() as uow:  # it synced: connected, no account error
                    uow.profiles.set_connected(profile.pk, True)
                    uow.profiles.set_status(profile.pk, last_error=None)
        return AccountSyncReport(account.name, tuple(outcomes), retry_at=retry_at)

    # -- discovery -----------------------------------------------------

    def _discovery_due(self, account_name: str) -> bool:
        with self._lock:
            last = self._discovered_at.get(account_name)
        return last is None or self._clock() - last >= self.settings.sync.rediscover_interval

    def _discover(
        self, provider: Provider, profile: ProfileRecord, account: AccountSettings
    ) -> None:
        remotes = list(provider.list_calendars())
        now = self._clock()
        record_calendars(self.store, profile, remotes, discovered=(now, fingerprint(account)))
        with self._lock:
            self._discovered_at[account.name] = now

    def _account_failure(
        self, account: AccountSettings, profile: ProfileRecord, exc: BaseException
    ) -> AccountSyncReport:
        return record_account_failure(
            self.store,
            account,
            profile,
            exc,
            backoff=self.backoff(account.name),
            clock=self._clock,
            base_url=self.settings.api.base_url,
        )

    def _mark_disconnected(
        self, profile: ProfileRecord, exc: CredentialsInvalid, account: AccountSettings
    ) -> None:
        record_disconnected(self.store, profile, exc, account, base_url=self.settings.api.base_url)
