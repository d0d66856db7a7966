"""The generic provider contract, run against CalDAV on a real Radicale."""

from __future__ import annotations

import uuid

import pytest

from calsync.model import EventContent
from calsync.providers import _ical
from calsync.providers.base import Provider
from calsync.providers.caldav import CalDAVProvider
from tests.contract.provider_contract import ProviderContract
from tests.fixtures.radicale import RadicaleCalendar, make_caldav_provider


class RadicaleRemote:
    """Another CalDAV client editing the same calendar with plain PUT/DELETE."""

    def __init__(self, calendar: RadicaleCalendar) -> None:
        self.calendar = calendar

    def _body(self, uid: str, content: EventContent) -> bytes:
        vevent = _ical.new_vevent(uid, content, origin_event_uid=None)
        return _ical.serialize(_ical.calendar_of([vevent]))

    def create(self, calendar_remote_id: str, content: EventContent) -> str:
        uid = f"{uuid.uuid4()}@elsewhere"
        return self.calendar.put(f"{uid}.ics", self._body(uid, content))

    def update(self, calendar_remote_id: str, remote_id: str, content: EventContent) -> None:
        name = remote_id.rpartition("/")[2]
        self.calendar.put(name, self._body(name.removesuffix(".ics"), content))

    def delete(self, calendar_remote_id: str, remote_id: str) -> None:
        self.calendar.delete(remote_id.rpartition("/")[2])


class TestCalDAVContract(ProviderContract):
    remote_edit_examples = 8

    @pytest.fixture
    def provider(self, radicale_calendar: RadicaleCalendar) -> CalDAVProvider:
        return make_caldav_provider(radicale_calendar)

    @pytest.fixture
    def remote(self, radicale_calendar: RadicaleCalendar) -> RadicaleRemote:
        return RadicaleRemote(radicale_calendar)

    @pytest.fixture
    def calendar_id(self, provider: Provider, radicale_calendar: RadicaleCalendar) -> str:
        return radicale_calendar.url


class TestCalDAVFallbackContract(TestCalDAVContract):
    """The same contract with sync-collection off: ctag + etag comparison."""

    @pytest.fixture
    def provider(self, radicale_calendar: RadicaleCalendar) -> CalDAVProvider:
        return make_caldav_provider(radicale_calendar, sync_collection=False)
