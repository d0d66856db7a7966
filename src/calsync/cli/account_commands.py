"""The ``calsync account`` and ``calsync keys`` command groups (logic in `accounts`, `keys`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from calsync.cli.state import CliState, pass_state

if TYPE_CHECKING:
    from calsync.cli.account_setup import AddedAccount
    from calsync.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def _stacked(*options: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying ``options`` in the order they would be written above a command."""

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _client_options(provider: str, *, client_id: str, holding: str) -> Callable[[F], F]:
    """``--name`` and the OAuth client flags of ``account add PROVIDER``, whose defaults
    come from the configured account, then ``[providers.PROVIDER]``."""
    default = f"[default: the account's, else [providers.{provider}]"
    return _stacked(
        click.option(
            "--name", required=True, metavar="NAME", help="The account's name in the config."
        ),
        click.option("--client-id", metavar="ID", help=f"{client_id} {default} client_id]."),
        click.option(
            "--client-secret-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help=f"File holding {holding} {default} client_secret_file].",
        ),
    )


def _storage_and_browser_options(url_kind: str) -> Callable[[F], F]:
    """The options every ``account add PROVIDER`` takes: where the token and the vault
    key go, and how the ``url_kind`` URL is opened."""
    return _stacked(
        click.option(
            "--token-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Where to write the encrypted refresh token [default: next to the SQLite store].",
        ),
        click.option(
            "--vault-key-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Vault key file, created if missing [default: the calsync-vault-key "
            "credential in $CREDENTIALS_DIRECTORY, else one next to the SQLite store].",
        ),
        click.option(
            "--no-browser", is_flag=True, help=f"Only print the {url_kind} URL; open it yourself."
        ),
        click.option(
            "--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait."
        ),
    )


def _browser(prompt: str, no_browser: bool) -> Callable[[str], None]:
    """Print the URL (machines without a browser) and open it unless ``--no-browser``."""

    def open_url(url: str) -> None:
        click.echo(f"{prompt} (waiting for the answer):", err=True)
        click.echo(url, err=True)
        if not no_browser:
            import webbrowser  # starts subprocess machinery: only when asked

            webbrowser.open(url)

    return open_url


def _run_add(
    state: CliState,
    open_url: Callable[[str], None],
    add: Callable[[Settings, Callable[[str], None]], AddedAccount],
) -> None:
    """Run an ``account add`` and say what it wrote: notes on stderr, the table on stdout."""
    state.configure_logging()
    settings = state.settings()
    added = add(settings, open_url)
    if added.created_key:
        click.echo(f"# created a new vault key in {added.vault_key_file}", err=True)
    click.echo(f"# encrypted refresh token written to {added.token_file}", err=True)
    click.echo(f"# add this to {settings.path}, then reload calsync:", err=True)
    click.echo(added.snippet, nl=False)


@click.group()
def account() -> None:
    """Connected calendar accounts."""


@account.group("add")
def account_add() -> None:
    """Connect a new account (prints the [[accounts]] table to add to the config)."""


@account_add.command("google")
@_client_options("google", client_id="OAuth client id", holding="the OAuth client secret")
@_storage_and_browser_options("consent")
@click.option("--auth-uri", metavar="URL", help="OAuth authorization endpoint (proxies, tests).")
@click.option("--token-uri", metavar="URL", help="OAuth token endpoint (proxies, tests).")
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CA bundle (PEM) the token endpoint is checked against instead of the default "
    "public CA list [default: the "
    "account's, else [providers.google] ca_file].",
)
@pass_state
def account_add_google(
    state: CliState,
    name: str,
    client_id: str | None,
    client_secret_file: Path | None,
    token_file: Path | None,
    vault_key_file: Path | None,
    no_browser: bool,
    timeout: float,
    auth_uri: str | None,
    token_uri: str | None,
    ca_file: Path | None,
) -> None:
    """Authorize calsync for a Google account in the browser (loopback redirect + PKCE).

    The refresh token is encrypted with the vault key and written to a file
    readable only by you; the [[accounts]] table for the config goes to stdout.
    Run it again for a configured account to reconnect it.
    """
    from calsync.cli.accounts import GoogleAccountRequest, add_google_account
    from calsync.providers.google import authorize_installed_app

    request = GoogleAccountRequest(
        name=name,
        client_id=client_id,
        client_secret_file=client_secret_file,
        token_file=token_file,
        vault_key_file=vault_key_file,
        auth_uri=auth_uri,
        token_uri=token_uri,
        ca_file=ca_file,
        timeout=timeout,
    )
    _run_add(
        state,
        _browser("Open this URL to let calsync use the calendar", no_browser),
        lambda settings, open_url: add_google_account(
            settings, request, authorize=authorize_installed_app, open_url=open_url
        ),
    )


