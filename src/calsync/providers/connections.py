"""The credentials of accounts connected through /oauth/authorize (issue #12), and the
provider options they become.

A connection stores its provider credentials as one vault ciphertext of a JSON
object (`seal`/`unseal`). `account_settings` makes an `AccountSettings` like a
``[[accounts]]`` table's: the provider's options come from ``[providers.<name>]``
plus the decrypted credentials, wrapped in `Secret` so they are redacted wherever
they might show. Kept free of the store and the API, so the sync engine, the CLI
and the API all use it (`calsync.sync.connections` reads the rows).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from calsync.config import AccountSettings, Secret, Settings
from calsync.errors import CredentialsInvalid

if TYPE_CHECKING:
    from calsync.providers.secrets_vault import TokenVault

GOOGLE = "google"
MICROSOFT = "microsoft"
CALDAV = "caldav"


def vault(settings: Settings) -> TokenVault:
    """The vault of connected accounts' credentials: ``[store] vault_key_file``, else the
    ``calsync-vault-key`` systemd credential. `UserError` when neither is there."""
    # Imported here: a process without connected accounts never loads cryptography.
    from calsync.providers import secrets_vault

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
            "ca_file": google.ca_file,
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
    settings: Settings, name: str, provider_name: str, credentials: Mapping[str, str]
) -> AccountSettings | None:
    """The account a connection is (named ``name``), or None when its provider table is gone."""
    options = provider_options(settings, provider_name, credentials)
    if options is None:
        return None
    return AccountSettings(
        name=name,
        provider=provider_name,
        interval=None,
        conflict="remote",
        enabled=True,
        options=MappingProxyType(options),
    )
