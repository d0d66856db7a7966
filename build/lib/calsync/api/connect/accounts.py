"""Connected accounts (from the connect flow) as the sync engine sees accounts.

A connection stores its provider credentials as one vault ciphertext of a
JSON object. `connected_accounts` turns each live connection into an
`AccountSettings` like a ``[[accounts]]`` table's: the provider's options come
from ``[providers.<name>]`` plus the decrypted credentials, wrapped in
`Secret` so they are redacted wherever they might show. The account's name is
its profile's name (the engine finds the store rows by it, as for config
accounts); the connect flow makes those names unique.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from calsync.config import AccountSettings, Secret, Settings
from calsync.errors import CredentialsInvalid, UserError
from calsync.providers import secrets_vault
from calsync.store import Store
from calsync.store.repos.connect import ConnectionRecord

log = logging.getLogger(__name__)

GOOGLE = "google"
MICROSOFT = "microsoft"
CALDAV = "caldav"


def vault(settings: Settings) -> secrets_vault.TokenVault:
    """The vault of connected accounts' credentials: ``[store] vault_key_file``, else the
    ``calsync-vault-key`` systemd credential. `UserError` when neither is there."""
    key_file = settings.store.vault_key_file
    keys = secrets_vault.load_keys(key_file.reveal() if key_file is not None else None)
    return secrets_vault.TokenVault(keys)


def seal(settings: Settings, credentials: Mapping[str, str]) -> str:
    return vault(settings).encrypt(json.dumps(dict(credentials), sort_keys=True))


def unseal(settings: Settings, ciphertext: str) -> dict[str, str]:
    opened = json.loads(vault(settings).decrypt(ciphertext))
    if not isinstance(opened, dict):
        raise CredentialsInvalid("stored credentials are not an object")
    return {str(k): str(v) for k, v in opened.items()}


def provider_options(
    settings: Settings, provider_name: str, credentials: Mapping[str, str]
) -> dict[str, Any] | None:
    """The provider's options for a connection, or None when its provider table is gone."""
    if provider_name == GOOGLE:
        google = settings.providers.google
        if google is None:
            return None
        return {
            "client_id": google.client_id,
            "client_secret_file": google.client_secret_file,
            "refresh_token_file": Secret(credentials["refresh_token"]),
            "token_uri": google.token_uri,
            "api_endpoint": google.api_endpoint,
        }
    if provider_name == MICROSOFT:
        microsoft = settings.providers.microsoft
        if microsoft is None:
            return None
        return {
            "client_id": microsoft.client_id,
            "client_secret_file": microsoft.client_secret_file,
            "authority": microsoft.authority,
            "graph_endpoint": microsoft.graph_endpoint,
            "ca_file": microsoft.ca_file,
            "refresh_token_file": Secret(credentials["refresh_token"]),
        }
    if provider_name == CALDAV:
        return {
            "url": credentials["url"],
            "username": credentials.get("username") or None,
            "password_file": Secret(credentials["password"])
            if credentials.get("password")
            else None,
        }
    return None


def account_settings(
    settings: Settings, connection: ConnectionRecord, credentials: Mapping[str, str]
) -> AccountSettings | None:
    options = provider_options(settings, connection.provider_name, credentials)
    if options is None:
        return None
    return AccountSettings(
        name=connection.profile_name,
        provider=connection.provider_name,
        interval=None,
        conflict="remote",
        enabled=True,
        options=MappingProxyType(options),
    )


def connected_accounts(settings: Settings, store: Store) -> tuple[AccountSettings, ...]:
    """Every live connection as an account; ones that cannot be used are logged and left out."""
    with store.read() as uow:
        connections = uow.connections.list(live_only=True)
    if not connections:
        return ()
    configured = {a.name for a in settings.accounts}
    found: list[AccountSettings] = []
    try:
        opened_vault = vault(settings)
    except UserError as exc:
        log.error("connected accounts are not synced: %s", exc.message)
        return ()
    for connection in connections:
        if connection.profile_name in configured:
            log.warning(
                "connected profile %s is named like a configured account; not synced",
                connection.profile_id,
            )
            continue
        assert connection.credentials is not None
        try:
            credentials = json.loads(opened_vault.decrypt(connection.credentials))
        except (CredentialsInvalid, ValueError):
            log.error("profile %s: its credentials cannot be decrypted", connection.profile_id)
            continue
        account = account_settings(settings, connection, credentials)
        if account is None:
            log.warning(
                "profile %s: [providers.%s] is not configured; not synced",
                connection.profile_id,
                connection.provider_name,
            )
            continue
        found.append(account)
    return tuple(found)


def with_connections(settings: Settings, store: Store) -> Settings:
    """``settings`` whose accounts are the configured ones followed by the connected ones."""
    connected = connected_accounts(settings, store)
    return replace(settings, accounts=settings.accounts + connected) if connected else settings
