"""Plain, frozen records the repositories return. Callers never see ORM objects.

``pk`` fields are the store's internal keys: pass them back to repository
methods. Public ids (``sub``, ``profile_id``, ``calendar_id``, ``event_uid``)
are what the API shows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from calsync.model import EventContent


@dataclass(frozen=True, slots=True)
class AccountRecord:
    pk: int
    sub: str
    kind: str  # "connected" | "application"
    name: str | None
    application_calendar_id: str | None
    email: str | None
    display_name: str | None
    created_at: datetime
    last_change_at: datetime | None
    last_change_seq: int


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    pk: int
    profile_id: str
    account_pk: int
    provider_name: str
    profile_name: str
    connected: bool
    disconnect_reason: str | None
    created_at: datetime
    #: The last account-level failure; None once the profile synced.
    last_error: str | None = None
    #: Fingerprint of credentials the provider refused (see calsync.sync.credentials).
    refused_credentials: str | None = None
    #: The last successful calendar discovery, and the fingerprint of the options it used.
    discovered_at: datetime | None = None
    discovery_key: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarRecord:
    pk: int
    calendar_id: str
    account_pk: int
    profile_pk: int
    profile_id: str
    provider_name: str
    profile_name: str
    remote_id: str | None
    name: str
    timezone: str | None
    color: str | None
    readonly: bool
    deleted: bool
    primary: bool
    metadata: dict[str, Any] | None
    ical_feed_token: str
    last_sync_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EventRecord:
    pk: int
    event_uid: str
    account_pk: int
    calendar_pk: int
    calendar_id: str
    event_id: str | None
    managed: bool
    remote_id: str | None
    ical_uid: str | None
    etag: str | None
    remote_updated: datetime | None
    content: EventContent
    recurring_event_uid: str | None
    deleted: bool
    created: datetime
    updated: datetime
    change_seq: int
    fingerprint: str
    push_state: str  # "none" | "pending"
    pending_op: str | None  # "create" | "update" | "delete"

    @property
    def page_key(self) -> tuple[datetime, int]:
        """The keyset position of this event in `EventRepo.list_changed` order."""
        return (self.updated, self.pk)


class WriteOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    #: Same fingerprint and deleted flag: nothing written, no change recorded.
    UNCHANGED = "unchanged"
    #: A delete of an event that does not exist (or is already a tombstone
    #: that never existed remotely); nothing written.
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class EventWrite:
    """What the write path did to one event."""

    outcome: WriteOutcome
    event: EventRecord | None

    @property
    def changed(self) -> bool:
        return self.outcome in (WriteOutcome.CREATED, WriteOutcome.UPDATED, WriteOutcome.DELETED)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    pk: int
    account_pk: int
    sub: str
    kind: str  # "access" | "refresh"
    expires_at: datetime | None
    revoked: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    pk: int
    account_pk: int
    calendar_pk: int
    event_uid: str
    seq: int
    op: str
    source: str
    updated: datetime
    previous: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    pk: int
    account_pk: int
    calendar_pk: int | None
    kind: str
    payload: dict[str, Any]
    status: str  # "pending" | "delivered" | "failed"
    attempts: int
    available_at: datetime
    lease_until: datetime | None
    leased_by: str | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class CursorRecord:
    calendar_pk: int
    cursor: str | None
    full_sync_completed_at: datetime | None
    updated_at: datetime


class EventSyncState(NamedTuple):
    """The columns the sync planner compares (no content): `EventRepo.sync_states`."""

    event_uid: str
    remote_id: str | None
    fingerprint: str
    etag: str | None
    managed: bool
    deleted: bool
    push_state: str
    pending_op: str | None
    change_seq: int
    recurring_event_uid: str | None
    start_at: datetime
    end_at: datetime
    all_day: bool
    tzid: str
    recurrence: list[str]
    #: `Event.base_fingerprint`: the last version known to be on the provider.
    base_fingerprint: str | None


class PushAttemptRecord(NamedTuple):
    """One recorded push of an event (`calsync.store.push_models.PushAttempt`)."""

    event_uid: str
    change_seq: int
    op: str  # create | update | delete
    #: `calsync.model.round_trip_key` of the content sent; None for a delete.
    content_key: str | None


@dataclass(frozen=True, slots=True)
class BusyRow:
    """One stored event as the availability query reads it (`Store` busy read).

    ``content`` is set for series masters and overrides only (what the expansion
    needs); single events are read from the plain columns. ``attendees`` is the
    stored JSON text, decoded only when the account's email occurs in it."""

    event_uid: str
    recurring_event_uid: str | None
    recurring: bool
    all_day: bool
    start_at: datetime
    end_at: datetime
    start_date: date | None
    end_date: date | None
    tzid: str
    transparency: str
    status: str
    attendees: str | None
    content: EventContent | None


@dataclass(frozen=True, slots=True)
class AvailabilityRuleRecord:
    account_pk: int
    rule_id: str
    tzid: str
    calendar_ids: tuple[str, ...] | None
    #: ``({"day", "start_time", "end_time"}, ...)`` as stored.
    weekly_periods: tuple[dict[str, str], ...]
    created_at: datetime
    updated_at: datetime
