"""``calsync account add microsoft``: the authorization-code flow on a loopback redirect.

As for Google (`calsync.cli.accounts`): msal runs the flow with PKCE, the browser
comes back to a one-shot listener on 127.0.0.1, the refresh token is encrypted
with the vault key into a private file, and the ``[[accounts]]`` table is printed
for the operator to paste (the config file is never edited). Keys the account
can inherit from ``[providers.microsoft]`` are left out of the table. Running it
again for a configured account reuses its files: that is how a disconnected
profile is reconnected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calsync.cli.accounts import _path_option, _source, read_file_secret, vault_keys
from calsync.cli.private_files import state_directory, write_private
from calsync.config import Settings
from calsync.config.render import toml_value
from calsync.errors import UserError
from calsync.providers import secrets_vault
from calsync.providers._microsoft_config import DEFAULT_AUTHORITY

MICROSOFT = "microsoft"


@dataclass(frozen=True, slots=True)
class MicrosoftAccountRequest:
    """What ``calsync account add microsoft`` was asked (None: take it from the config)."""

    name: str
    client_id: str | None = None
    client_secret_file: Path | None = None
    authority: str | None = None
    ca_file: Path | None = None
    token_file: Path | None = None
    vault_key_file: Path | None = None
    timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class AddedMicrosoftAccount:
    token_file: Path
    vault_key_file: Path | None
    created_key: bool
    snippet: str


def add_microsoft_account(
    settings: Settings,
    request: MicrosoftAccountRequest,
    *,
    authorize: Callable[..., str],
    open_url: Callable[[str], object],
) -> AddedMicrosoftAccount:
    """Authorize, encrypt and store the refresh token; return the config snippet."""
    existing = settings.account(request.name)
    if existing is not None and existing.provider != MICROSOFT:
        raise UserError(
            f"account {request.name!r} is already configured with provider {existing.provider!r}",
            hint="Choose another --name.",
        )
    # A configured account's options already hold what it inherits from the app.
    options: dict[str, Any] = dict(existing.options) if existing is not None else {}
    app = settings.providers.microsoft
    client_id = request.client_id or options.get("client_id") or (app and app.client_id)
    if not client_id:
        raise UserError(
            "--client-id is required for a new Microsoft account",
            hint="Set [providers.microsoft] client_id, or register an app in Microsoft "
            "Entra ID (redirect URI http://localhost) and pass --client-id.",
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
    authority = (
        request.authority
        or options.get("authority")
        or (app.authority if app is not None else DEFAULT_AUTHORITY)
    ).rstrip("/")
    if not authority.startswith("https://"):
        raise UserError("--authority must be an https URL (msal refuses others)")
    ca_file = (
        request.ca_file
        or _path_option(options, "ca_file")
        or (app.ca_file if app is not None else None)
    )
    state_dir = state_directory(settings)
    token_file = (
        request.token_file
        or _source(existing, "refresh_token_file")
        or state_dir / f"microsoft-{request.name}.token"
    )
    token_file = token_file.expanduser().absolute()
    cache_file = _path_option(options, "token_cache") or token_file.with_suffix(".cache")
    # Fail on a bad key before asking the user to sign in.
    key_file = request.vault_key_file or _source(existing, "vault_key_file")
    keys, named_key_file, created = vault_keys(key_file, state_dir)

    refresh_token = authorize(
        client_id,
        client_secret,
        authority=authority,
        ca_file=str(ca_file.expanduser().absolute()) if ca_file is not None else None,
        open_url=open_url,
        timeout=request.timeout,
    )
    write_private(token_file, secrets_vault.TokenVault(keys).encrypt(refresh_token) + "\n")
    lines = [
        "[[accounts]]",
        f"name = {toml_value(request.name)}",
        f"provider = {toml_value(MICROSOFT)}",
    ]
    if app is None or client_id != app.client_id:
        lines.append(f"client_id = {toml_value(client_id)}")
    if secret_path is not None and (app_secret is None or secret_path != app_secret.source):
        lines.append(f"client_secret_file = {toml_value(str(secret_path.expanduser().absolute()))}")
    if authority != (app.authority if app is not None else DEFAULT_AUTHORITY):
        lines.append(f"authority = {toml_value(authority)}")
    if ca_file is not None and (app is None or ca_file != app.ca_file):
        lines.append(f"ca_file = {toml_value(str(ca_file.expanduser().absolute()))}")
    lines.append(f"refresh_token_file = {toml_value(str(token_file))}")
    lines.append(f"token_cache = {toml_value(str(cache_file))}")
    if named_key_file is not None:
        lines.append(f"vault_key_file = {toml_value(str(named_key_file))}")
    else:
        lines.append(f"# vault key: the {secrets_vault.DEFAULT_KEY_CREDENTIAL} systemd credential")
    return AddedMicrosoftAccount(token_file, named_key_file, created, "\n".join(lines) + "\n")
