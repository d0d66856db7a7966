"""Notification bodies, changes_since, and channel filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import ValidationError
from calsync.notify.filters import channel_fingerprint, channel_wants, normalize_filters
from calsync.notify.payloads import format_changes_since, notification_body
from calsync.store.channel_records import ChannelRecord, DeliveryRecord, OutboxItem

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def channel(filters: dict[str, Any] | None = None, account_pk: int = 1) -> ChannelRecord:
    return ChannelRecord(
        pk=1, channel_id="chn_1", account_pk=account_pk, callback_url="https://h.example/cb",
        filters=filters or {}, created_at=NOW, disabled_at=None, disabled_reason=None,
        last_success_at=None, last_failure_at=None, failure_count=0, failing_since=None,
        last_error=None,
    )  # fmt: skip


def delivery(kind: str, since: datetime | None = None) -> DeliveryRecord:
    return DeliveryRecord(
        pk=1, webhook_id="msg_1", channel_pk=1, kind=kind, changes_since=since, first_seq=1,
        last_seq=2, change_count=2, payload={"profile_id": "pro_1"}, status="pending",
        attempts=0, next_attempt_at=NOW, lease_until=None, leased_by=None, last_error=None,
        last_status=None, created_at=NOW, delivered_at=None,
    )  # fmt: skip


@given(st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)))
def test_changes_since_is_the_inclusive_whole_second_floor(updated: datetime) -> None:
    text = format_changes_since(updated)
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    # last_modified is inclusive with whole seconds: a read from `parsed` sees `updated`.
    assert parsed <= updated < parsed + timedelta(seconds=1)


def test_change_body_shape_is_cronofy_and_stable() -> None:
    since = NOW + timedelta(microseconds=999_999)
    body = notification_body(channel(), delivery("change", since))
    assert json.loads(body) == {
        "notification": {"type": "change", "changes_since": "2026-11-21T12:00:00Z"},
        "channel": {"channel_id": "chn_1", "callback_url": "https://h.example/cb", "filters": {}},
    }
    assert body == notification_body(channel(), delivery("change", since))


def test_verification_and_profile_bodies() -> None:
    assert json.loads(notification_body(channel(), delivery("verification")))["notification"] == {
        "type": "verification"
    }
    profile = json.loads(notification_body(channel(), delivery("profile_disconnected")))
    assert profile["notification"] == {
        "type": "profile_disconnected",
        "profile": {"profile_id": "pro_1"},
    }


def test_filters_normalise_to_one_fingerprint() -> None:
    a = normalize_filters({"calendar_ids": ["cal_b", "cal_a", "cal_b"], "only_managed": False})
    b = normalize_filters({"calendar_ids": ["cal_a", "cal_b"]})
    assert a == b == {"calendar_ids": ["cal_a", "cal_b"]}
    assert channel_fingerprint("u", a) == channel_fingerprint("u", b)
    assert channel_fingerprint("u", a) != channel_fingerprint("v", a)
    assert normalize_filters(None) == normalize_filters({}) == {}
    assert normalize_filters({"only_managed": "True"}) == {"only_managed": True}


@pytest.mark.parametrize(
    "raw",
    [[], {"calendar_ids": "cal_a"}, {"calendar_ids": [1]}, {"only_managed": "yes"}],
)
def test_bad_filters_are_422(raw: Any) -> None:
    with pytest.raises(ValidationError):
        normalize_filters(raw)


def change(calendar_id: str, managed: bool, account_pk: int = 1) -> OutboxItem:
    return OutboxItem(account_pk, "change", {"calendar_id": calendar_id, "managed": managed})


def test_channel_wants() -> None:
    everything = channel()
    assert channel_wants(everything, change("cal_a", False))
    assert not channel_wants(everything, change("cal_a", True, account_pk=2))
    only_a = channel({"calendar_ids": ["cal_a"]})
    assert channel_wants(only_a, change("cal_a", False))
    assert not channel_wants(only_a, change("cal_b", True))
    managed = channel({"only_managed": True})
    assert channel_wants(managed, change("cal_b", True))
    assert not channel_wants(managed, change("cal_b", False))
    assert channel_wants(only_a, OutboxItem(1, "profile_disconnected", {}))
    assert not channel_wants(everything, OutboxItem(1, "something_else", {}))
