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
