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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from calsync.cli.account_setup import (
    AccountRequest,
    AddedAccount,
    absolute,
    resolve_client,
    token_storage,
)
from calsync.config import Settings
from calsync.config.render import toml_value
from calsync.providers._google_config import GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI

if TYPE_CHECKING:
    from calsync.store import Store

GOOGLE = "google"
NOT_CONFIGURED = "not in the config"


@dataclass(frozen=True, slots=True)
class GoogleAccountRequest(AccountRequest):
    """What ``calsync account add google`` was asked (None: take it from the config)."""

    auth_uri: str | None = None
    token_uri: str | None = None


def add_google_account(
    settings: Settings,
    request: GoogleAccountRequest,
    *,
    authorize: Callable[..., str],
    open_url: Callable[[str], object],
) -> AddedAccount:
    """Authorize, encrypt and store the refresh token; return the config snippet."""
    # Flags first, then the configured account, then [providers.google].
    app = settings.providers.google
    client = resolve_client(
        settings,
        request,
        provider=GOOGLE,
        label="Google",
        app=app,
        hint="Set [providers.google] client_id, or create an OAuth client of type "
        "'Desktop app' in the Google Cloud console and pass --client-id.",
    )
    auth_uri = request.auth_uri or (app.auth_uri if app is not None else GOOGLE_AUTH_URI)
    token_uri = (
        request.token_uri
        or client.options.get("token_uri")
        or (app.token_uri if app is not None else GOOGLE_TOKEN_URI)
    )
    storage = token_storage(settings, request, client, provider=GOOGLE)

    refresh_token = authorize(
        client.client_id,
        client.client_secret,
        auth_uri=auth_uri,
        token_uri=token_uri,
        open_url=open_url,
        timeout=request.timeout,
        ca_file=absolute(client.ca_file) if client.ca_file is not None else None,
    )
    storage.store(refresh_token)
    lines = [
        "[[accounts]]",
        f"name = {toml_value(request.name)}",
        f"provider = {toml_value(GOOGLE)}",
        f"client_id = {toml_value(client.client_id)}",
    ]
    if client.secret_path is not None:
        lines.append(f"client_secret_file = {toml_value(absolute(client.secret_path))}")
    lines.append(f"refresh_token_file = {toml_value(str(storage.token_file))}")
    lines.append(storage.key_line())
    if token_uri != GOOGLE_TOKEN_URI:
        lines.append(f"token_uri = {toml_value(token_uri)}")
    if client.ca_file is not None and (app is None or client.ca_file != app.ca_file):
        lines.append(f"ca_file = {toml_value(absolute(client.ca_file))}")
    return storage.added(lines)


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
