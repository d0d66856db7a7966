"""The connect flow's rows: connections, authorization requests and codes.

Handles, browser cookies and codes are stored as SHA-256 hashes only; the
plaintext exists in the browser, the app and the URLs between them. Consuming a
request or redeeming a code is one conditional UPDATE, so two concurrent
callbacks (two replicas, a double click) cannot both succeed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, Select, delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from calsync.ids import new_id
from calsync.store.connect_models import AuthCode, AuthRequest, Connection
from calsync.store.journal import Journal
from calsync.store.models import Account, Profile
from calsync.store.sql import insert_ignore, utcnow

__all__ = [
    "AuthRequestRecord",
    "ConnectionRecord",
    "RedeemedCode",
    "digest",
]


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    pk: int
    profile_pk: int
    profile_id: str
    profile_name: str
    connected: bool
    account_pk: int
    sub: str
    account_name: str | None
    provider_name: str
    identity: str
    #: The vault ciphertext; None once the grant was revoked.
    credentials: str | None
    client_id: str
    redirect_uri: str
    scope: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuthRequestRecord:
    pk: int
    browser_hash: str
    client_id: str
    redirect_uri: str
    scope: str
    app_state: str | None
    avoid_linking: bool
    provider_name: str | None
    provider_data: str | None
    expires_at: datetime
    consumed: bool

    def bound_to(self, browser: str | None) -> bool:
        """Whether ``browser`` (the cookie's value) is the browser that started the flow."""
        return browser is not None and hmac.compare_digest(self.browser_hash, digest(browser))


@dataclass(frozen=True, slots=True)
class RedeemedCode:
    account_pk: int
    profile_pk: int
    scope: str


def _connection_query() -> Select[Connection, Profile, Account]:
    return (
        select(Connection, Profile, Account)
        .join(Profile, Profile.id == Connection.profile_id)
        .join(Account, Account.id == Profile.account_id)
    )


def _connection_record(row: Row[Connection, Profile, Account]) -> ConnectionRecord:
    connection, profile, account = row
    return ConnectionRecord(
        pk=connection.id,
        profile_pk=profile.id,
        profile_id=profile.public_id,
        profile_name=profile.profile_name,
        connected=profile.connected,
        account_pk=account.id,
        sub=account.sub,
        account_name=account.name,
        provider_name=connection.provider_name,
        identity=connection.identity,
        credentials=connection.credentials,
        client_id=connection.client_id,
        redirect_uri=connection.redirect_uri,
        scope=connection.scope,
        created_at=connection.created_at,
    )


class ConnectionRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def list(self, *, live_only: bool = False) -> list[ConnectionRecord]:
        stmt = _connection_query().order_by(Connection.id)
        if live_only:
            stmt = stmt.where(Connection.credentials.is_not(None))
        return [_connection_record(row) for row in self._session.execute(stmt).all()]

    def find_identity(self, provider_name: str, identity: str) -> ConnectionRecord | None:
        """The latest connection of this provider profile (relinking finds its account)."""
        row = self._session.execute(
            _connection_query()
            .where(Connection.provider_name == provider_name, Connection.identity == identity)
            .order_by(Connection.id.desc())
            .limit(1)
        ).first()
        return None if row is None else _connection_record(row)

    def get_by_profile(self, profile_pk: int) -> ConnectionRecord | None:
        row = self._session.execute(
            _connection_query().where(Connection.profile_id == profile_pk)
        ).first()
        return None if row is None else _connection_record(row)

    def save(
        self,
        profile_pk: int,
        *,
        provider_name: str,
        identity: str,
        credentials: str,
        client_id: str,
        redirect_uri: str,
        scope: str,
    ) -> None:
        """Create or replace the profile's connection (new credentials on a relink)."""
        self._journal.require_writable()
        now = utcnow()
        row = self._session.execute(
            select(Connection).where(Connection.profile_id == profile_pk)
        ).scalar_one_or_none()
        if row is None:
            row = Connection(profile_id=profile_pk, created_at=now)
            self._session.add(row)
        row.provider_name = provider_name
        row.identity = identity
        row.credentials = credentials
        row.client_id = client_id
        row.redirect_uri = redirect_uri
        row.scope = scope
        row.updated_at = now
        self._session.flush()

    def new_account(
        self, name: str, *, taken: frozenset[str], email: str | None
    ) -> tuple[int, str]:
        """A new connected account named ``name`` or, when that name is used (in the store
        or in ``taken``, the config's names), ``name (2)``, ``name (3)``...; returns its
        key and name. The name is unique in the table, so two racing connects never
        share an account: the loser of an insert just tries the next name."""
        self._journal.require_writable()
        for attempt in range(1, 1000):
            candidate = name if attempt == 1 else f"{name} ({attempt})"
            if candidate in taken:
                continue
            sub = new_id("acc")
            values = {
                "sub": sub,
                "kind": "connected",
                "name": candidate,
                "email": email,
                "created_at": utcnow(),
                "last_change_seq": 0,
            }
            insert_ignore(self._session, Account.__table__, values, ["name"])  # type: ignore[arg-type]
            row = self._session.execute(
                select(Account.id, Account.sub).where(Account.name == candidate)
            ).one()
            if row.sub == sub:
                return row.id, candidate
        raise RuntimeError(f"no free account name like {name!r}")

    def drop_credentials(self, profile_pk: int) -> None:
        """Forget the profile's credentials (revoked): it is no longer synced."""
        self._journal.require_writable()
        self._session.execute(
            update(Connection)
            .where(Connection.profile_id == profile_pk)
            .values(credentials=None, updated_at=utcnow())
        )


class AuthRequestRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def create(
        self,
        *,
        browser: str,
        client_id: str,
        redirect_uri: str,
        scope: str,
        app_state: str | None,
        avoid_linking: bool,
        ttl: timedelta,
    ) -> str:
        """A new request; returns its handle (plaintext, never stored)."""
        self._journal.require_writable()
        handle = secrets.token_urlsafe(32)
        now = utcnow()
        self._session.add(
            AuthRequest(
                handle_hash=digest(handle),
                browser_hash=digest(browser),
                client_id=client_id,
                redirect_uri=redirect_uri,
                scope=scope,
                app_state=app_state,
                avoid_linking=avoid_linking,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        self._session.flush()
        return handle

    def get(self, handle: str) -> AuthRequestRecord | None:
        """The request ``handle`` names, while it is unexpired (consumed or not)."""
        hashed = digest(handle)
        row = self._session.execute(
            select(AuthRequest).where(AuthRequest.handle_hash == hashed)
        ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.handle_hash, hashed):
            return None
        if row.expires_at <= utcnow():
            return None
        return AuthRequestRecord(
            pk=row.id,
            browser_hash=row.browser_hash,
            client_id=row.client_id,
            redirect_uri=row.redirect_uri,
            scope=row.scope,
            app_state=row.app_state,
            avoid_linking=row.avoid_linking,
            provider_name=row.provider_name,
            provider_data=row.provider_data,
            expires_at=row.expires_at,
            consumed=row.consumed_at is not None,
        )

    def set_provider(self, request_pk: int, provider_name: str, provider_data: str | None) -> None:
        self._journal.require_writable()
        self._session.execute(
            update(AuthRequest)
            .where(AuthRequest.id == request_pk, AuthRequest.consumed_at.is_(None))
            .values(provider_name=provider_name, provider_data=provider_data)
        )

    def consume(self, request_pk: int) -> bool:
        """Mark the request used; False if it was used already or has expired."""
        self._journal.require_writable()
        now = utcnow()
        result = self._session.execute(
            update(AuthRequest)
            .where(
                AuthRequest.id == request_pk,
                AuthRequest.consumed_at.is_(None),
                AuthRequest.expires_at > now,
            )
            .values(consumed_at=now, provider_data=None)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def prune(self, before: datetime) -> int:
        self._journal.require_writable()
        result = self._session.execute(delete(AuthRequest).where(AuthRequest.expires_at < before))
        assert isinstance(result, CursorResult)
        return result.rowcount


class AuthCodeRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def issue(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        account_pk: int,
        profile_pk: int,
        scope: str,
        ttl: timedelta,
    ) -> str:
        self._journal.require_writable()
        code = secrets.token_urlsafe(32)
        now = utcnow()
        self._session.add(
            AuthCode(
                code_hash=digest(code),
                client_id=client_id,
                redirect_uri=redirect_uri,
                account_id=account_pk,
                profile_id=profile_pk,
                scope=scope,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        self._session.flush()
        return code

    def redeem(self, code: str, *, client_id: str, redirect_uri: str | None) -> RedeemedCode | None:
        """The code's grant, once: any presentation uses it up, so a code shown to the
        wrong client or with the wrong redirect URI is burnt, not left for a retry."""
        self._journal.require_writable()
        hashed = digest(code)
        now = utcnow()
        row = self._session.execute(
            select(AuthCode).where(AuthCode.code_hash == hashed)
        ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.code_hash, hashed):
            return None
        result = self._session.execute(
            update(AuthCode)
            .where(AuthCode.id == row.id, AuthCode.used_at.is_(None))
            .values(used_at=now)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount != 1 or row.expires_at <= now:
            return None
        if not hmac.compare_digest(row.client_id.encode(), client_id.encode()):
            return None
        if redirect_uri != row.redirect_uri:
            return None
        return RedeemedCode(row.account_id, row.profile_id, row.scope)

    def prune(self, before: datetime) -> int:
        self._journal.require_writable()
        result = self._session.execute(delete(AuthCode).where(AuthCode.expires_at < before))
        assert isinstance(result, CursorResult)
        return result.rowcount
