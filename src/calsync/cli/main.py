"""The ``calsync`` command.

Every subcommand loads the config lazily through `CliState`, so ``--version``
and ``--help`` work without a config file. Failures are mapped to a message and
an exit code in exactly one place, `calsync.cli.errors`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

import calsync
from calsync.cli.account_commands import account, keys
from calsync.cli.errors import emit, report_for
from calsync.cli.state import CliState, pass_state
from calsync.errors import UserError

DEFAULT_CONFIG = Path("/etc/calsync/calsync.toml")
CONFIG_ENV = "CALSYNC_CONFIG"


class CalsyncGroup(click.Group):
    """Turns every exception from a subcommand into the user-facing report."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            state = ctx.find_object(CliState)
            debug = state.show_traceback if state is not None else False
            report = report_for(exc, debug=debug)
            emit(report)
            raise click.exceptions.Exit(report.exit_code) from exc


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # Not click.version_option: it reads the version when the module is imported, and
    # reading it (importlib.metadata) would slow every command down.
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"calsync {calsync.__version__}")
    ctx.exit()


def _default_config() -> str:
    return os.environ.get(CONFIG_ENV) or str(DEFAULT_CONFIG)


@click.group(cls=CalsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=_default_config,
    show_default=f"${CONFIG_ENV} or {DEFAULT_CONFIG}",
    help="The configuration file.",
)
@click.option("--debug", is_flag=True, help="Log at debug level and show tracebacks of bugs.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path, debug: bool) -> None:
    """calsync: a self-hosted calendar sync daemon with a Cronofy-compatible API."""
    ctx.obj = CliState(config_path=config_path, debug=debug)


@cli.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Serve the API here instead of [api] listen (replicas sharing one config; "
    "see systemd/calsync@.service).",
)
@pass_state
def run(state: CliState, listen: str | None) -> None:
    """Run the daemon: the HTTP API and the sync scheduler (migrates the store first)."""
    from dataclasses import replace

    from calsync.config import Settings
    from calsync.config.values import InvalidValue, listen_address
    from calsync.daemon import bootstrap
    from calsync.daemon.process import Daemon

    address = None
    if listen is not None:
        try:
            address = listen_address(listen)
        except InvalidValue as exc:
            raise click.BadParameter(str(exc), param_hint="--listen") from None

    def listening(settings: Settings) -> Settings:
        if address is None:
            return settings
        return replace(settings, api=replace(settings.api, listen=address))

    state.configure_logging()
    daemon = Daemon(
        listening(state.settings()), load=lambda path: listening(bootstrap.load_settings(path))
    )
    code = daemon.run()
    if code:
        raise click.exceptions.Exit(code)


@cli.command()
@click.option("--once", is_flag=True, help="Run one pass and exit (required).")
@click.option("--account", "account_name", metavar="NAME", help="Only this configured account.")
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Apply a pass even when it would delete more than [sync] max_delete_fraction "
    "of a calendar's events (after checking that the deletions are real).",
)
@pass_state
def sync(state: CliState, once: bool, account_name: str | None, allow_mass_delete: bool) -> None:
    """Sync the configured accounts once and exit.

    Exit status: 0 when every calendar synced, 1 when any account or calendar
    failed (each failure is printed with its reason), 2 for a usage error, 70
    when a bug in calsync failed it (the traceback is logged).
    """
    from calsync.cli.sync_once import print_reports, run_once
    from calsync.daemon import bootstrap
    from calsync.store.sole_process import SYNC_ONCE, sole_process

    if not once:
        raise UserError(
            "`calsync sync` needs --once",
            hint="Use `calsync sync --once`, or `calsync run` to sync continuously.",
        )
    state.configure_logging()
    settings = state.settings()
    with (
        bootstrap.store_session(settings) as store,
        sole_process(store.sqlite_path, SYNC_ONCE, on_wait=lambda why: click.echo(why, err=True)),
    ):
        reports = run_once(
            store,
            settings,
            account_name=account_name,
            allow_mass_delete=allow_mass_delete,
            interactive=sys.stdout.isatty(),
        )
    code = print_reports(reports)
    if code:
        raise click.exceptions.Exit(code)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Apply pending schema migrations."""
    from calsync.daemon import bootstrap

    state.configure_logging()
    settings = state.settings()
    with bootstrap.store_session(settings, migrated=False) as store:
        before, after = store.upgrade()
    where = bootstrap.display_url(settings.store.url)
    if before is None:
        click.echo(f"created the schema at revision {after} in {where}")
    elif before != after:
        click.echo(f"upgraded the schema from revision {before} to {after} in {where}")
    else:
        click.echo(f"already at revision {after}, nothing to do: {where}")


@cli.group()
def config() -> None:
    """Configuration file tools."""


@config.command("check")
@pass_state
def config_check(state: CliState) -> None:
    """Validate the config file and print the effective config (secrets redacted)."""
    from calsync.config import render_effective

    settings = state.settings()
    click.echo(render_effective(settings).rstrip("\n"))
    click.echo(f"# {state.config_path}: OK", err=True)


@cli.command()
@pass_state
def status(state: CliState) -> None:
    """Show each account and calendar: profile state, last sync, cursor age, last error."""
    from calsync.cli.status import collect_status, render_status
    from calsync.daemon import bootstrap

    state.configure_logging()
    settings = state.settings()
    with bootstrap.store_session(settings) as store:
        from calsync.sync.connections import with_connections

        # Accounts connected through /oauth/authorize are listed as accounts, not leftovers.
        rows = collect_status(store, with_connections(settings, store))
    click.echo(render_status(rows))


@cli.group()
def token() -> None:
    """API access tokens."""


@token.command("issue")
@click.option("--account", "account_name", metavar="NAME", help="Configured account.")
@click.option(
    "--agent", "agent_id", metavar="AGT", help="An agent id (agt_...) of the Chronary API."
)
@click.option(
    "--api-key", "api_key", is_flag=True, help="An organization API key for the Chronary API."
)
@pass_state
def token_issue(
    state: CliState, account_name: str | None, agent_id: str | None, api_key: bool
) -> None:
    """Print a new API access token (or API key); it is the last word of the output.

    Give exactly one of --account (a configured account), --agent (the account an
    agent stands for) or --api-key (the organization's key for the Chronary API).
    """
    from calsync.cli.tokens import issue_agent_token, issue_api_key, issue_token
    from calsync.daemon import bootstrap

    if sum((account_name is not None, agent_id is not None, api_key)) != 1:
        raise click.UsageError("give exactly one of --account, --agent or --api-key")
    state.configure_logging()
    settings = state.settings()
    with bootstrap.store_session(settings) as store:
        if api_key:
            org_id, key = issue_api_key(store, settings)
            click.echo(f"# API key of organization {org_id}; it is shown only now", err=True)
            click.echo(key)
            return
        if agent_id is not None:
            issued = issue_agent_token(store, settings, agent_id)
            what = f"agent {agent_id}"
        else:
            assert account_name is not None
            issued = issue_token(store, settings, account_name)
            what = f"account {account_name}"
    expiry = f", expires {issued.expires_at:%Y-%m-%dT%H:%M:%SZ}" if issued.expires_at else ""
    click.echo(f"# {what} (sub {issued.sub}){expiry}", err=True)
    click.echo(issued.token)


@token.command("revoke")
@click.argument("token_text", metavar="KEY")
@pass_state
def token_revoke(state: CliState, token_text: str) -> None:
    """Revoke one API key or access token (and nothing else)."""
    from calsync.cli.tokens import revoke_token
    from calsync.daemon import bootstrap
    from calsync.errors import NotFound

    state.configure_logging()
    settings = state.settings()
    with bootstrap.store_session(settings) as store:
        if not revoke_token(store, token_text.strip()):
            raise NotFound("no such key or token (or it was already revoked)")
    click.echo("revoked")


cli.add_command(account)
cli.add_command(keys)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    logging.captureWarnings(True)
    cli.main(args=list(argv) if argv is not None else None, prog_name="calsync")


if __name__ == "__main__":
    main()
