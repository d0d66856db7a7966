"""Sync passes through `calsync.sync.SyncEngine`, for ``calsync sync --once`` and the scheduler.

The engine does everything per account (profile rows, discovery and
rediscovery, pull/plan/apply/push, backoff, disconnection); this module only
chooses which accounts to run, and for the daemon keeps the scheduler from
waking an account before its backoff has passed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from calsync.config import AccountSettings, Settings
from calsync.errors import UserError

if TYPE_CHECKING:
    from calsync.sync import AccountSyncReport, ProgressSink, SyncEngine

log = logging.getLogger(__name__)


def configured_account(settings: Settings, name: str) -> AccountSettings:
    """The ``[[accounts]]`` entry called ``name``; `UserError` listing the names if none is."""
    account = settings.account(name)
    if account is None:
        known = ", ".join(repr(a.name) for a in settings.accounts) or "none configured"
        raise UserError(
            f"no account named {name!r} in {settings.path}",
            hint=f"Use one of the [[accounts]] names: {known}.",
        )
    return account


def selected_accounts(settings: Settings, account_name: str | None) -> list[AccountSettings]:
    """Every enabled account, or just ``account_name`` (even if disabled: it was asked for)."""
    if account_name is not None:
        return [configured_account(settings, account_name)]
    return [a for a in settings.accounts if a.enabled]


def run_sync_pass(
    engine: SyncEngine,
    accounts: Sequence[AccountSettings],
    *,
    progress: Callable[[AccountSettings], ProgressSink | None] = lambda _account: None,
    allow_mass_delete: bool = False,
    retry_refused: bool = False,
) -> list[AccountSyncReport]:
    """One pass over ``accounts``, in order; never raises for provider or store failures."""
    return [
        engine.sync_account(
            account,
            progress=progress(account),
            allow_mass_delete=allow_mass_delete,
            retry_refused=retry_refused,
        )
        for account in accounts
    ]


def summarize(report: AccountSyncReport) -> str:
    """One line for a log or the terminal, e.g. ``2 calendar(s), 14 upserted, 1 pushed``."""
    calendars = report.calendars
    parts = [f"{len(calendars)} calendar(s)"]
    for label, count in (
        ("upserted", sum(c.upserted for c in calendars)),
        ("deleted", sum(c.tombstoned for c in calendars)),
        ("pushed", sum(c.pushed for c in calendars)),
        ("conflicts", sum(c.conflicts for c in calendars)),
    ):
        if count:
            parts.append(f"{count} {label}")
    return ", ".join(parts)


class SyncJobs:
    """The scheduler's job body: one account's pass through the current engine.

    ``engine`` and ``settings`` are read at every run, so a reload that
    replaces them is seen by the next run. When a pass ends in backoff
    (``report.retry_at``), ``defer`` moves the account's next run to that time.
    ``after_pass`` runs after every pass that ran (the daemon opens provider
    push channels for calendars synced for the first time); it must not raise.
    """

    def __init__(
        self,
        engine: Callable[[], SyncEngine],
        settings: Callable[[], Settings],
        defer: Callable[[str, datetime], None],
        after_pass: Callable[[AccountSettings, AccountSyncReport], object] | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._defer = defer
        self._after_pass = after_pass
        self._last: dict[str, AccountSyncReport] = {}
        self._lock = threading.Lock()

    def last_report(self, account_name: str) -> AccountSyncReport | None:
        with self._lock:
            return self._last.get(account_name)

    def __call__(self, account_name: str) -> None:
        account = self._settings().account(account_name)
        if account is None or not account.enabled:
            log.info("account %r is no longer configured; skipping its sync", account_name)
            return
        log.info("account %r: sync started", account_name)
        report = self._engine().sync_account(account)
        with self._lock:
            self._last[account_name] = report
        if report.skipped:
            log.info("account %r: sync skipped (%s)", account_name, report.error)
        elif report.ok:
            log.info("account %r: sync finished (ok): %s", account_name, summarize(report))
        else:
            log.warning(
                "account %r: sync finished (failed): %s",
                account_name,
                "; ".join(report.describe_failures()),
            )
        if report.retry_at is not None:
            self._defer(account_name, report.retry_at)
        if self._after_pass is not None and not report.skipped:
            try:
                self._after_pass(account, report)
            except Exception:
                log.exception("account %r: after its sync", account_name)
