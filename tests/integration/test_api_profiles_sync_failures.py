"""Sync failures seen through the API: a 401 in /v1/profiles, any calendar error in /metrics.

Both go through the real path: a memory-provider account synced into the API's
store by a `SyncEngine`, then read over HTTP from a real uvicorn server
(SQLite and PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from calsync.config import AccountSettings
from calsync.errors import CredentialsInvalid
from calsync.model import EventContent
from calsync.providers.memory import MemoryBackend, drop_backend, get_backend
from calsync.store import CalendarRecord
from calsync.store.repos.tokens import ACCESS
from calsync.sync import SyncEngine
from tests.fixtures.api import CLIENT_SECRET, ApiServer, cronofy_client, get
from tests.fixtures.store import memory_account

#: /metrics is an operator endpoint: the API client secret is its bearer token.
OPERATOR = {"Authorization": f"Bearer {CLIENT_SECRET}"}
START = datetime(2026, 6, 1, 9, tzinfo=UTC)


def content(summary: str, day: int) -> EventContent:
    start = START + timedelta(days=day)
    return EventContent(summary=summary, start=start, end=start + timedelta(hours=1))


@dataclass
class SyncedAccount:
    """One memory-provider account, synced into the API server's store."""

    server: ApiServer
    account: AccountSettings
    backend: MemoryBackend
    engine: SyncEngine
    now: datetime = datetime(2026, 5, 1, tzinfo=UTC)

    def sync(self, *, allow_mass_delete: bool = False, retry_refused: bool = False) -> bool:
        report = self.engine.sync_account(
            self.account, allow_mass_delete=allow_mass_delete, retry_refused=retry_refused
        )
        # Each step stands alone: never let one failure's backoff skip the next pass.
        self.now = max(self.now, report.retry_at or self.now) + timedelta(seconds=1)
        return report.ok

    def calendars(self) -> dict[str, CalendarRecord]:
        with self.server.store.read() as uow:
            found = uow.accounts.find_by_name(self.account.name)
            assert found is not None
            return {c.name: c for c in uow.calendars.list(found.pk)}

    def access_token(self) -> str:
        with self.server.store.write() as uow:
            found = uow.accounts.find_by_name(self.account.name)
            assert found is not None
            return uow.tokens.issue(found.pk, ACCESS, timedelta(hours=1))


@pytest.fixture
def synced(api_server: ApiServer) -> Iterator[SyncedAccount]:
    name = f"acct-{uuid.uuid4().hex[:12]}"
    drop_backend(name)
    account = memory_account(name, ["Work", "Home"], page_size=50)
    settings = replace(api_server.settings, accounts=(account,))
    holder: list[SyncedAccount] = []
    engine = SyncEngine(api_server.store, settings, clock=lambda: holder[0].now)
    holder.append(SyncedAccount(api_server, account, get_backend(name), engine))
    yield holder[0]
    drop_backend(name)


def _profiles(http: httpx.Client, token: str) -> list[dict[str, object]]:
    response = get(http, "/v1/profiles", token)
    assert response.status_code == 200, response.text
    profiles: list[dict[str, object]] = response.json()["profiles"]
    return profiles


def test_a_401_during_sync_shows_the_profile_disconnected(
    synced: SyncedAccount, http: httpx.Client
) -> None:
    assert synced.sync()
    token = synced.access_token()
    (before,) = _profiles(http, token)
    assert before["profile_connected"] is True

    synced.backend.fail_next_pulls(1, CredentialsInvalid("401 Unauthorized from the server"))
    assert not synced.sync()
    (after,) = _profiles(http, token)
    assert after["profile_id"] == before["profile_id"]
    assert after["profile_connected"] is False
    # No relink flow exists yet, so no relink URL (it used to point at a 404).
    assert "profile_relink_url" not in after

    # pycronofy reads the same list (``["profiles"]``) without complaint.
    client = cronofy_client(synced.server.base_url, access_token=token)
    (listed,) = client.list_profiles()
    assert listed["profile_connected"] is False

    assert not synced.sync()  # refused credentials are not sent again by themselves
    assert synced.sync(retry_refused=True)  # the operator asked; they work again
    (reconnected,) = _profiles(http, token)
    assert reconnected["profile_connected"] is True


def _error_gauges(http: httpx.Client) -> dict[str, float]:
    response = http.get("/metrics", headers=OPERATOR)
    assert response.status_code == 200, response.text
    gauges: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith("calsync_calendar_sync_error{"):
            labels, _, value = line.rpartition(" ")
            calendar_id = labels.split('calendar_id="', 1)[1].split('"', 1)[0]
            gauges[calendar_id] = float(value)
    return gauges


def test_the_mass_delete_guard_shows_in_metrics_until_the_calendar_syncs_again(
    synced: SyncedAccount, http: httpx.Client
) -> None:
    work = synced.backend.ensure_calendar("Work")
    synced.sync()  # discovers both calendars
    ids = [synced.backend.remote_upsert(work, content(f"e{i}", i)).remote_id for i in range(4)]
    assert synced.sync()
    calendars = synced.calendars()
    work_id, home_id = calendars["Work"].calendar_id, calendars["Home"].calendar_id
    assert _error_gauges(http) == {work_id: 0.0, home_id: 0.0}

    for remote_id in ids[:3]:  # 3 of 4 > max_delete_fraction 0.5: the guard refuses
        assert synced.backend.remote_delete(work, remote_id)
    assert not synced.sync()
    assert "would delete" in (synced.calendars()["Work"].last_error or "")
    assert _error_gauges(http) == {work_id: 1.0, home_id: 0.0}

    assert synced.sync(allow_mass_delete=True)
    assert _error_gauges(http) == {work_id: 0.0, home_id: 0.0}


def test_any_last_error_set_through_the_store_shows_in_metrics(
    synced: SyncedAccount, http: httpx.Client
) -> None:
    assert synced.sync()
    calendars = synced.calendars()
    with synced.server.store.write() as uow:
        uow.calendars.set_sync_status(
            calendars["Home"].pk, last_sync_at=None, last_error="502 from the server"
        )
    gauges = _error_gauges(http)
    assert gauges == {calendars["Work"].calendar_id: 0.0, calendars["Home"].calendar_id: 1.0}
