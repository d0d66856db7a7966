"""Typed ORM models: the schema the migrations in ``store/migrations`` build.

Internal integer primary keys (``pk`` in records) join the tables; public ids
(``acc_…``, ``pro_…``, ``cal_…``, ``evt_…``) are what leaves the store. Every
constraint and index is named through ``NAMING_CONVENTION`` so Alembic can
compare the models with a migrated database on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones: values are stored as naive UTC text in one fixed
    format, so text comparison equals time comparison. PostgreSQL keeps
    ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, parse the stored text straight into an aware datetime.

        A read page decodes ~600 of these; the generic path (the dialect's
        parser, then `process_result_value`'s ``replace``) cost ~0.8 us each
        against ~0.15 us here.
        """
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value + "+00:00")  # stored as naive UTC
            except ValueError:  # not the stored format (written by hand?): parse it as it is
                parsed = datetime.fromisoformat(value)
                return (
                    parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
                )

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), Any: JSON()}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # connected | application
    name: Mapped[str | None] = mapped_column(String(255), unique=True)
    application_calendar_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    # The account's change clock; see calsync.store's docstring.
    last_change_at: Mapped[datetime | None]
    last_change_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("account_id", "provider_name", "profile_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    provider_name: Mapped[str] = mapped_column(String(64))
    profile_name: Mapped[str] = mapped_column(String(255))
    connected: Mapped[bool] = mapped_column(Boolean, default=True)
    disconnect_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    #: The last account-level failure (discovery, credentials), None after a success.
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Fingerprint of the credentials the provider refused; not sent again (sync/credentials.py).
    refused_credentials: Mapped[str | None] = mapped_column(String(64))
    #: The last successful calendar discovery, and the fingerprint of the account's
    #: options it used: `sync --once` skips a recent one (sync/engine.py).
    discovered_at: Mapped[datetime | None]
    discovery_key: Mapped[str | None] = mapped_column(String(64))


class Calendar(Base):
    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("profile_id", "remote_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    remote_id: Mapped[str | None] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(1024))
    timezone: Mapped[str | None] = mapped_column(String(64))
    color: Mapped[str | None] = mapped_column(String(32))
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    primary: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    ical_feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # Key column first: the write path looks batches up by `key IN (...)`.
        UniqueConstraint("event_id", "calendar_id"),
        UniqueConstraint("remote_id", "calendar_id"),
        Index(None, "calendar_id", "updated", "id"),
        Index(None, "account_id", "updated", "id"),
        Index(None, "calendar_id", "start_at"),
        Index(None, "calendar_id", "deleted"),
        Index(None, "push_state", "calendar_id"),
        # The availability query's busy read (`store.repos.busy`): one account's events
        # ending after a window's start, and its series masters and overrides.
        Index(None, "account_id", "end_at"),
        Index(None, "account_id", "recurring"),
        Index(None, "account_id", "recurring_event_uid"),
        # What changed since a version (`store.repos.busy.busy_changes`, after a write).
        Index(None, "account_id", "change_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_uid: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    event_id: Mapped[str | None] = mapped_column(String(1024))
    managed: Mapped[bool] = mapped_column(Boolean)
    remote_id: Mapped[str | None] = mapped_column(String(1024))
    ical_uid: Mapped[str | None] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(1024))
    remote_updated: Mapped[datetime | None]
    # Range keys (UTC); all-day events get a range wide enough for any zone.
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    all_day: Mapped[bool] = mapped_column(Boolean)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    tzid: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[Any | None] = mapped_column(JSON)
    attendees: Mapped[Any] = mapped_column(JSON)
    organizer: Mapped[Any | None] = mapped_column(JSON)
    transparency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    recurrence: Mapped[Any] = mapped_column(JSON)
    recurring: Mapped[bool] = mapped_column(Boolean)
    recurring_event_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    original_start_at: Mapped[datetime | None]
    original_start_date: Mapped[date | None] = mapped_column(Date)
    url: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(32))
    private: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]
    updated: Mapped[datetime]
    change_seq: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: The last version known to be on the provider (the base a pending local
    #: change was made on): written by pulls and confirmed pushes, never by API
    #: writes. Opaque to the store but for one rule: a sync write stores the
    #: listed content's fingerprint. None: unknown. See `calsync.sync.bases`.
    base_fingerprint: Mapped[str | None] = mapped_column(String(80))
    push_state: Mapped[str] = mapped_column(String(16))  # none | pending
    pending_op: Mapped[str | None] = mapped_column(String(16))  # create | update | delete


class AccessToken(Base):
    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # access | refresh
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class ChangeLogEntry(Base):
    __tablename__ = "change_log"
    __table_args__ = (Index(None, "account_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    event_uid: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(16))  # created | updated | deleted
    source: Mapped[str] = mapped_column(String(16))  # api | sync
    updated: Mapped[datetime]
    # The version this change replaced, so a losing conflict version survives.
    previous: Mapped[Any | None] = mapped_column(JSON)


class OutboxEntry(Base):
    __tablename__ = "notification_outbox"
    __table_args__ = (Index(None, "status", "available_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class SyncCursor(Base):
    __tablename__ = "sync_cursors"

    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("calendars.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[str | None] = mapped_column(Text)
    full_sync_completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
