"""Shared harness of the Google push channel tests.

A fake Google server, a real uvicorn API over a real store (SQLite and
PostgreSQL), a `SyncEngine` and a `ProviderPushManager` wired the way the
daemon wires them, except that a notification's sync runs right after the
response (as a background task) instead of as a scheduler job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from calsync.api.provider_push import install_provider_push
from calsync.config import AccountSettings, Settings
from calsync.notify.provider_push import ProviderPushManager, PushTarget
from calsync.notify.provider_push_jobs import engine_trigger
from calsync.providers.base import Provider
from calsync.store import CalendarRecord, Store
from calsync.store.repos.provider_channels import ProviderChannelRecord
from calsync.sync import SyncEngine
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import make_provider
from tests.fixtures.api import ApiServer, get, run_api_server

CAL = "work@example.com"
OTHER_CAL = "team@example.com"
ACCOUNT = "google-work"


class Clock:
    """Wall-clock time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def timed(summary: str, start: datetime, minutes: int = 60) -> dict[str, object]:
    end = start + timedelta(minutes=minutes)
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.isoformat(), "timeZone": "UTC"},
    }


@dataclass
class PushWorld:
    fake: GoogleCalendarFake
    server: ApiServer
    http: httpx.Client
    account: AccountSettings
    engine: SyncEngine
    manager: ProviderPushManager
    clock: Clock
    settings: Settings
    #: Every calendar a notification asked to sync, in order.
    pushed: list[PushTarget] = field(default_factory=list)
    token: str = ""

    @property
    def store(self) -> Store:
        return self.server.store

    def current_settings(self) -> Settings:
        return self.settings

    def rows(self) -> list[ProviderChannelRecord]:
        with self.store.read() as uow:
            return uow.provider_channels.list()

    def event_summaries(self) -> set[str]:
        now = datetime.now(UTC)
        params = {
            "tzid": "Etc/UTC",
            "from": (now - timedelta(days=1)).date().isoformat(),
            "to": (now + timedelta(days=30)).date().isoformat(),
        }
        response = get(self.http, "/v1/events", self.token, params=params)
        assert response.status_code == 200, response.text
        return {e["summary"] for e in response.json()["events"]}

    def calendar(self, remote_id: str) -> CalendarRecord:
        with self.store.read() as uow:
            account = uow.accounts.find_by_name(self.account.name)
            assert account is not None
            (found,) = [c for c in uow.calendars.list(account.pk) if c.remote_id == remote_id]
            return found

    def notify(self, headers: Mapping[str, str]) -> httpx.Response:
        return self.http.post("/push/google", headers=dict(headers), content=b"")


@pytest.fixture
def push_world(store_url: str) -> Iterator[PushWorld]:
    with (
        GoogleCalendarFake() as fake,
        run_api_server(store_url) as server,
        httpx.Client(base_url=server.base_url, timeout=15) as http,
    ):
        fake.add_calendar("Work", calendar_id=CAL, primary=True, time_zone="UTC")
        fake.add_calendar("Team", calendar_id=OTHER_CAL, time_zone="UTC")
        account = AccountSettings(
            name=ACCOUNT,
            provider="google",
            interval=None,
            conflict="remote",
            enabled=True,
            options={},
        )
        settings = replace(server.settings, accounts=(account,))
        refresh_token = fake.issue_refresh_token()

        def factory(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
            assert name == "google" and account_name == ACCOUNT
            return make_provider(fake, refresh_token=refresh_token)

        clock = Clock()
        engine = SyncEngine(server.store, settings, provider_factory=factory)
        world = PushWorld(
            fake=fake,
            server=server,
            http=http,
            account=account,
            engine=engine,
            manager=ProviderPushManager(
                server.store,
                lambda: world.current_settings(),
                factory,
                ttl=timedelta(minutes=10),
                renew_before=timedelta(hours=1),
                clock=clock,
            ),
            clock=clock,
            settings=settings,
        )
        sync_now = engine_trigger(server.store, lambda: engine, world.current_settings)

        def on_change(target: PushTarget) -> None:
            world.pushed.append(target)
            sync_now(target)

        install_provider_push(server.app, world.manager, on_change)
        report = engine.sync_account(account)
        assert report.error is None, report
        with server.store.write() as uow:
            record = uow.accounts.find_by_name(ACCOUNT)
            assert record is not None
            world.token = uow.tokens.issue(record.pk, "access", timedelta(hours=1))
        yield world
