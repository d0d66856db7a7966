"""Profile milestones the engine reports as notifications, in the data's transaction.

* ``profile_initial_sync_completed``: queued by the transaction that stamps the
  last of a profile's calendars with its first completed full listing. Nothing
  else records that it was sent, so "first" is read off the cursors: it fires
  only when this calendar had never completed one, every other syncable
  calendar of the profile has, and none of those completed before this
  calendar was discovered. A calendar discovered later (the profile's initial
  sync long done) therefore does not announce it again, and neither does a
  cursor reset (clearing a cursor keeps ``full_sync_completed_at``).
  Limit: ``full_sync_completed_at`` is re-stamped by every complete listing,
  so if *every* other calendar is re-listed in full (all cursors expired)
  between a new calendar's discovery and its first sync, it is announced
  again. A per-profile marker column would make it exact; the relay's
  delivery is at-least-once anyway, so receivers must tolerate repeats.
* ``profile_disconnected``: queued when a connected profile's credentials stop
  working.

Both use `calsync.store.profile_events`, the payload the relay sends.
"""

from __future__ import annotations

from calsync.store import CalendarRecord, CursorRecord, ProfileRecord, UnitOfWork
from calsync.store.profile_events import (
    PROFILE_DISCONNECTED,
    PROFILE_INITIAL_SYNC_COMPLETED,
    enqueue_profile_event,
)


def _completed(cursor: CursorRecord | None) -> bool:
    return cursor is not None and cursor.full_sync_completed_at is not None


def after_calendar_synced(
    uow: UnitOfWork, calendar: CalendarRecord, before: CursorRecord | None, *, full_listing: bool
) -> bool:
    """Record a calendar's first complete listing; queue the profile's notification
    if that completes the profile's first full sync. Returns whether it queued one.

    ``before``: the calendar's cursor before this transaction applied the pull;
    ``full_listing``: the pull was a complete listing (and was applied).
    """
    if _completed(before):
        return False
    after = uow.cursors.get(calendar.pk)
    if not _completed(after):
        if not full_listing:
            return False
        # The planner keeps no cursor for an empty complete listing (it is
        # listed again next time), but the calendar's first sync did complete:
        # without this stamp a profile with an empty calendar would never
        # announce its initial sync. The stored cursor, if any, is kept.
        uow.cursors.set(
            calendar.pk, None if after is None else after.cursor, full_sync_completed=True
        )
    for other in uow.calendars.list_by_profile(calendar.profile_pk):
        if other.pk == calendar.pk or other.deleted or other.remote_id is None:
            continue
        cursor = uow.cursors.get(other.pk)
        if cursor is None or cursor.full_sync_completed_at is None:
            return False  # the profile's first sync is not finished yet
        if cursor.full_sync_completed_at < calendar.created_at:
            return False  # finished before this calendar existed: announced already
    profile = uow.profiles.get_by_pk(calendar.profile_pk)
    account = uow.accounts.get(profile.account_pk)
    enqueue_profile_event(uow, account, profile, PROFILE_INITIAL_SYNC_COMPLETED)
    return True


def mark_disconnected(
    uow: UnitOfWork,
    profile: ProfileRecord,
    reason: str,
    *,
    base_url: str | None = None,
    refused: str | None = None,
) -> bool:
    """Record the profile as disconnected; queue ``profile_disconnected`` if it was
    connected until now. Returns whether it queued one. ``refused``: the fingerprint
    of the refused credentials (`calsync.sync.credentials`)."""
    current = uow.profiles.get_by_pk(profile.pk)
    uow.profiles.set_connected(profile.pk, False, reason=reason)
    uow.profiles.set_status(profile.pk, last_error=reason, refused_credentials=refused)
    if not current.connected:
        return False
    account = uow.accounts.get(current.account_pk)
    # A profile from the connect flow carries its relink URL (``base_url`` is the API's).
    enqueue_profile_event(uow, account, current, PROFILE_DISCONNECTED, relink_base_url=base_url)
    return True
