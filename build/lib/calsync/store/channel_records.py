"""Frozen records of notification channels and deliveries (see `channels_models`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    pk: int
    channel_id: str
    account_pk: int
    callback_url: str
    filters: dict[str, Any]
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failure_count: int
    failing_since: datetime | None
    last_error: str | None
    #: When the channel's next delivery is attempted: its oldest pending delivery's
    #: ``next_attempt_at`` (deliveries go out in order; see `ChannelRepo.claim`).
    next_attempt_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    pk: int
    webhook_id: str
    channel_pk: int
    kind: str
    changes_since: datetime | None
    first_seq: int | None
    last_seq: int | None
    change_count: int
    payload: dict[str, Any] | None
    status: str  # "pending" | "delivered" | "failed"
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    leased_by: str | None
    last_error: str | None
    last_status: int | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A leased delivery with the channel it goes to."""

    delivery: DeliveryRecord
    channel: ChannelRecord


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """What fan-out shows the matcher about one outbox row."""

    account_pk: int
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The result of one POST, applied by `ChannelRepo.record_outcomes`.

    ``retry_at`` None with ``delivered`` False gives up on the delivery;
    ``disable_reason`` also disables the channel.
    """

    delivery_pk: int
    worker: str
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    disable_reason: str | None = None
