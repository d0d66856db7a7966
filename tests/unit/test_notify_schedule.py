"""Retry schedule, jitter, Retry-After and the 3-day disable rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calsync.notify.schedule import STANDARD_SCHEDULE, RetryPolicy, parse_retry_after

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_the_standard_webhooks_schedule() -> None:
    assert [int(d.total_seconds()) for d in STANDARD_SCHEDULE] == [
        5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400,
    ]  # fmt: skip


@given(st.integers(1, 30), st.floats(0, 1, exclude_max=True))
def test_delay_is_the_step_within_ten_percent(attempts: int, r: float) -> None:
    policy = RetryPolicy(random=lambda: r)
    step = STANDARD_SCHEDULE[min(attempts, len(STANDARD_SCHEDULE)) - 1]
    delay = policy.delay(attempts)
    assert step * 0.9 <= delay <= step * 1.1


@given(st.integers(1, 7))  # 20 h +10 % overlaps 24 h -10 %: only the means grow there
def test_delays_grow(attempts: int) -> None:
    low, high = RetryPolicy(random=lambda: 0.999), RetryPolicy(random=lambda: 0.0)
    assert low.delay(attempts) < high.delay(attempts + 1)


def test_retry_after_extends_but_never_shortens_and_is_capped() -> None:
    policy = RetryPolicy(jitter=0)
    assert policy.delay(1, timedelta(seconds=60)) == timedelta(seconds=60)
    assert policy.delay(2, timedelta(seconds=60)) == timedelta(minutes=5)
    assert policy.delay(1, timedelta(days=9)) == timedelta(days=1)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after("Sat, 21 Nov 2026 12:10:00 GMT", NOW) == timedelta(minutes=10)
    assert parse_retry_after("Sat, 21 Nov 2026 11:00:00 GMT", NOW) == timedelta(0)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_disable_after_three_days_of_failure() -> None:
    policy = RetryPolicy()
    assert not policy.should_disable(None, NOW)
    assert not policy.should_disable(NOW - timedelta(days=3), NOW)
    assert policy.should_disable(NOW - timedelta(days=3, seconds=1), NOW)
