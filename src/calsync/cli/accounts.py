"""``calsync account add google`` and ``calsync account list``.

Adding a Google account runs the installed-app consent flow (loopback
redirect + PKCE), encrypts the refresh token with the vault key, writes it to
a private file and prints the ``[[accounts]]`` table to paste into the config.
The config file itself is never edited: it is the operator's, comments and all.

Running it again for an account that is already configured reuses that
account's client, token file and key file: that is how a disconnected
profile is reconnected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calsync.cli.private_files import state_directory, write_private
from calsync.config import AccountSettings, Settings
from calsync.config.render import toml_value
from calsync.config.secrets import find_credential
from calsync.errors import UserError
from calsync.providers import secrets_vault
from calsync.providers._google_config import GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI

if TYPE_CHECKING:
    from calsync.store import Store

GOOGLE = "google"
NOT_CONFIGURED = "not in the config"


@dataclass(frozen=True, slots=True)
class GoogleAccountRequest:
    """What ``calsync account add google`` was asked (None: take it from the config)."""

    name: str
    client_id: str | None = None
    client_secret_file: Path | None = None
    token_file: Path | None = None
    vault_key_file: Path | None = None
    auth_uri: str | None = None
    token_uri: str | None = None
    ca_file: Path | None = None
    timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class AddedGoogleAccount:
    token_file: Path
    #: The key file to name in the config; None when it is the systemd credential.
    vault_key_file: Path | None
    created_key: bool
    snippet: str


def _source(account: AccountSettings | None, key: str) -> Path | None:
    """The file a configured account's ``*_file`` secret was read from."""
    value = account.options.get(key) if account is not None else None
    source = getattr(value, "source", None)
    return source if isinstance(source, Path) else None


def _path_option(options: Mapping[str, Any], key: str) -> Path | None:
    value = options.get(key)
    return Path(value) if isinstance(value, str | Path) and str(value) else None


def read_file_secret(path: Path, what: str) -> str:
    try:
        text = path.expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UserError(f"cannot read the {what} file {path}: {exc}") from exc
    if not text:
        raise UserError(f"the {what} file {path} is empty")
    return text


def credential_key_file() -> Path | None:
    """``$CREDENTIALS_DIRECTORY/calsync-vault-key`` when systemd provides it."""
    return find_credential(secrets_vault.DEFAULT_KEY_CREDENTIAL)


def vault_keys(key_file: Path | None, default_dir: Path) -> tuple[list[bytes], Path | None, bool]:
    """(keys, file to name in the config, whether the file was created now).

    An explicit ``key_file`` is used (and created with a fresh key when it does
    not exist); without one the systemd credential is used when present, else
    ``default_dir/calsync-vault-key`` (created when missing).
    """
    if key_file is None:
        credential = credential_key_file()
        if credential is not None:
            return secrets_vault.load_keys(None), None, False
        key_file = default_dir / secrets_vault.DEFAULT_KEY_CREDENTIAL
    key_file = key_file.expanduser().absolute()
    if key_file.exists():
        return secrets_vault.load_keys(read_file_secret(key_file, "vault key")), key_file, False
    key = secrets_vault.generate_key()
    write_private(key_file, key + "\n")
    return secrets_vault.load_keys(key), key_file, True


