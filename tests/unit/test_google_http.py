"""Pure parts of the Google error mapping: Retry-After parsing and the rate-limit rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from calsync.providers._google_http import is_rate_limit, parse_retry_after

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=10**6))
def test_delay_seconds_are_taken_as_given(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == float(seconds)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_http_date_is_the_time_until_then_never_negative(offset: int) -> None:
    value = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(value, NOW) == max(0.0, float(offset))


def test_obsolete_date_forms_and_garbage() -> None:
    assert parse_retry_after("Sat, 21 Nov 2026 12:01:00 -0000", NOW) == 60.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("-5", NOW) == 0.0


def test_rate_limit_rule() -> None:
    assert is_rate_limit(429, (), ())
    assert is_rate_limit(403, ("dailyLimitExceeded",), ("usageLimits",))
    assert is_rate_limit(403, ("anything",), ("usageLimits",))
    assert is_rate_limit(403, ("userRateLimitExceeded",), ("global",))
    assert not is_rate_limit(403, ("forbidden",), ("global",))
    assert not is_rate_limit(403, ("insufficientPermissions",), ("global",))
    assert not is_rate_limit(400, ("rateLimitExceeded",), ("usageLimits",))
