"""Calendars: scoped lookups, API edits, sync upserts and sync health."""

from __future__ import annotations

import builtins
import secrets
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from calsync.errors import NotFound
from calsync.ids import new_id
from calsync.model import RemoteCalendar
from calsync.store.journal import Journal
from calsync.store.models import Calendar, Profile
from calsync.store.records import CalendarRecord
from calsync.store.sql import utcnow


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this field as it is" in `CalendarRepo.update`, where None means "clear".
UNSET: Final = _Unset()


def calendar_record(row: Calendar, profile: Profile) -> CalendarRecord:
    return CalendarRecord(
        pk=row.id,
        calendar_id=row.public_id,
        account_pk=row.account_id,
        profile_pk=row.profile_id,
        profile_id=profile.public_id,
        provider_name=profile.provider_name,
        profile_name=profile.profile_name,
        remote_id=row.remote_id,
        name=row.name,
        timezone=row.timezone,
        color=row.color,
        readonly=row.readonly,
        deleted=row.deleted,
        primary=row.primary,
        metadata=row.metadata_json,
        ical_feed_token=row.ical_feed_token,
        last_sync_at=row.last_sync_at,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class CalendarRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def _records(self, *conditions: Any) -> list[CalendarRecord]:
        stmt = (
            select(Calendar, Profile)
            .join(Profile, Profile.id == Calendar.profile_id)
            .where(*conditions)
            .order_by(Calendar.id)
        )
        return [calendar_record(c, p) for c, p in self._session.execute(stmt)]

    def _one(self, *conditions: Any, what: str) -> CalendarRecord:
        found = self._records(*conditions)
        if not found:
            raise NotFound(f"no calendar {what}")
        return found[0]

    def _row(self, calendar_pk: int) -> Calendar:
        row = self._session.get(Calendar, calendar_pk)
        if row is None:
            raise NotFound(f"no calendar with key {calendar_pk}")
        return row

    # -- reads -------------------------------------------------------------------

    def list(self, account_pk: int, *, include_deleted: bool = True) -> list[CalendarRecord]:
        conditions: list[Any] = [Calendar.account_id == account_pk]
        if not include_deleted:
            conditions.append(Calendar.deleted.is_(False))
        return self._records(*conditions)

    def list_by_profile(self, profile_pk: int) -> builtins.list[CalendarRecord]:
        return self._records(Calendar.profile_id == profile_pk)

    def get(self, account_pk: int, calendar_id: str) -> CalendarRecord:
        """The calendar ``calendar_id`` of this account; `NotFound` for anyone else's."""
        return self._one(
            Calendar.public_id == calendar_id, Calendar.account_id == account_pk, what=calendar_id
        )

    def get_by_pk(self, calendar_pk: int) -> CalendarRecord:
        return self._one(Calendar.id == calendar_pk, what=f"with key {calendar_pk}")

    def find_by_remote_id(self, profile_pk: int, remote_id: str) -> CalendarRecord | None:
        found = self._records(Calendar.profile_id == profile_pk, Calendar.remote_id == remote_id)
        return found[0] if found else None

    def get_by_feed_token(self, token: str) -> CalendarRecord | None:
        found = self._records(Calendar.ical_feed_token == token)
        return found[0] if found else None

    # -- writes ------------------------------------------------------------------

    def create(
        self,
        profile_pk: int,
        name: str,
        *,
        remote_id: str | None = None,
        timezone: str | None = None,
        color: str | None = None,
        readonly: bool = False,
        primary: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> CalendarRecord:
        self._journal.require_writable()
        profile = self._session.get(Profile, profile_pk)
        if profile is None:
            raise NotFound(f"no profile with key {profile_pk}")
        now = utcnow()
        row = Calendar(
            public_id=new_id("cal"),
            account_id=profile.account_id,
            profile_id=profile_pk,
            remote_id=remote_id,
            name=name,
            timezone=timezone,
            color=color,
            readonly=readonly,
            deleted=False,
            primary=primary,
            metadata_json=metadata,
            ical_feed_token=secrets.token_urlsafe(24),
            created_at=now,
            updated_at=now,
        )
        # No `bump_version`: a calendar without events changes no read page.
        self._session.add(row)
        self._session.flush()
        return calendar_record(row, profile)

    def update(
        self,
        calendar_pk: int,
        *,
        name: str | _Unset = UNSET,
        color: str | _Unset | None = UNSET,
        timezone: str | _Unset | None = UNSET,
        metadata: dict[str, Any] | _Unset | None = UNSET,
        readonly: bool | _Unset = UNSET,
        primary: bool | _Unset = UNSET,
        remote_id: str | _Unset | None = UNSET,
    ) -> CalendarRecord:
        """Change the given fields; `UNSET` (the default) leaves a field alone."""
        self._journal.require_writable()
        row = self._row(calendar_pk)
        changes: dict[str, Any] = {
            "name": name,
            "color": color,
            "timezone": timezone,
            "metadata_json": metadata,
            "readonly": readonly,
            "primary": primary,
            "remote_id": remote_id,
        }
        for field, value in changes.items():
            if value is not UNSET:
                setattr(row, field, value)
        row.updated_at = utcnow()
        self._journal.bump_version(row.account_id)
        self._session.flush()
        return self.get_by_pk(calendar_pk)

    def soft_delete(self, calendar_pk: int) -> CalendarRecord:
        self._journal.require_writable()
        row = self._row(calendar_pk)
        row.deleted = True
        row.updated_at = utcnow()
        self._journal.bump_version(row.account_id)
        self._session.flush()
        return self.get_by_pk(calendar_pk)

    def upsert_remote(self, profile_pk: int, remote: RemoteCalendar) -> CalendarRecord:
        """Create or refresh the calendar a provider lists (undeleting it if needed)."""
        found = self.find_by_remote_id(profile_pk, remote.remote_id)
        if found is None:
            return self.create(
                profile_pk,
                remote.name,
                remote_id=remote.remote_id,
                timezone=remote.timezone,
                color=remote.color,
                readonly=remote.read_only,
                primary=remote.primary,
            )
        row = self._row(found.pk)
        wanted = {
            "name": remote.name,
            "timezone": remote.timezone,
            "color": remote.color,
            "readonly": remote.read_only,
            "primary": remote.primary,
            "deleted": False,
        }
        if any(getattr(row, k) != v for k, v in wanted.items()):
            row.deleted = False
            return self.update(
                found.pk,
                name=remote.name,
                timezone=remote.timezone,
                color=remote.color,
                readonly=remote.read_only,
                primary=remote.primary,
            )
        return found

    def set_sync_status(
        self, calendar_pk: int, *, last_sync_at: datetime | None, last_error: str | None
    ) -> None:
        """Record the outcome of a sync: when it last succeeded and the current error."""
        self._journal.require_writable()
        row = self._row(calendar_pk)
        if last_sync_at is not None:
            row.last_sync_at = last_sync_at
        row.last_error = last_error