def add_google_account(
    settings: Settings,
    request: GoogleAccountRequest,
    *,
    authorize: Callable[..., str],
    open_url: Callable[[str], object],
) -> AddedGoogleAccount:
    """Authorize, encrypt and store the refresh token; return the config snippet."""
    existing = settings.account(request.name)
    if existing is not None and existing.provider != GOOGLE:
        raise UserError(
            f"account {request.name!r} is already configured with provider {existing.provider!r}",
            hint="Choose another --name.",
        )
    options: dict[str, Any] = dict(existing.options) if existing is not None else {}
    # Flags first, then the configured account, then [providers.google].
    app = settings.providers.google
    client_id = request.client_id or options.get("client_id") or (app and app.client_id)
    if not client_id:
        raise UserError(
            "--client-id is required for a new Google account",
            hint="Set [providers.google] client_id, or create an OAuth client of type "
            "'Desktop app' in the Google Cloud console and pass --client-id.",
        )
    app_secret = app.client_secret_file if app is not None else None
    secret_path = (
        request.client_secret_file
        or _source(existing, "client_secret_file")
        or (app_secret.source if app_secret is not None else None)
    )
    client_secret = (
        read_file_secret(secret_path, "client secret") if secret_path is not None else None
    )
    auth_uri = request.auth_uri or (app.auth_uri if app is not None else GOOGLE_AUTH_URI)
    token_uri = (
        request.token_uri
        or options.get("token_uri")
        or (app.token_uri if app is not None else GOOGLE_TOKEN_URI)
    )
    # A configured account's options already hold the ca_file it inherits.
    ca_file = (
        request.ca_file
        or _path_option(options, "ca_file")
        or (app.ca_file if app is not None else None)
    )
    state_dir = state_directory(settings)
    token_file = (
        request.token_file
        or _source(existing, "refresh_token_file")
        or state_dir / f"google-{request.name}.token"
    )
    token_file = token_file.expanduser().absolute()
    # Fail on a bad key before asking the user to consent in a browser.
    key_file = request.vault_key_file or _source(existing, "vault_key_file")
    keys, named_key_file, created = vault_keys(key_file, state_dir)

    refresh_token = authorize(
        client_id,
        client_secret,
        auth_uri=auth_uri,
        token_uri=token_uri,
        open_url=open_url,
        timeout=request.timeout,
        ca_file=str(ca_file.expanduser().absolute()) if ca_file is not None else None,
    )
    write_private(token_file, secrets_vault.TokenVault(keys).encrypt(refresh_token) + "\n")
    lines = [
        "[[accounts]]",
        f"name = {toml_value(request.name)}",
        f"provider = {toml_value(GOOGLE)}",
        f"client_id = {toml_value(client_id)}",
    ]
    if secret_path is not None:
        lines.append(f"client_secret_file = {toml_value(str(secret_path.expanduser().absolute()))}")
    lines.append(f"refresh_token_file = {toml_value(str(token_file))}")
    if named_key_file is not None:
        lines.append(f"vault_key_file = {toml_value(str(named_key_file))}")
    else:
        lines.append(f"# vault key: the {secrets_vault.DEFAULT_KEY_CREDENTIAL} systemd credential")
    if token_uri != GOOGLE_TOKEN_URI:
        lines.append(f"token_uri = {toml_value(token_uri)}")
    if ca_file is not None and (app is None or ca_file != app.ca_file):
        lines.append(f"ca_file = {toml_value(str(ca_file.expanduser().absolute()))}")
    return AddedGoogleAccount(token_file, named_key_file, created, "\n".join(lines) + "\n")


# -- account list ------------------------------------------------------------------------


#: Where an account comes from: an ``[[accounts]]`` table, or the connect flow (the database).
CONFIG = "config"
CONNECTED = "connected"


@dataclass(frozen=True, slots=True)
class AccountRow:
    name: str
    kind: str
    provider: str
    enabled: str
    sub: str
    profile: str
    state: str


def collect_accounts(store: Store, settings: Settings) -> list[AccountRow]:
    """Configured accounts with their store ids and profile state, then stored-only ones:
    those connected through /oauth/authorize (``connected``; enabled while their grant
    is live) and leftovers of removed ``[[accounts]]`` tables."""
    rows: list[AccountRow] = []
    with store.read() as uow:
        stored = {a.name: a for a in uow.accounts.list(kind="connected") if a.name}
        connections = {c.profile_pk: c for c in uow.connections.list()}
        for account in settings.accounts:
            enabled = "yes" if account.enabled else "no"
            record = stored.pop(account.name, None)
            profiles = uow.profiles.list(record.pk) if record is not None else []
            if record is None or not profiles:
                sub = record.sub if record is not None else "-"
                rows.append(
                    AccountRow(
                        account.name, CONFIG, account.provider, enabled, sub, "-", "never synced"
                    )
                )
                continue
            for profile in profiles:
                rows.append(
                    AccountRow(
                        account.name,
                        CONFIG,
                        profile.provider_name,
                        enabled,
                        record.sub,
                        profile.profile_id,
                        profile_state(profile.connected, profile.disconnect_reason),
                    )
                )
        for name, record in sorted(stored.items()):
            profiles = uow.profiles.list(record.pk)
            if not profiles:
                rows.append(AccountRow(name, CONFIG, "-", NOT_CONFIGURED, record.sub, "-", "-"))
            for profile in profiles:
                state = profile_state(profile.connected, profile.disconnect_reason)
                connection = connections.get(profile.pk)
                kind, enabled = CONFIG, NOT_CONFIGURED
                if connection is not None:
                    kind = CONNECTED
                    enabled = "yes" if connection.credentials is not None else "no"
                rows.append(
                    AccountRow(
                        name,
                        kind,
                        profile.provider_name,
                        enabled,
                        record.sub,
                        profile.profile_id,
                        state,
                    )
                )
    return rows


def profile_state(connected: bool, reason: str | None) -> str:
    if connected:
        return "connected"
    return f"disconnected: {' '.join(reason.split())}" if reason else "disconnected"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, no trailing blanks."""
    table = [tuple(headers), *(tuple(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def render_accounts(rows: Sequence[AccountRow]) -> str:
    if not rows:
        return (
            "no accounts: add [[accounts]] to the config (see `calsync account add google`), "
            "or let users connect through /oauth/authorize"
        )
    return render_table(
        ("NAME", "KIND", "PROVIDER", "ENABLED", "SUB", "PROFILE", "STATE"),
        [(r.name, r.kind, r.provider, r.enabled, r.sub, r.profile, r.state) for r in rows],
    )
