"""Accounts connected through /oauth/authorize, as the sync engine sees accounts.

`with_connections` is the config's accounts followed by one `AccountSettings` per
live connection (`calsync.providers.connections.account_settings`). The
account's name is its profile's name: the engine finds its store rows by it, as
for a config account, and the connect flow makes those names unique.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from calsync.config import AccountSettings, Settings
from calsync.errors import CredentialsInvalid, UserError
from calsync.providers.connections import account_settings, vault
from calsync.store import Store

log = logging.getLogger(__name__)

__all__ = ["connected_accounts", "with_connections"]


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
        account = account_settings(
            settings, connection.profile_name, connection.provider_name, credentials
        )
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
