"""Access and refresh tokens. Only a SHA-256 of each token is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from calsync.store.journal import Journal
from calsync.store.models import AccessToken, Account
from calsync.store.records import AccountRecord, TokenRecord
from calsync.store.repos.accounts import account_record
from calsync.store.sql import utcnow

ACCESS = "access"
REFRESH = "refresh"
#: A recognisable prefix per kind, so a leaked token is easy to spot and scan for.
PREFIXES = {ACCESS: "csa_", REFRESH: "csr_"}


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _live(stored_hash: str, digest: str, revoked: bool, expires_at: datetime | None) -> bool:
    """A token row found by ``digest`` that is really it, unrevoked and unexpired.

    The lookup is by index; the hash is compared again in constant time so that a
    collation or truncation quirk can never make a different token match.
    """
    if not hmac.compare_digest(stored_hash, digest) or revoked:
        return False
    return expires_at is None or expires_at > utcnow()


class TokenRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def issue(self, account_pk: int, kind: str, ttl: timedelta | None) -> str:
        """A new token for the account; returns the plaintext, which is never stored."""
        if kind not in PREFIXES:
            raise ValueError(f"unknown token kind {kind!r}")
        self._journal.require_writable()
        plaintext = PREFIXES[kind] + secrets.token_urlsafe(32)
        now = utcnow()
        self._session.add(
            AccessToken(
                account_id=account_pk,
                kind=kind,
                token_hash=token_hash(plaintext),
                expires_at=None if ttl is None else now + ttl,
                revoked=False,
                created_at=now,
            )
        )
        self._session.flush()
        return plaintext

    def resolve(self, plaintext: str, *, kind: str | None = None) -> TokenRecord | None:
        """The live token (not expired, not revoked, of ``kind`` if given), or None."""
        digest = token_hash(plaintext)
        found = self._session.execute(
            select(AccessToken, Account.sub)
            .join(Account, Account.id == AccessToken.account_id)
            .where(AccessToken.token_hash == digest)
        ).first()
        if found is None:
            return None
        row, sub = found
        if not _live(row.token_hash, digest, row.revoked, row.expires_at):
            return None
        if kind is not None and row.kind != kind:
            return None
        return TokenRecord(
            pk=row.id,
            account_pk=row.account_id,
            sub=sub,
            kind=row.kind,
            expires_at=row.expires_at,
            revoked=row.revoked,
            created_at=row.created_at,
        )

    def revoke(self, plaintext: str) -> bool:
        """Revoke one token; False if it was unknown."""
        self._journal.require_writable()
        result = self._session.execute(
            update(AccessToken)
            .where(AccessToken.token_hash == token_hash(plaintext))
            .values(revoked=True)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def revoke_all(self, account_pk: int) -> int:
        """Revoke every token of the account; returns how many were live."""
        self._journal.require_writable()
        result = self._session.execute(
            update(AccessToken)
            .where(AccessToken.account_id == account_pk, AccessToken.revoked.is_(False))
            .values(revoked=True)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


#: The per-request auth lookup: the token's state and its account, by hash, in
#: one indexed query. Core, not the ORM: it runs once per API request, and the
#: session and identity map cost ~3x the query itself.
_ACCESS_LOOKUP = (
    select(
        AccessToken.token_hash.label("token_hash"),
        AccessToken.kind.label("token_kind"),
        AccessToken.revoked.label("token_revoked"),
        AccessToken.expires_at.label("token_expires_at"),
        *Account.__table__.c,
    )
    .join_from(AccessToken, Account, Account.id == AccessToken.account_id)
    .where(AccessToken.token_hash == bindparam("digest"))
)


def resolve_access(
    connection: Connection, plaintext: str
) -> tuple[datetime | None, AccountRecord] | None:
    """``(expires_at, account)`` of a live access token, or None; see `TokenRepo.resolve`."""
    digest = token_hash(plaintext)
    row = connection.execute(_ACCESS_LOOKUP, {"digest": digest}).first()
    if row is None:
        return None
    expires_at: datetime | None = row.token_expires_at
    if row.token_kind != ACCESS or not _live(row.token_hash, digest, row.token_revoked, expires_at):
        return None
    return expires_at, account_record(row)