@account_add.command("microsoft")
@_client_options("microsoft", client_id="Application (client) id", holding="the client secret")
@click.option(
    "--authority",
    metavar="URL",
    help="Identity platform authority [default: the account's, else [providers.microsoft] "
    "authority, else https://login.microsoftonline.com/common].",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CA bundle (PEM) to trust for the authority instead of the default public CA "
    "list [default: the account's, else "
    "[providers.microsoft] ca_file].",
)
@_storage_and_browser_options("sign-in")
@pass_state
def account_add_microsoft(
    state: CliState,
    name: str,
    client_id: str | None,
    client_secret_file: Path | None,
    authority: str | None,
    ca_file: Path | None,
    token_file: Path | None,
    vault_key_file: Path | None,
    no_browser: bool,
    timeout: float,
) -> None:
    """Authorize calsync for a Microsoft 365 / Outlook.com account in the browser
    (authorization code + PKCE on a loopback redirect, through msal).

    The refresh token is encrypted with the vault key and written to a file
    readable only by you; the [[accounts]] table for the config goes to stdout.
    Run it again for a configured account to reconnect it.
    """
    from calsync.cli.accounts_microsoft import MicrosoftAccountRequest, add_microsoft_account
    from calsync.providers._graph_auth import authorize_auth_code

    request = MicrosoftAccountRequest(
        name=name,
        client_id=client_id,
        client_secret_file=client_secret_file,
        authority=authority,
        ca_file=ca_file,
        token_file=token_file,
        vault_key_file=vault_key_file,
        timeout=timeout,
    )
    _run_add(
        state,
        _browser("Open this URL to sign in and allow calsync", no_browser),
        lambda settings, open_url: add_microsoft_account(
            settings, request, authorize=authorize_auth_code, open_url=open_url
        ),
    )


@account.command("list")
@pass_state
def account_list(state: CliState) -> None:
    """Configured accounts with their sub, profile id and connection state."""
    from calsync.cli.accounts import collect_accounts, render_accounts
    from calsync.daemon import bootstrap

    state.configure_logging()
    settings = state.settings()
    with bootstrap.store_session(settings) as store:
        rows = collect_accounts(store, settings)
    click.echo(render_accounts(rows))


@account.command("remove")
@click.argument("name", metavar="NAME|SUB")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def account_remove(state: CliState, name: str, yes: bool) -> None:
    """Delete an account no longer in the config, or one connected through
    /oauth/authorize (NAME or its SUB): its calendars, events, credentials, API
    tokens and notification channels (its old tokens stop working at once)."""
    from calsync.cli.account_remove import remove_account, stored_account
    from calsync.daemon import bootstrap

    state.configure_logging()
    settings = state.settings()
    with bootstrap.store_session(settings) as store:
        sub, contents = stored_account(store, name)
        held = ", ".join(f"{count} {label}" for label, count in contents.items())
        if not yes:
            click.confirm(f"Delete account {name} (sub {sub}) with {held}?", abort=True, err=True)
        removal = remove_account(store, settings, name)
    click.echo(removal.summary())


@click.group()
def keys() -> None:
    """Vault keys that encrypt stored refresh tokens."""


@keys.command("rotate")
@click.option(
    "--new-key-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new key file: its first key becomes current (a fresh key is generated "
    "when the file does not exist). The old keys are appended to it.",
)
@pass_state
def keys_rotate(state: CliState, new_key_file: Path) -> None:
    """Re-encrypt the refresh token files of every configured Google and Microsoft account."""
    from calsync.cli.keys import rotate_keys

    state.configure_logging()
    rotation = rotate_keys(state.settings(), new_key_file)
    if rotation.created_key:
        click.echo(f"generated a new key in {rotation.key_file}")
    for path in rotation.rotated:
        click.echo(f"re-encrypted {path}")
    for path in rotation.plain:
        click.echo(f"skipped {path}: a plain (unencrypted) token", err=True)
    for name in rotation.without_token:
        click.echo(f"skipped account {name!r}: no refresh_token_file", err=True)
    click.echo(
        f"{len(rotation.rotated)} token file(s) now under the first key of {rotation.key_file}; "
        "it also keeps the old keys, so nothing is unreadable meanwhile.\n"
        f"Next: set vault_key_file = {str(rotation.key_file)!r} in the google accounts "
        "(or install it as the calsync-vault-key credential) and reload calsync."
    )
