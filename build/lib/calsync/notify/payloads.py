"""Notification bodies, as Cronofy sends them.

``changes_since`` is the ``last_modified`` value that makes Read Events
return every change a notification covers: ``last_modified`` is inclusive
with whole-second resolution, so the earliest covered ``updated`` is floored
to the second.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from calsync.store.channel_records import ChannelRecord, DeliveryRecord
from calsync.store.profile_events import (
    PROFILE_DISCONNECTED,
    PROFILE_INITIAL_SYNC_COMPLETED,
    PROFILE_KINDS,
)

__all__ = [
    "CHANGE",
    "PROFILE_DISCONNECTED",
    "PROFILE_INITIAL_SYNC_COMPLETED",
    "PROFILE_KINDS",
    "VERIFICATION",
    "channel_json",
    "format_changes_since",
    "notification_body",
]

VERIFICATION = "verification"
CHANGE = "change"


def format_changes_since(updated: datetime) -> str:
    """Floor to the second, UTC, ``…Z``: inclusive reads from it see ``updated``."""
    return updated.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def channel_json(channel: ChannelRecord) -> dict[str, Any]:
    return {
        "channel_id": channel.channel_id,
        "callback_url": channel.callback_url,
        "filters": dict(channel.filters),
    }


def notification_body(channel: ChannelRecord, delivery: DeliveryRecord) -> bytes:
    """The exact bytes POSTed (and signed). Stable across retries of one delivery."""
    notification: dict[str, Any] = {"type": delivery.kind}
    if delivery.changes_since is not None:
        notification["changes_since"] = format_changes_since(delivery.changes_since)
    if delivery.kind in PROFILE_KINDS and delivery.payload:
        notification["profile"] = dict(delivery.payload)
    body = {"notification": notification, "channel": channel_json(channel)}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
