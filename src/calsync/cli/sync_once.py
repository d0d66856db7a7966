"""``calsync sync --once``: one pass through the sync engine, reported per account.

Successes go to stdout, failures to stderr, one line per failed calendar with
its reason (`AccountSyncReport.describe_failures`). The caller exits 1 when
anything failed, and 70 (as for any bug) when an unexpected error did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from calsync.cli.errors import EXIT_BUG, EXIT_FAILURE, EXIT_OK, REPORT_URL_HINT
from calsync.config import AccountSettings, Settings
from calsync.daemon.jobs import run_sync_pass, selected_accounts, summarize
from calsync.redaction import redact

if TYPE_CHECKING:
    from calsync.store import Store
    from calsync.sync import AccountSyncReport, ProgressSink

BUG_HINT = "hint: an unexpected error stopped the sync; its traceback is in the log."
MASS_DELETE_HINT = (
    "hint: a pass that would delete more than [sync] max_delete_fraction of a calendar "
    "was not applied; if the deletions are real, run again with --allow-mass-delete."
)


def run_once(
    store: Store,
    settings: Settings,
    *,
    account_name: str | None = None,
    allow_mass_delete: bool = False,
    interactive: bool = False,
) -> list[AccountSyncReport]:
    """Sync the selected accounts once; a progress bar for long first pulls when interactive."""
    from calsync.sync import RichProgress, SyncEngine
    from calsync.sync.connections import with_connections

    # Accounts connected through /oauth/authorize are synced too (and named by --account).
    settings = with_connections(settings, store)

    def progress(account: AccountSettings) -> ProgressSink | None:
        return RichProgress(f"syncing {account.name}") if interactive else None

    engine = SyncEngine(store, settings)
    # A fresh process each run: discover only when the last discovery (any process's)
    # is older than [sync] rediscover_interval or used other account options.
    engine.stored_discovery = True
    keeper = None
    if store.backend == "postgresql":
        # Replicas may be running: sync only the calendars whose lease is free
        # (fenced like theirs), and say which ones their holders keep.
        from calsync.daemon.leases import LeaseKeeper

        keeper = LeaseKeeper(store, lambda: settings, member=False)
        keeper.start()
        engine.ownership = keeper
    try:
        return run_sync_pass(
            engine,
            selected_accounts(settings, account_name),
            progress=progress,
            allow_mass_delete=allow_mass_delete,
            # Naming the account is the operator asking: credentials the provider
            # refused before are tried again (calsync.sync.credentials).
            retry_refused=account_name is not None,
        )
    finally:
        if keeper is not None:
            keeper.stop()
            held_elsewhere = keeper.held_elsewhere()
            if held_elsewhere:
                click.echo(
                    f"{len(held_elsewhere)} calendar(s) left to the running replicas that "
                    f"hold their sync leases: {', '.join(held_elsewhere)}",
                    err=True,
                )


def print_reports(reports: Sequence[AccountSyncReport]) -> int:
    """Print what each account's pass did; the exit code: 0 when everything synced,
    70 when a bug in calsync failed something (its traceback is in the log), else 1."""
    if not reports:
        click.echo("no enabled accounts in the config; nothing to sync")
        return EXIT_OK
    for report in reports:
        if report.ok:
            click.echo(f"{report.account}: ok, {summarize(report)}")
            continue
        click.echo(f"{report.account}: FAILED ({summarize(report)})", err=True)
        for line in report.describe_failures():
            click.echo(redact(f"error: {line}"), err=True)
    failed = [r.account for r in reports if not r.ok]
    if any(c.mass_delete_aborted for r in reports for c in r.calendars):
        click.echo(MASS_DELETE_HINT, err=True)
    if failed:
        click.echo(f"error: sync failed for: {', '.join(failed)}", err=True)
    if any(r.hit_a_bug for r in reports):
        click.echo(BUG_HINT, err=True)
        click.echo(REPORT_URL_HINT, err=True)
        return EXIT_BUG
    return EXIT_FAILURE if failed else EXIT_OK
