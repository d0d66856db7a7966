"""Helpers for tests and benchmarks that drive the fake Google server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from calsync.model import EventContent
from calsync.providers.google import GoogleProvider
from tests.fakes.google_calendar import GoogleCalendarFake


def resource_from(content: EventContent) -> dict[str, Any]:
    """An event body the way another Google client would write ``content``.

    Deliberately independent of the provider's own mapping: instants go out
    in UTC (``Z``) with the zone beside them, so the fake's re-rendering in
    local time is exercised on the way back.
    """

    def when(value: date | datetime) -> dict[str, Any]:
        if isinstance(value, datetime):
            return {
                "dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "timeZone": content.tzid,
            }
        return {"date": value.isoformat()}

    body: dict[str, Any] = {
        "summary": content.summary,
        "description": content.description,
        "start": when(content.start),
        "end": when(content.end),
        "location": content.location.description if content.location else None,
    }
    if content.recurrence:
        body["recurrence"] = list(content.recurrence)
    return body


class FakeRemote:
    """`tests.contract.provider_contract.RemoteControl` over the fake's back door."""

    def __init__(self, fake: GoogleCalendarFake) -> None:
        self.fake = fake

    def create(self, calendar_remote_id: str, content: EventContent) -> str:
        return self.fake.put_event(
            calendar_remote_id, {k: v for k, v in resource_from(content).items() if v is not None}
        )

    def update(self, calendar_remote_id: str, remote_id: str, content: EventContent) -> None:
        self.fake.patch_event(calendar_remote_id, remote_id, resource_from(content))

    def delete(self, calendar_remote_id: str, remote_id: str) -> None:
        self.fake.cancel_event(calendar_remote_id, remote_id)


def make_provider(fake: GoogleCalendarFake, **options: Any) -> GoogleProvider:
    """A provider wired to ``fake`` with a fresh refresh token and fast retries."""
    settings: dict[str, Any] = {"backoff": 0.01, **options}
    return GoogleProvider(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        refresh_token=settings.pop("refresh_token", None) or fake.issue_refresh_token(),
        token_uri=fake.token_uri,
        api_endpoint=fake.api_endpoint,
        **settings,
    )


@pytest.fixture
def google_fake() -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake() as fake:
        yield fake
