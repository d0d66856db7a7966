"""``calsync token issue``: an API access token for a configured account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from calsync.config import Settings
from calsync.daemon.jobs import configured_account
from calsync.sync.discovery import ensure_profile

if TYPE_CHECKING:
    from calsync.store import Store


@dataclass(frozen=True, slots=True)
class IssuedToken:
    sub: str
    token: str
    expires_at: datetime | None


def issue_token(store: Store, settings: Settings, account_name: str) -> IssuedToken:
    """A new access token for the configured account (its row is created if needed).

    The token lives ``[api] access_token_ttl``, like one issued through the API.
    """
    account = configured_account(settings, account_name)
    profile = ensure_profile(store, account)
    ttl = settings.api.access_token_ttl
    issued_at = datetime.now(UTC)
    with store.write() as uow:
        record = uow.accounts.get(profile.account_pk)
        token = uow.tokens.issue(record.pk, "access", ttl)
    return IssuedToken(sub=record.sub, token=token, expires_at=issued_at + ttl)


def issue_api_key(store: Store, settings: Settings) -> tuple[str, str]:
    """``(org_id, key)``: a new organization API key for the Chronary dialect."""
    from calsync.api.chronary.auth import org_id_for

    org_id = org_id_for(settings)
    with store.write() as uow:
        key = uow.api_keys.issue(org_id)
    return org_id, key


def issue_agent_token(store: Store, settings: Settings, agent_id: str) -> IssuedToken:
    """A Cronofy access token for the account an agent (``agt_…``) stands for."""
    from calsync.api.chronary.auth import org_id_for

    org_id = org_id_for(settings)
    ttl = settings.api.access_token_ttl
    issued_at = datetime.now(UTC)
    with store.write() as uow:
        uow.agents.backfill(org_id)
        agent = uow.agents.get(agent_id, org_id)
        token = uow.tokens.issue(agent.account.pk, "access", ttl)
    return IssuedToken(sub=agent.account.sub, token=token, expires_at=issued_at + ttl)


def revoke_token(store: Store, token: str) -> bool:
    """Revoke one API key or one access/refresh token, and nothing else; False if unknown."""
    from calsync.store.repos.chronary import API_KEY_PREFIX

    with store.write() as uow:
        if token.startswith(API_KEY_PREFIX):
            return bool(uow.api_keys.revoke(token))
        return bool(uow.tokens.revoke(token))
