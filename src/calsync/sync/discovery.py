"""Calendar discovery: the account's calendar list, mirrored into the store."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from calsync.config import AccountSettings
from calsync.model import RemoteCalendar
from calsync.store import CalendarRecord, ProfileRecord, Store
from calsync.sync.credentials import fingerprint

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
    store: Store,
    profile: ProfileRecord,
    remotes: Sequence[RemoteCalendar],
    *,
    discovered: tuple[datetime, str] | None = None,
) -> list[CalendarRecord]:
    """Create or refresh the listed calendars; mark the unlisted ones deleted.

    An empty list proves nothing (an outage looks exactly like it), so it
    removes nothing. Calendars without a remote id (made by calsync itself)
    are never touched. Metadata and cursors are kept: a calendar that comes
    back is undeleted with its history. ``discovered``: when, and the fingerprint
    of the account's options, recorded on the profile (see `recently_discovered`)
    unless the list is empty.
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
            if discovered is not None:
                uow.profiles.set_discovered(profile.pk, at=discovered[0], key=discovered[1])
        return [c for c in uow.calendars.list_by_profile(profile.pk) if not c.deleted]


def syncable_calendars(store: Store, profile: ProfileRecord) -> list[CalendarRecord]:
    with store.read() as uow:
        return [
            c
            for c in uow.calendars.list_by_profile(profile.pk)
            if not c.deleted and c.remote_id is not None
        ]


def recently_discovered(
    profile: ProfileRecord, account: AccountSettings, now: datetime, interval: timedelta
) -> bool:
    """Whether the profile's calendars were discovered (by any process: the last
    ``sync --once``, the daemon) less than ``interval`` ago, with the account's
    current options: another URL or ``calendars`` filter discovers again."""
    return (
        profile.discovered_at is not None
        and profile.discovery_key == fingerprint(account)
        and now - profile.discovered_at < interval
    )
