"""Calendar discovery: the account's calendar list, mirrored into the store."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from calsync.config import AccountSettings
from calsync.model import RemoteCalendar
from calsync.store import CalendarRecord, ProfileRecord, Store

log = logging.getLogger(__name__)


def ensure_profile(store: Store, account: AccountSettings) -> ProfileRecord:
    """The store's profile of a configured account (account and profile made on first use).

    Same keys as the daemon's bootstrap (``profile_name`` = the account name),
    so both find the same rows.
    """
    with store.write() as uow:
        record = uow.accounts.get_or_create_connected(account.name)
        return uow.profiles.get_or_create(record.pk, account.provider, account.name)


def record_calendars(
    store: Store, profile: ProfileRecord, remotes: Sequence[RemoteCalendar]
) -> list[CalendarRecord]:
    """Create or refresh the listed calendars; mark the unlisted ones deleted.

    An empty list proves nothing (an outage looks exactly like it), so it
    removes nothing. Calendars without a remote id (made by calsync itself)
    are never touched. Metadata and cursors are kept: a calendar that comes
    back is undeleted with its history.
    """
    with store.write() as uow:
        uow.profiles.serialize_discovery(profile.pk)
        if profile.last_error is not None:  # the provider answered: no account error now
            uow.profiles.set_status(profile.pk, last_error=None)
        for remote in remotes:
            uow.calendars.upsert_remote(profile.pk, remote)
        if remotes:
            listed = {r.remote_id for r in remotes}
            for calendar in uow.calendars.list_by_profile(profile.pk):
                if calendar.remote_id is None or calendar.deleted:
                    continue
                if calendar.remote_id not in listed:
                    log.info(
                        "calendar %s is no longer listed; marking it deleted", calendar.calendar_id
                    )
                    uow.calendars.soft_delete(calendar.pk)
        return [c for c in uow.calendars.list_by_profile(profile.pk) if not c.deleted]


def syncable_calendars(store: Store, profile: ProfileRecord) -> list[CalendarRecord]:
    with store.read() as uow:
        return [
            c
            for c in uow.calendars.list_by_profile(profile.pk)
            if not c.deleted and c.remote_id is not None
        ]
