"""Provider push channels: rows only; the lifecycle lives in `calsync.notify.provider_push`."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from calsync.store.journal import Journal
from calsync.store.provider_channels_models import ProviderChannel
from calsync.store.sql import chunks, utcnow


@dataclass(frozen=True, slots=True)
class ProviderChannelRecord:
    pk: int
    channel_id: str
    calendar_pk: int
    #: None while the provider has not yet answered the watch request.
    resource_id: str | None
    token_hash: str
    address: str
    expiration: datetime | None
    created_at: datetime

    @property
    def pending(self) -> bool:
        return self.resource_id is None


def provider_channel_record(row: ProviderChannel) -> ProviderChannelRecord:
    return ProviderChannelRecord(
        pk=row.id,
        channel_id=row.channel_id,
        calendar_pk=row.calendar_id,
        resource_id=row.resource_id,
        token_hash=row.token_hash,
        address=row.address,
        expiration=row.expiration,
        created_at=row.created_at,
    )


class ProviderChannelRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def add_pending(
        self, calendar_pk: int, channel_id: str, token_hash: str, address: str
    ) -> ProviderChannelRecord:
        """Record a channel about to be requested (before the provider's handshake arrives)."""
        self._journal.require_writable()
        row = ProviderChannel(
            channel_id=channel_id,
            calendar_id=calendar_pk,
            resource_id=None,
            token_hash=token_hash,
            address=address,
            expiration=None,
            created_at=utcnow(),
        )
        self._session.add(row)
        self._session.flush()
        return provider_channel_record(row)

    def activate(
        self, channel_id: str, resource_id: str, expiration: datetime | None
    ) -> ProviderChannelRecord | None:
        """Store what the provider answered; None when the row is gone meanwhile."""
        self._journal.require_writable()
        row = self._row(channel_id)
        if row is None:
            return None
        row.resource_id = resource_id
        row.expiration = expiration
        self._session.flush()
        return provider_channel_record(row)

    def get(self, channel_id: str) -> ProviderChannelRecord | None:
        row = self._row(channel_id)
        return None if row is None else provider_channel_record(row)

    def list(
        self, calendar_pks: Iterable[int] | None = None
    ) -> builtins.list[ProviderChannelRecord]:
        """Every channel (of the given calendars), newest first."""
        order = (ProviderChannel.created_at.desc(), ProviderChannel.id.desc())
        if calendar_pks is None:
            rows = self._session.scalars(select(ProviderChannel).order_by(*order)).all()
            return [provider_channel_record(r) for r in rows]
        found: builtins.list[ProviderChannelRecord] = []
        for chunk in chunks(builtins.list(calendar_pks)):
            query = select(ProviderChannel).where(ProviderChannel.calendar_id.in_(chunk))
            found += [provider_channel_record(r) for r in self._session.scalars(query)]
        found.sort(key=lambda r: (r.created_at, r.pk), reverse=True)
        return found

    def delete(self, channel_id: str) -> bool:
        self._journal.require_writable()
        result = self._session.execute(
            delete(ProviderChannel).where(ProviderChannel.channel_id == channel_id)
        )
        return bool(getattr(result, "rowcount", 0))

    def _row(self, channel_id: str) -> ProviderChannel | None:
        return self._session.scalars(
            select(ProviderChannel).where(ProviderChannel.channel_id == channel_id)
        ).one_or_none()
