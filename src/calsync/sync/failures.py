"""How the engine words and records its failures.

Wording: one line per failure (`describe`), and which ones are bugs (`is_bug`).
Recording never corrupts the store nor drops a pending change:

* A calendar's failure goes on the calendar (``last_error``); the report
  carries it (`record_calendar_failure`).
* An account-level failure (no provider, no calendar list) goes on every
  calendar and on the profile, where it stays until a pass succeeds, so
  ``calsync status`` shows why a first sync never connected
  (`record_account_failure`). `RateLimited` / `TransientProviderError` back the
  account off.
* `CredentialsInvalid` marks the profile disconnected, with a
  ``profile_disconnected`` notification; the same credentials are not sent
  again (`record_disconnected`, `calsync.sync.credentials`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from calsync.config import AccountSettings
from calsync.errors import CalsyncError, CredentialsInvalid, RateLimited, TransientProviderError
from calsync.redaction import redact
from calsync.store import CalendarRecord, ProfileRecord, Store
from calsync.sync.backoff import Backoff
from calsync.sync.credentials import fingerprint
from calsync.sync.gate import Refusal
from calsync.sync.milestones import mark_disconnected
from calsync.sync.report import AccountSyncReport, CalendarSyncOutcome

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> str:
    """One line for the report, the log and ``last_error``, URL secrets redacted."""
    if isinstance(exc, CalsyncError):
        return redact(exc.message)
    return redact(f"unexpected {type(exc).__name__}: {exc}")


def is_bug(exc: BaseException) -> bool:
    return not isinstance(exc, CalsyncError)


class PushFailed(Exception):
    """The pull was stored but the push failed: keeps the pull's figures for the report."""

    def __init__(self, partial: CalendarSyncOutcome, cause: Exception) -> None:
        super().__init__(str(cause))
        self.partial = partial
        self.cause = cause


def refused(account: AccountSettings, refusal: Refusal) -> AccountSyncReport:
    return AccountSyncReport(
        account.name,
        error=refusal.message,
        retry_at=refusal.retry_at,
        skipped=True,
        busy=refusal.busy,
    )


def not_synced(calendar: CalendarRecord, why: str) -> CalendarSyncOutcome:
    return CalendarSyncOutcome(calendar.calendar_id, calendar.name, ok=False, error=why)


def record_calendar_failure(
    store: Store,
    calendar: CalendarRecord,
    exc: BaseException,
    partial: CalendarSyncOutcome | None = None,
) -> CalendarSyncOutcome:
    """Log and store a calendar's failure; ``partial``: its pull was stored, the push failed."""
    message = describe(exc)
    if not is_bug(exc):
        # The report carries it; its reader logs or prints it once.
        log.debug("calendar %s: sync failed: %s", calendar.calendar_id, message)
    else:
        # Called after the ``except`` block: the traceback must be passed explicitly.
        log.error("calendar %s: sync failed unexpectedly", calendar.calendar_id, exc_info=exc)
    try:
        with store.write() as uow:
            uow.calendars.set_sync_status(calendar.pk, last_sync_at=None, last_error=message)
    except Exception:
        log.exception("calendar %s: could not record the failure", calendar.calendar_id)
    if partial is not None:  # pulled and stored fine; the push failed
        return replace(partial, ok=False, error=message, bug=is_bug(exc))
    return CalendarSyncOutcome(
        calendar.calendar_id, calendar.name, ok=False, error=message, bug=is_bug(exc)
    )


def record_account_failure(
    store: Store,
    account: AccountSettings,
    profile: ProfileRecord,
    exc: BaseException,
    *,
    backoff: Backoff,
    clock: Callable[[], datetime],
    base_url: str,
) -> AccountSyncReport:
    """Log and store an account-level failure (on the profile and every calendar)."""
    message = describe(exc)
    if is_bug(exc):
        log.error("account %r: sync failed unexpectedly", account.name, exc_info=exc)
    else:  # the report carries it; its reader logs or prints it once
        log.debug("account %r: sync failed: %s", account.name, message)
    retry_at = None
    try:
        if isinstance(exc, CredentialsInvalid):
            record_disconnected(store, profile, exc, account, base_url=base_url)
        elif isinstance(exc, RateLimited | TransientProviderError):
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            retry_at = backoff.failure(clock(), retry_after=retry_after)
        with store.write() as uow:
            # Also on the profile: a first attempt has no calendar to hold it.
            uow.profiles.set_status(profile.pk, last_error=message)
            for calendar in uow.calendars.list_by_profile(profile.pk):
                uow.calendars.set_sync_status(calendar.pk, last_sync_at=None, last_error=message)
    except Exception:
        log.exception("account %r: could not record the failure", account.name)
    return AccountSyncReport(account.name, error=message, retry_at=retry_at, bug=is_bug(exc))


def record_disconnected(
    store: Store,
    profile: ProfileRecord,
    exc: CredentialsInvalid,
    account: AccountSettings,
    *,
    base_url: str,
) -> None:
    """The provider refused the credentials: mark the profile disconnected, remembering
    which credentials were refused (`calsync.sync.credentials`)."""
    with store.write() as uow:
        mark_disconnected(
            uow, profile, exc.message, base_url=base_url, refused=fingerprint(account)
        )
