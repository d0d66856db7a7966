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

from calsync.cli.account_setup import (
    AccountRequest,
    AddedAccount,
    absolute,
    path_option,
    resolve_client,
    token_storage,
)
from calsync.config import Settings
from calsync.config.render import toml_value
from calsync.errors import UserError
from calsync.providers._microsoft_config import DEFAULT_AUTHORITY

MICROSOFT = "microsoft"


@dataclass(frozen=True, slots=True)
class MicrosoftAccountRequest(AccountRequest):
    """What ``calsync account add microsoft`` was asked (None: take it from the config)."""

    authority: str | None = None


def add_microsoft_account(
    settings: Settings,
    request: MicrosoftAccountRequest,
    *,
    authorize: Callable[..., str],
    open_url: Callable[[str], object],
) -> AddedAccount:
    """Authorize, encrypt and store the refresh token; return the config snippet."""
    # A configured account's options already hold what it inherits from the app.
    app = settings.providers.microsoft
    client = resolve_client(
        settings,
        request,
        provider=MICROSOFT,
        label="Microsoft",
        app=app,
        hint="Set [providers.microsoft] client_id, or register an app in Microsoft "
        "Entra ID (redirect URI http://localhost) and pass --client-id.",
    )
    authority = (
        request.authority
        or client.options.get("authority")
        or (app.authority if app is not None else DEFAULT_AUTHORITY)
    ).rstrip("/")
    if not authority.startswith("https://"):
        raise UserError("--authority must be an https URL (msal refuses others)")
    # Fail on a bad key before asking the user to sign in.
    storage = token_storage(settings, request, client, provider=MICROSOFT)
    token_file = storage.token_file
    cache_file = path_option(client.options, "token_cache") or token_file.with_suffix(".cache")

    refresh_token = authorize(
        client.client_id,
        client.client_secret,
        authority=authority,
        ca_file=absolute(client.ca_file) if client.ca_file is not None else None,
        open_url=open_url,
        timeout=request.timeout,
    )
    storage.store(refresh_token)
    lines = [
        "[[accounts]]",
        f"name = {toml_value(request.name)}",
        f"provider = {toml_value(MICROSOFT)}",
    ]
    if app is None or client.client_id != app.client_id:
        lines.append(f"client_id = {toml_value(client.client_id)}")
    app_secret = app.client_secret_file if app is not None else None
    secret_path = client.secret_path
    if secret_path is not None and (app_secret is None or secret_path != app_secret.source):
        lines.append(f"client_secret_file = {toml_value(absolute(secret_path))}")
    if authority != (app.authority if app is not None else DEFAULT_AUTHORITY):
        lines.append(f"authority = {toml_value(authority)}")
    if client.ca_file is not None and (app is None or client.ca_file != app.ca_file):
        lines.append(f"ca_file = {toml_value(absolute(client.ca_file))}")
    lines.append(f"refresh_token_file = {toml_value(str(token_file))}")
    lines.append(f"token_cache = {toml_value(str(cache_file))}")
    lines.append(storage.key_line())
    return storage.added(lines)
