"""What one account's sync pass did, per calendar (for `calsync sync --once` and logs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CalendarSyncOutcome:
    calendar_id: str
    name: str
    ok: bool
    error: str | None = None
    upserted: int = 0
    tombstoned: int = 0
    conflicts: int = 0
    pushed: int = 0
    #: The stored cursor had expired (or there was none): the calendar was listed whole.
    full_listing: bool = False
    mass_delete_aborted: bool = False
    #: The failure was not a calsync error but a bug (its traceback is in the log).
    bug: bool = False


@dataclass(frozen=True, slots=True)
class AccountSyncReport:
    account: str
    calendars: tuple[CalendarSyncOutcome, ...] = ()
    #: An account-level failure (credentials, discovery, backoff), if any.
    error: str | None = None
    #: Set while the account backs off: no attempt before this time.
    retry_at: datetime | None = None
    #: The run did not happen (the account is backing off, or busy).
    skipped: bool = False
    #: The account-level failure was a bug, not a calsync error.
    bug: bool = False
    #: Skipped because another run of the account was in progress: ask again shortly.
    busy: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.calendars)

    @property
    def hit_a_bug(self) -> bool:
        """Whether anything failed because of a bug in calsync (``calsync sync`` exits 70)."""
        return self.bug or any(c.bug for c in self.calendars)

    @property
    def failed(self) -> tuple[CalendarSyncOutcome, ...]:
        return tuple(c for c in self.calendars if not c.ok)

    def describe_failures(self) -> list[str]:
        """One line per problem, e.g. ``work/Team: rate limited``."""
        lines = [f"{self.account}: {self.error}"] if self.error else []
        lines += [f"{self.account}/{c.name}: {c.error}" for c in self.failed]
        return lines
