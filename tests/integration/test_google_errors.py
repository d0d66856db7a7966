"""Google provider error handling against the fake: rate limits, 5xx, 400, auth, refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from calsync.errors import (
    CredentialsInvalid,
    ProviderError,
    RateLimited,
    TransientProviderError,
)
from calsync.providers.base import SyncWindow
from calsync.providers.google import GoogleProvider
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import google_fake, make_provider

__all__ = ["google_fake"]


@pytest.fixture
def fake(google_fake: GoogleCalendarFake) -> GoogleCalendarFake:
    google_fake.add_calendar("Work", calendar_id="work@example.com", primary=True)
    return google_fake


@pytest.fixture
def provider(fake: GoogleCalendarFake) -> GoogleProvider:
    provider = make_provider(fake, retries=2)
    provider.list_calendars()  # fetch the first access token
    return provider


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
        (403, "quotaExceeded"),
        (429, "rateLimitExceeded"),
    ],
)
def test_rate_limits_raise_rate_limited_with_retry_after_and_no_retry(
    fake: GoogleCalendarFake, provider: GoogleProvider, status: int, reason: str
) -> None:
    before = fake.count()
    fake.fail_next(status, reason, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        provider.list_calendars()
    assert caught.value.retry_after == 7.0
    assert fake.count() == before + 1, "a rate limit is not retried inside the provider"


def test_rate_limit_without_retry_after(fake: GoogleCalendarFake, provider: GoogleProvider) -> None:
    fake.fail_next(429)
    with pytest.raises(RateLimited) as caught:
        provider.list_calendars()
    assert caught.value.retry_after is None


def test_other_403_is_not_a_rate_limit(fake: GoogleCalendarFake, provider: GoogleProvider) -> None:
    fake.fail_next(403, "forbidden", domain="global")
    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()
    assert not isinstance(caught.value, RateLimited)


def test_5xx_is_retried_then_succeeds(fake: GoogleCalendarFake, provider: GoogleProvider) -> None:
    before = fake.count()
    fake.fail_next(500, "backendError", count=2)
    assert provider.list_calendars()
    assert fake.count() == before + 3


def test_persistent_5xx_becomes_transient_error(
    fake: GoogleCalendarFake, provider: GoogleProvider
) -> None:
    before = fake.count()
    fake.fail_next(503, "backendError", count=10)
    with pytest.raises(TransientProviderError):
        provider.list_calendars()
    assert fake.count() == before + 3, "retries=2 means three attempts"


def test_400_is_never_retried(fake: GoogleCalendarFake, provider: GoogleProvider) -> None:
    before = fake.count()
    fake.fail_next(400, "badRequest")
    with pytest.raises(ProviderError) as caught:
        provider.list_calendars()
    assert not isinstance(caught.value, TransientProviderError | RateLimited)
    assert fake.count() == before + 1


def test_expired_access_token_is_refreshed_on_401(
    fake: GoogleCalendarFake, provider: GoogleProvider
) -> None:
    assert fake.count("POST", "/token") == 1
    fake.expire_access_tokens()
    assert [c.remote_id for c in provider.list_calendars()] == ["work@example.com"]
    assert fake.count("POST", "/token") == 2
    statuses = [r.status for r in fake.requests if r.path.endswith("calendarList")]
    assert statuses[-2:] == [401, 200]


def test_refused_refresh_is_credentials_invalid(
    fake: GoogleCalendarFake, provider: GoogleProvider
) -> None:
    fake.revoke_refresh_tokens()
    with pytest.raises(CredentialsInvalid):
        provider.list_calendars()


def test_unknown_refresh_token_is_credentials_invalid(fake: GoogleCalendarFake) -> None:
    provider = make_provider(fake, refresh_token="1//not-a-token")
    with pytest.raises(CredentialsInvalid):
        list(provider.pull("work@example.com", None, _window()))


def _window() -> SyncWindow:
    return SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("reason", "domain"),
    [
        ("dailyLimitExceeded", "usageLimits"),
        ("variableTermLimitExceeded", "usageLimits"),  # any reason in the domain
        ("rateLimitExceeded", "global"),  # a quota reason in any domain
        ("userRateLimitExceeded", "global"),
        ("quotaExceeded", "global"),
    ],
)
def test_403_usage_limits_domain_or_quota_reason_is_rate_limited(
    fake: GoogleCalendarFake, provider: GoogleProvider, reason: str, domain: str
) -> None:
    fake.fail_next(403, reason, domain=domain, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        provider.list_calendars()
    assert caught.value.retry_after == 3.0


def test_retry_after_as_http_date_is_honoured(
    fake: GoogleCalendarFake, provider: GoogleProvider
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    fake.fail_next(429, retry_after=format_datetime(when, usegmt=True))
    with pytest.raises(RateLimited) as caught:
        provider.list_calendars()
    assert caught.value.retry_after is not None
    assert 100 <= caught.value.retry_after <= 120


def test_retry_after_date_in_the_past_means_now(
    fake: GoogleCalendarFake, provider: GoogleProvider
) -> None:
    fake.fail_next(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    with pytest.raises(RateLimited) as caught:
        provider.list_calendars()
    assert caught.value.retry_after == 0.0
