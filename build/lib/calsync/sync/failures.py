"""How the engine words its failures: one line per failure, and which ones are bugs."""

from __future__ import annotations

from calsync.config import AccountSettings
from calsync.errors import CalsyncError
from calsync.redaction import redact
from calsync.store import CalendarRecord
from calsync.sync.gate import Refusal
from calsync.sync.report import AccountSyncReport, CalendarSyncOutcome


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
