"""Repositories of the Chronary dialect: API keys, idempotency keys, agents, event extras.

The organization is the deployment: one store holds one organization, whose id
(`org_…`) the API derives from the configured client id. Its own account
(kind ``organization``, ``sub`` = the org id) holds the org-level calendars;
it is the only account that is not an agent.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from calsync.errors import NotFound
from calsync.ids import new_id
from calsync.store.chronary_models import Agent, ApiKey, EventExtra, IdempotencyKey
from calsync.store.journal import Journal
from calsync.store.models import Account, Calendar, Profile
from calsync.store.records import AccountRecord, CalendarRecord, ProfileRecord
from calsync.store.repos.accounts import (
    APPLICATION,
    APPLICATION_PROVIDER,
    CONNECTED,
    account_record,
    profile_record,
)
from calsync.store.repos.calendars import calendar_record
from calsync.store.sql import insert_ignore, utcnow

ORGANIZATION = "organization"
API_KEY_PREFIX = "chr_sk_"
#: The provider name of store-only calendars made for a connected account.
LOCAL_PROVIDER = "local"
AGENT_TYPES = ("ai", "human", "resource")
AGENT_STATUSES = ("active", "paused", "decommissioned")
#: What an account that was not created as an agent stands for.
_DEFAULT_TYPE = {APPLICATION: "ai", CONNECTED: "human"}


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AgentRecord:
    account: AccountRecord
    agent_id: str
    type: str
    status: str
    description: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        a = self.account
        return a.display_name or a.name or a.application_calendar_id or a.sub


@dataclass(frozen=True, slots=True)
class EventExtras:
    metadata: dict[str, Any]
    reminders: list[int] | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """``owner``: this request runs it; else ``status``/``body`` is the stored answer
    (``status`` None: the first request is still running) or ``mismatch``."""

    owner: bool
    mismatch: bool = False
    status: int | None = None
    body: str | None = None


class ApiKeyRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def issue(self, org_id: str) -> str:
        self._journal.require_writable()
        plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
        self._session.add(
            ApiKey(org_id=org_id, key_hash=_hash(plaintext), revoked=False, created_at=utcnow())
        )
        self._session.flush()
        return plaintext

    def resolve(self, plaintext: str) -> str | None:
        """The organization of a live key, or None."""
        digest = _hash(plaintext)
        row = self._session.execute(
            select(ApiKey).where(ApiKey.key_hash == digest)
        ).scalar_one_or_none()
        if row is None or row.revoked or not hmac.compare_digest(row.key_hash, digest):
            return None
        return row.org_id

    def revoke(self, plaintext: str) -> bool:
        self._journal.require_writable()
        result = self._session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == _hash(plaintext), ApiKey.revoked.is_(False))
            .values(revoked=True)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class IdempotencyRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def claim(self, org_id: str, key: str, fingerprint: str, keep: timedelta) -> IdempotencyClaim:
        """Claim ``key`` for a request, or find the answer of the one that claimed it."""
        self._journal.require_writable()
        now = utcnow()
        where = (IdempotencyKey.org_id == org_id, IdempotencyKey.key == key)
        # Every expired key goes (an indexed range delete), so none outlives ``keep``.
        self._session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - keep))
        nonce = secrets.token_hex(16)
        values = {
            "org_id": org_id,
            "key": key,
            "fingerprint": fingerprint,
            "status": None,
            "body": f"claim:{nonce}",
            "created_at": now,
        }
        insert_ignore(self._session, IdempotencyKey.__table__, values, ["org_id", "key"])  # type: ignore[arg-type]
        row = self._session.execute(select(IdempotencyKey).where(*where)).scalar_one()
        if row.status is None and row.body == f"claim:{nonce}":
            return IdempotencyClaim(owner=True)
        if row.fingerprint != fingerprint:
            return IdempotencyClaim(owner=False, mismatch=True)
        return IdempotencyClaim(owner=False, status=row.status, body=row.body)

    def complete(self, org_id: str, key: str, status: int, body: str) -> None:
        self._journal.require_writable()
        self._session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.org_id == org_id, IdempotencyKey.key == key)
            .values(status=status, body=body)
        )

    def release(self, org_id: str, key: str) -> None:
        """Forget a claim whose request failed on the server's side: a retry runs it again."""
        self._journal.require_writable()
        self._session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.org_id == org_id, IdempotencyKey.key == key)
        )

    def prune(self, before: datetime) -> int:
        self._journal.require_writable()
        result = self._session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < before)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class AgentRepo:
    """Agents are accounts: every connected or application account has one agent row."""

    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def _missing(self) -> Any:
        return (
            select(Account)
            .outerjoin(Agent, Agent.account_id == Account.id)
            .where(Agent.account_id.is_(None), Account.kind != ORGANIZATION)
        )

    def missing(self) -> bool:
        return self._session.execute(self._missing().limit(1)).first() is not None

    def backfill(self, org_id: str) -> None:
        """Give every account without an agent row one (accounts made by sync, the CLI or
        the Cronofy dialect), in the organization that asks first."""
        self._journal.require_writable()
        for account in self._session.execute(self._missing()).scalars().all():
            values = {
                "account_id": account.id,
                "public_id": new_id("agt"),
                "org_id": org_id,
                "type": _DEFAULT_TYPE.get(account.kind, "ai"),
                "status": "active",
                "description": None,
                "metadata": None,
                "created_at": account.created_at,
                "updated_at": account.created_at,
            }
            insert_ignore(self._session, Agent.__table__, values, ["account_id"])  # type: ignore[arg-type]

    def _select(self) -> Any:
        return select(Agent, Account).join(Account, Account.id == Agent.account_id)

    @staticmethod
    def _record(agent: Agent, account: Account) -> AgentRecord:
        return AgentRecord(
            account=account_record(account),
            agent_id=agent.public_id,
            type=agent.type,
            status=agent.status,
            description=agent.description,
            metadata=dict(agent.metadata_json or {}),
            created_at=agent.created_at,
            updated_at=agent.updated_at,
        )

    def list(
        self,
        org_id: str,
        *,
        type: str | None,
        statuses: tuple[str, ...],
        limit: int,
        offset: int,
    ) -> tuple[builtins.list[AgentRecord], int]:
        conditions: builtins.list[Any] = [Agent.org_id == org_id, Agent.status.in_(statuses)]
        if type is not None:
            conditions.append(Agent.type == type)
        total = self._session.execute(
            select(func.count()).select_from(Agent).where(*conditions)
        ).scalar_one()
        rows = self._session.execute(
            self._select()
            .where(*conditions)
            .order_by(Agent.created_at, Agent.account_id)
            .limit(limit)
            .offset(offset)
        )
        return [self._record(a, acc) for a, acc in rows], int(total)

    def get(self, agent_id: str, org_id: str | None = None) -> AgentRecord:
        """The agent; with ``org_id`` only one of that organization (`NotFound` otherwise)."""
        stmt = self._select().where(Agent.public_id == agent_id)
        if org_id is not None:
            stmt = stmt.where(Agent.org_id == org_id)
        row = self._session.execute(stmt).first()
        if row is None:
            raise NotFound(f"no agent {agent_id}")
        return self._record(*row)

    def get_by_account(self, account_pk: int) -> AgentRecord:
        row = self._session.execute(self._select().where(Agent.account_id == account_pk)).first()
        if row is None:
            raise NotFound(f"no agent for account {account_pk}")
        return self._record(*row)

    def status_of(self, account_pk: int) -> str | None:
        """The status of the account's agent; None before it has an agent row."""
        status: str | None = self._session.execute(
            select(Agent.status).where(Agent.account_id == account_pk)
        ).scalar_one_or_none()
        return status

    def by_accounts(self) -> dict[int, AgentRecord]:
        return {
            a.account_id: self._record(a, acc) for a, acc in self._session.execute(self._select())
        }

    def create(
        self,
        org_id: str,
        name: str,
        type: str,
        description: str | None,
        metadata: dict[str, Any] | None,
    ) -> AgentRecord:
        """A new agent: an application account whose application calendar id is the agent id."""
        self._journal.require_writable()
        now = utcnow()
        agent_id = new_id("agt")
        account = Account(
            sub=new_id("apc"),
            kind=APPLICATION,
            application_calendar_id=agent_id,
            display_name=name,
            created_at=now,
            last_change_seq=0,
        )
        self._session.add(account)
        self._session.flush()
        self._session.add(
            Profile(
                public_id=new_id("pro"),
                account_id=account.id,
                provider_name=APPLICATION_PROVIDER,
                profile_name=agent_id,
                connected=True,
                created_at=now,
            )
        )
        self._session.add(
            Agent(
                account_id=account.id,
                public_id=agent_id,
                org_id=org_id,
                type=type,
                status="active",
                description=description,
                metadata_json=metadata,
                created_at=now,
                updated_at=now,
            )
        )
        self._session.flush()
        return self.get(agent_id)

    def update(self, agent_id: str, changes: dict[str, Any]) -> AgentRecord:
        """Change ``name``, ``description``, ``status``, ``metadata`` (those given)."""
        self._journal.require_writable()
        row = self._session.execute(select(Agent).where(Agent.public_id == agent_id)).scalar_one()
        if "name" in changes:
            account = self._session.get(Account, row.account_id)
            assert account is not None
            account.display_name = changes["name"]
        for name, column in (("description", "description"), ("status", "status")):
            if name in changes:
                setattr(row, column, changes[name])
        if "metadata" in changes:
            row.metadata_json = changes["metadata"]
        row.updated_at = utcnow()
        self._session.flush()
        return self.get(agent_id)

    # -- calendars across the organization ----------------------------------------

    def organization(self, org_id: str) -> tuple[AccountRecord, ProfileRecord]:
        """The organization's own account and profile (made on first use)."""
        self._journal.require_writable()
        values = {
            "sub": org_id,
            "kind": ORGANIZATION,
            "display_name": "organization",
            "created_at": utcnow(),
            "last_change_seq": 0,
        }
        insert_ignore(self._session, Account.__table__, values, ["sub"])  # type: ignore[arg-type]
        account = self._session.execute(select(Account).where(Account.sub == org_id)).scalar_one()
        return account_record(account), self.local_profile(account.id, "organization")

    def find_organization(self, org_id: str) -> int | None:
        """The organization account's key, None before its first calendar."""
        pk: int | None = self._session.execute(
            select(Account.id).where(Account.sub == org_id, Account.kind == ORGANIZATION)
        ).scalar_one_or_none()
        return pk

    def local_profile(self, account_pk: int, name: str) -> ProfileRecord:
        """The account's store-only profile: its application one, else a ``local`` one."""
        self._journal.require_writable()
        rows = self._session.execute(
            select(Profile)
            .where(
                Profile.account_id == account_pk,
                Profile.provider_name.in_((APPLICATION_PROVIDER, LOCAL_PROVIDER)),
            )
            .order_by(Profile.id)
        ).scalars()
        found = rows.first()
        if found is not None:
            return profile_record(found)
        values = {
            "public_id": new_id("pro"),
            "account_id": account_pk,
            "provider_name": LOCAL_PROVIDER,
            "profile_name": name,
            "connected": True,
            "created_at": utcnow(),
        }
        conflict = ["account_id", "provider_name", "profile_name"]
        insert_ignore(self._session, Profile.__table__, values, conflict)  # type: ignore[arg-type]
        return profile_record(
            self._session.execute(
                select(Profile).where(
                    Profile.account_id == account_pk,
                    Profile.provider_name == LOCAL_PROVIDER,
                    Profile.profile_name == name,
                )
            ).scalar_one()
        )

    def _org_accounts(self, org_id: str) -> Any:
        """The accounts of an organization: its agents' and its own."""
        agents = select(Agent.account_id).where(Agent.org_id == org_id)
        own = select(Account.id).where(Account.sub == org_id, Account.kind == ORGANIZATION)
        return Calendar.account_id.in_(agents.union(own).scalar_subquery())

    def calendars(
        self, org_id: str, *, account_pk: int | None = None
    ) -> builtins.list[CalendarRecord]:
        """Live calendars of the organization (or of one of its accounts), oldest first."""
        stmt = (
            select(Calendar, Profile)
            .join(Profile, Profile.id == Calendar.profile_id)
            .where(Calendar.deleted.is_(False), self._org_accounts(org_id))
            .order_by(Calendar.id)
        )
        if account_pk is not None:
            stmt = stmt.where(Calendar.account_id == account_pk)
        return [calendar_record(c, p) for c, p in self._session.execute(stmt)]

    def calendar(self, org_id: str, calendar_id: str) -> CalendarRecord:
        """A live calendar of the organization; `NotFound` for any other (or none)."""
        row = self._session.execute(
            select(Calendar, Profile)
            .join(Profile, Profile.id == Calendar.profile_id)
            .where(
                Calendar.public_id == calendar_id,
                Calendar.deleted.is_(False),
                self._org_accounts(org_id),
            )
        ).first()
        if row is None:
            raise NotFound(f"no calendar {calendar_id}")
        return calendar_record(*row)


class EventExtrasRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def get_many(self, event_pks: builtins.list[int]) -> dict[int, EventExtras]:
        if not event_pks:
            return {}
        rows = self._session.execute(
            select(EventExtra).where(EventExtra.event_id.in_(event_pks))
        ).scalars()
        return {
            r.event_id: EventExtras(dict(r.metadata_json or {}), r.reminders, r.updated_at)
            for r in rows
        }

    def set(self, event_pk: int, metadata: dict[str, Any], reminders: list[int] | None) -> None:
        self._journal.require_writable()
        row = self._session.get(EventExtra, event_pk)
        now = utcnow()
        if row is None:
            self._session.add(
                EventExtra(
                    event_id=event_pk, metadata_json=metadata, reminders=reminders, updated_at=now
                )
            )
        elif row.metadata_json != metadata or row.reminders != reminders:
            row.metadata_json = metadata
            row.reminders = reminders
            row.updated_at = now
        self._session.flush()
