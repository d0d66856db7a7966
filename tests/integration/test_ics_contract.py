"""The generic provider contract, run against an ICS feed on a real HTTP server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from calsync.model import EventContent
from calsync.providers import _ical
from calsync.providers.ics import IcsProvider, create_ics_provider
from tests.contract.provider_contract import ProviderContract
from tests.fixtures.feeds import FeedServer

FEED = "team.ics"

#: Always in the feed, so the contract's edits never leave it empty: an empty feed
#: is deliberately not a complete listing, so "delete the last event" would not be
#: seen. A to-do is not listed as an event, so the contract cannot delete it.
ANCHOR = "\r\n".join(
    [
        "BEGIN:VTODO",
        "UID:anchor@feed",
        "DTSTAMP:20260101T000000Z",
        "SUMMARY:Anchor",
        "END:VTODO",
        "",
    ]
)


class FeedRemote:
    """Whoever publishes the feed: rewrites the whole file on every edit."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.events: dict[str, EventContent] = {}
        self._publish()

    def _publish(self) -> None:
        vevents = [
            _ical.new_vevent(uid, content, origin_event_uid=None)
            for uid, content in self.events.items()
        ]
        text = _ical.serialize(_ical.calendar_of(vevents)).decode()
        self.server.write(FEED, text.replace("END:VCALENDAR", ANCHOR + "END:VCALENDAR"))

    def create(self, calendar_remote_id: str, content: EventContent) -> str:
        uid = f"{uuid.uuid4()}@feed"
        self.events[uid] = content
        self._publish()
        return uid

    def update(self, calendar_remote_id: str, remote_id: str, content: EventContent) -> None:
        self.events[remote_id] = content
        self._publish()

    def delete(self, calendar_remote_id: str, remote_id: str) -> None:
        del self.events[remote_id]
        self._publish()


class TestIcsContract(ProviderContract):
    remote_edit_examples = 10

    @pytest.fixture
    def remote(self, feed_server: FeedServer) -> FeedRemote:
        return FeedRemote(feed_server)

    @pytest.fixture
    def provider(self, feed_server: FeedServer, remote: FeedRemote) -> Iterator[IcsProvider]:
        provider = create_ics_provider("feed", {"url": feed_server.url(FEED)})
        yield provider
        provider.close()
