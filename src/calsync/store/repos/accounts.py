"""Accounts and their profiles."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, select
from sqlalchemy.orm import Session

from calsync.errors import NotFound
from calsync.ids import new_id
from calsync.store.journal import Journal
from calsync.store.models import AccessToken, Account, Calendar, Event, Profile
from calsync.store.records import AccountRecord, CalendarRecord, ProfileRecord
from calsync.store.sql import insert_ignore, utcnow

CONNECTED = "connected"
APPLICATION = "application"
#: Application calendars answer with Cronofy's provider name, for SDK compatibility.
APPLICATION_PROVIDER = "cronofy"


def account_record(row: Account | Row[Any]) -> AccountRecord:
    """From an ORM row, or a Core row holding the ``accounts`` columns under their names."""
    return AccountRecord(
        pk=row.id,
        sub=row.sub,
        kind=row.kind,
        name=row.name,
        application_calendar_id=row.application_calendar_id,
        email=row.email,
        display_name=row.display_name,
        created_at=row.created_at,
        last_change_at=row.last_change_at,
        last_change_seq=row.last_change_seq,
    )


def profile_record(row: Profile) -> ProfileRecord:
    return ProfileRecord(
        pk=row.id,
        profile_id=row.public_id,
        account_pk=row.account_id,
        provider_name=row.provider_name,
        profile_name=row.profile_name,
        connected=row.connected,
        disconnect_reason=row.disconnect_reason,
        created_at=row.created_at,
        last_error=row.last_error,
        refused_credentials=row.refused_credentials,
        discovered_at=row.discovered_at,
        discovery_key=row.discovery_key,
    )


def _new_account_values(**values: Any) -> dict[str, Any]:
    prefix = "apc" if values["kind"] == APPLICATION else "acc"
    return {"sub": new_id(prefix), "created_at": utcnow(), "last_change_seq": 0, **values}


class AccountRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def get(self, account_pk: int) -> AccountRecord:
        row = self._session.get(Account, account_pk)
        if row is None:
            raise NotFound(f"no account with key {account_pk}")
        return account_record(row)

    def get_by_sub(self, sub: str) -> AccountRecord:
        row = self._session.execute(select(Account).where(Account.sub == sub)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no account {sub}")
        return account_record(row)

    def find_by_name(self, name: str) -> AccountRecord | None:
        row = self._session.execute(
            select(Account).where(Account.name == name)
        ).scalar_one_or_none()
        return None if row is None else account_record(row)

    def list(self, *, kind: str | None = None) -> list[AccountRecord]:
        stmt = select(Account).order_by(Account.id)
        if kind is not None:
            stmt = stmt.where(Account.kind == kind)
        return [account_record(r) for r in self._session.execute(stmt).scalars()]

    def get_or_create_connected(
        self, name: str, *, email: str | None = None, display_name: str | None = None
    ) -> AccountRecord:
        """The connected account for the config's ``[[accounts]] name``; race-free."""
        self._journal.require_writable()
        values = _new_account_values(
            kind=CONNECTED, name=name, email=email, display_name=display_name
        )
        insert_ignore(self._session, Account.__table__, values, ["name"])  # type: ignore[arg-type]
        row = self._session.execute(select(Account).where(Account.name == name)).scalar_one()
        if email is not None and row.email != email:
            row.email = email
        if display_name is not None and row.display_name != display_name:
            row.display_name = display_name
        return account_record(row)

    def upsert_application(
        self, application_calendar_id: str, *, calendar_name: str | None = None
    ) -> tuple[AccountRecord, ProfileRecord, CalendarRecord]:
        """The account, profile and calendar of an application calendar, created
        together on first use (``POST /v1/application_calendars``)."""
        from calsync.store.repos.calendars import calendar_record  # avoid an import cycle

        self._journal.require_writable()
        values = _new_account_values(
            kind=APPLICATION, application_calendar_id=application_calendar_id
        )
        insert_ignore(
            self._session,
            Account.__table__,  # type: ignore[arg-type]
            values,
            ["application_calendar_id"],
        )
        pk = self._session.execute(
            select(Account.id).where(Account.application_calendar_id == application_calendar_id)
        ).scalar_one()
        account = self._journal.lock_account(pk)  # serialize concurrent first calls
        profile = (
            self._session.execute(
                select(Profile).where(Profile.account_id == pk).order_by(Profile.id)
            )
            .scalars()
            .first()
        )
        now = utcnow()
        if profile is None:
            profile = Profile(
                public_id=new_id("pro"),
                account_id=pk,
                provider_name=APPLICATION_PROVIDER,
                profile_name=application_calendar_id,
                connected=True,
                created_at=now,
            )
            self._session.add(profile)
            self._session.flush()
        calendar = (
            self._session.execute(
                select(Calendar).where(Calendar.profile_id == profile.id).order_by(Calendar.id)
            )
            .scalars()
            .first()
        )
        if calendar is None:
            calendar = Calendar(
                public_id=new_id("cal"),
                account_id=pk,
                profile_id=profile.id,
                name=calendar_name or application_calendar_id,
                readonly=False,
                deleted=False,
                primary=True,
                ical_feed_token=secrets.token_urlsafe(24),
                created_at=now,
                updated_at=now,
            )
            self._session.add(calendar)
            self._session.flush()
        return account_record(account), profile_record(profile), calendar_record(calendar, profile)

    def contents(self, account_pk: int) -> dict[str, int]:
        """What removing the account takes with it: calendars, live events, API
        tokens (access and refresh) and notification channels."""
        from calsync.store.channels_models import Channel  # mapped only when needed (#11)

        counts: dict[str, int] = {}
        queries = {
            "calendars": select(func.count()).where(Calendar.account_id == account_pk),
            "events": select(func.count()).where(
                Event.account_id == account_pk, Event.deleted.is_(False)
            ),
            "tokens": select(func.count()).where(AccessToken.account_id == account_pk),
            "channels": select(func.count()).where(Channel.account_id == account_pk),
        }
        for label, query in queries.items():
            counts[label] = int(self._session.execute(query).scalar_one())
        return counts

    def delete(self, account_pk: int) -> None:
        """Remove the account and everything it owns (`calsync account remove`)."""
        self._journal.require_writable()
        self._session.execute(delete(Account).where(Account.id == account_pk))
        self._session.expunge_all()


class ProfileRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def list(self, account_pk: int) -> list[ProfileRecord]:
        stmt = select(Profile).where(Profile.account_id == account_pk).order_by(Profile.id)
        return [profile_record(r) for r in self._session.execute(stmt).scalars()]

    def get(self, account_pk: int, profile_id: str) -> ProfileRecord:
        """The profile ``profile_id`` of this account; `NotFound` for anyone else's."""
        row = self._session.execute(
            select(Profile).where(Profile.public_id == profile_id, Profile.account_id == account_pk)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no profile {profile_id}")
        return profile_record(row)

    def serialize_discovery(self, profile_pk: int) -> None:
        """Lock the profile's row until commit: replicas discovering one account at
        once take turns instead of both inserting its new calendars."""
        self._journal.require_writable()
        self._session.execute(
            select(Profile.id).where(Profile.id == profile_pk).with_for_update()
        ).all()

    def set_discovered(self, profile_pk: int, *, at: datetime, key: str) -> None:
        """Record a successful discovery of the profile's calendars (``key``: the
        fingerprint of the account's options it used)."""
        self._journal.require_writable()
        row = self._row(profile_pk)
        row.discovered_at = at
        row.discovery_key = key

    def get_by_pk(self, profile_pk: int) -> ProfileRecord:
        row = self._session.get(Profile, profile_pk)
        if row is None:
            raise NotFound(f"no profile with key {profile_pk}")
        return profile_record(row)

    def get_or_create(
        self, account_pk: int, provider_name: str, profile_name: str
    ) -> ProfileRecord:
        self._journal.require_writable()
        values = {
            "public_id": new_id("pro"),
            "account_id": account_pk,
            "provider_name": provider_name,
            "profile_name": profile_name,
            "connected": True,
            "created_at": utcnow(),
        }
        conflict = ["account_id", "provider_name", "profile_name"]
        insert_ignore(self._session, Profile.__table__, values, conflict)  # type: ignore[arg-type]
        row = self._session.execute(
            select(Profile).where(
                Profile.account_id == account_pk,
                Profile.provider_name == provider_name,
                Profile.profile_name == profile_name,
            )
        ).scalar_one()
        return profile_record(row)

    def set_connected(
        self, profile_pk: int, connected: bool, *, reason: str | None = None
    ) -> ProfileRecord:
        """Mark the profile (dis)connected; ``reason`` says why it was disconnected.
        Connecting forgets any refused credentials."""
        self._journal.require_writable()
        row = self._row(profile_pk)
        row.connected = connected
        row.disconnect_reason = None if connected else reason
        if connected:
            row.refused_credentials = None
        return profile_record(row)

    def set_status(
        self,
        profile_pk: int,
        *,
        last_error: str | None,
        refused_credentials: str | None = None,
    ) -> ProfileRecord:
        """Record the last account-level error (None: the profile just synced) and,
        when the provider refused them, the fingerprint of the credentials."""
        self._journal.require_writable()
        row = self._row(profile_pk)
        row.last_error = last_error
        if refused_credentials is not None or last_error is None:
            row.refused_credentials = refused_credentials
        return profile_record(row)

    def _row(self, profile_pk: int) -> Profile:
        row = self._session.get(Profile, profile_pk)
        if row is None:
            raise NotFound(f"no profile with key {profile_pk}")
        return row
