"""Channel health for ``GET /v1/channels`` and for Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from calsync.notify.payloads import channel_json
from calsync.store import Store
from calsync.store.channel_records import ChannelRecord


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def channel_status_json(channel: ChannelRecord) -> dict[str, Any]:
    """A channel as the API lists it: Cronofy's fields plus calsync's ``status``."""
    return {
        **channel_json(channel),
        "status": {
            "last_success_at": _time(channel.last_success_at),
            "failure_count": channel.failure_count,
            "next_attempt_at": _time(channel.next_attempt_at),
            "disabled": channel.disabled,
            "disabled_reason": channel.disabled_reason,
            "last_error": channel.last_error,
        },
    }


def channel_statuses(store: Store) -> list[ChannelRecord]:
    """Every channel of every account, with its delivery status."""
    with store.read() as uow:
        return uow.channels.list()


class ChannelCollector(Collector):
    """Per-channel gauges; register with ``registry.register(ChannelCollector(store))``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        labels = ["channel_id"]
        failures = GaugeMetricFamily(
            "calsync_notify_channel_failures", "Consecutive failed deliveries.", labels=labels
        )
        success = GaugeMetricFamily(
            "calsync_notify_channel_last_success_timestamp_seconds",
            "Time of the last delivery answered 2xx.",
            labels=labels,
        )
        next_attempt = GaugeMetricFamily(
            "calsync_notify_channel_next_attempt_timestamp_seconds",
            "When the next pending delivery is due.",
            labels=labels,
        )
        disabled = GaugeMetricFamily(
            "calsync_notify_channel_disabled", "1 when the channel was disabled.", labels=labels
        )
        for channel in channel_statuses(self._store):
            key = [channel.channel_id]
            failures.add_metric(key, channel.failure_count)
            disabled.add_metric(key, 1.0 if channel.disabled else 0.0)
            if channel.last_success_at is not None:
                success.add_metric(key, channel.last_success_at.timestamp())
            if channel.next_attempt_at is not None:
                next_attempt.add_metric(key, channel.next_attempt_at.timestamp())
        yield from (failures, success, next_attempt, disabled)
