"""An account's Google access token lasts across passes and push-triggered syncs.

The engine builds a provider per pass; each one used to POST to the token
endpoint before its first request. The credentials are now kept per account
until they expire (or a request meets 401), so several passes cost one token.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from calsync.config import AccountSettings, Settings
from calsync.providers.base import Provider
from calsync.store import Store
from calsync.sync import SyncEngine
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import make_provider
from tests.fixtures.api import make_settings

CAL = "work@example.com"
ACCOUNT = AccountSettings(
    name="google-tokens",
    provider="google",
    interval=None,
    conflict="remote",
    enabled=True,
    options={},
)


@pytest.fixture
def fake() -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake() as running:
        running.add_calendar("Work", calendar_id=CAL, primary=True, time_zone="UTC")
        yield running


def engine_for(store: Store, store_url: str, fake: GoogleCalendarFake) -> SyncEngine:
    refresh_token = fake.issue_refresh_token()
    settings: Settings = make_settings(store_url, "http://127.0.0.1:9", 9)

    def factory(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
        return make_provider(fake, refresh_token=refresh_token)

    return SyncEngine(store, settings, provider_factory=factory)


def test_passes_and_targeted_syncs_share_one_access_token(
    store: Store, store_url: str, fake: GoogleCalendarFake
) -> None:
    engine = engine_for(store, store_url, fake)
    for _ in range(3):
        assert engine.sync_account(ACCOUNT).ok
    with store.read() as uow:
        account = uow.accounts.find_by_name(ACCOUNT.name)
        assert account is not None
        (calendar,) = uow.calendars.list(account.pk)
    assert engine.sync_calendars(ACCOUNT, [calendar]).ok  # what a Google push triggers

    assert fake.count("POST", "/token") == 1
    assert fake.count("GET", "/events") == 4


def test_a_token_the_server_no_longer_accepts_is_refreshed_once(
    store: Store, store_url: str, fake: GoogleCalendarFake
) -> None:
    engine = engine_for(store, store_url, fake)
    assert engine.sync_account(ACCOUNT).ok
    fake.expire_access_tokens()
    assert engine.sync_account(ACCOUNT).ok
    assert engine.sync_account(ACCOUNT).ok
    assert fake.count("POST", "/token") == 2
