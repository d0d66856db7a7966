"""Helpers for tests and benchmarks that drive the Microsoft provider against the Graph fake."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from calsync.ids import new_id
from calsync.model import EventContent
from calsync.providers._graph_auth import GraphAuth
from calsync.providers.microsoft import MicrosoftProvider
from tests.fakes.graph_testing import when
from tests.fakes.microsoft_graph import MicrosoftGraphFake


def graph_zone(tzid: str) -> str:
    """The zone another Graph client would name (the fake takes IANA names it documents)."""
    return "UTC" if tzid in ("Etc/UTC", "UTC") else tzid


def body_from(content: EventContent) -> dict[str, Any]:
    """A Graph event body the way another client would write ``content``.

    Deliberately independent of the provider's mapping: zones are IANA names (the
    provider sends Windows names), bodies are HTML.
    """

    def at(value: date | datetime, zone: str) -> dict[str, str]:
        if isinstance(value, datetime):
            return when(value, zone)
        return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": zone}

    zone = "UTC" if content.all_day else graph_zone(content.tzid)
    body: dict[str, Any] = {
        "subject": content.summary,
        "body": {"contentType": "text", "content": content.description},
        "start": at(content.start, zone),
        "end": at(content.end, zone),
    }
    if content.all_day:
        body["isAllDay"] = True
    if content.location is not None and content.location.description:
        body["location"] = {"displayName": content.location.description}
    if content.transparency == "transparent":
        body["showAs"] = "free"
    elif content.status == "tentative":
        body["showAs"] = "tentative"
    return body


class FakeRemote:
    """`tests.contract.provider_contract.RemoteControl` over the fake's back door."""

    def __init__(self, fake: MicrosoftGraphFake) -> None:
        self.fake = fake

    def create(self, calendar_remote_id: str, content: EventContent) -> str:
        return self.fake.put_event(calendar_remote_id, body_from(content))

    def update(self, calendar_remote_id: str, remote_id: str, content: EventContent) -> None:
        body = body_from(content)
        body.setdefault("location", None)
        body.setdefault("showAs", "busy")
        self.fake.patch_event(remote_id, body)

    def delete(self, calendar_remote_id: str, remote_id: str) -> None:
        self.fake.delete_event(remote_id)


def make_auth(fake: MicrosoftGraphFake, refresh_token: str | None = None) -> GraphAuth:
    return GraphAuth(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        authority=fake.authority,
        refresh_token=refresh_token or fake.issue_refresh_token(),
        ca_file=str(fake.ca_file),
    )


def make_provider(fake: MicrosoftGraphFake, **options: Any) -> MicrosoftProvider:
    """A provider wired to ``fake`` with a fresh refresh token and sleepless retries."""
    settings: dict[str, Any] = {"sleep": lambda seconds: None, **options}
    auth = settings.pop("auth", None) or make_auth(fake, settings.pop("refresh_token", None))
    return MicrosoftProvider(
        auth=auth,
        graph_endpoint=fake.graph_endpoint,
        ca_file=str(fake.ca_file),
        account_key=settings.pop("account_key", None) or new_id("acc"),
        **settings,
    )
