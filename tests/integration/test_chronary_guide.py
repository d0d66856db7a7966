"""Chronary's calendars guide, step by step, through the official SDK against calsync;
each error code of the guide's table; calendars synced from a provider; and
tenant isolation between two organizations sharing one store."""

from __future__ import annotations

from typing import Any

import chronary
import httpx
import pytest
from chronary import Chronary

from calsync.model import RemoteCalendar, RemoteEvent
from tests.fixtures.api import ApiServer, run_api_server
from tests.fixtures.chronary import new_org_key, sdk_client
from tests.fixtures.store import content


def _error(exc: chronary.APIStatusError) -> dict[str, Any]:
    assert isinstance(exc.body, dict)
    error: dict[str, Any] = exc.body["error"]
    assert error["request_id"] == exc.response.headers["X-Request-Id"]
    return error


def test_the_calendars_guide(api_server: ApiServer, sdk: Chronary) -> None:
    # 1. An org-level calendar with metadata, and an agent with a calendar of its own.
    rooms = sdk.calendars.create(
        name="Conference Room A", timezone="America/New_York", metadata={"floor": 3}
    )
    assert rooms.agent_id is None and rooms.metadata == {"floor": 3}
    assert rooms.org_id.startswith("org_") and rooms.timezone == "America/New_York"
    agent = sdk.agents.create(name="Support bot", type="ai")
    own = sdk.agents.calendars.create(agent.id, name="Support shifts", timezone="Europe/Paris")
    assert own.agent_id == agent.id and own.metadata == {}
    assert own.org_id == rooms.org_id

    # 2. List both kinds.
    assert [c.id for c in sdk.calendars.list().data] == [rooms.id]
    assert [c.id for c in sdk.agents.calendars.list(agent.id).data] == [own.id]
    everything = sdk.calendars.list(include="all")
    assert {c.id for c in everything.data} == {rooms.id, own.id}
    assert (everything.total, everything.offset) == (2, 0)

    # 3. Get one and fetch its iCal feed.
    fetched = sdk.calendars.get(rooms.id)
    assert fetched.model_dump() == rooms.model_dump()
    assert fetched.ical_url is not None
    assert fetched.ical_url.startswith(f"{api_server.base_url}/ical/")
    sdk.events.create(
        rooms.id, title="Board", start_time="2026-09-01T14:00:00Z", end_time="2026-09-01T15:00:00Z"
    )
    feed = httpx.get(fetched.ical_url, timeout=10)
    assert feed.status_code == 200
    assert "BEGIN:VCALENDAR" in feed.text and "SUMMARY:Board" in feed.text

    # 4. A partial update: only the fields given; metadata replaced whole.
    renamed = sdk.calendars.update(rooms.id, name="Conference Room B")
    assert (renamed.name, renamed.timezone, renamed.metadata) == (
        "Conference Room B",
        "America/New_York",
        {"floor": 3},
    )
    replaced = sdk.calendars.update(rooms.id, metadata={"seats": 12})
    assert replaced.metadata == {"seats": 12} and replaced.name == "Conference Room B"
    assert replaced.updated_at >= rooms.updated_at

    # 5. Delete: a calendar that still has events answers 409; an empty one goes.
    with pytest.raises(chronary.APIStatusError) as caught:
        sdk.calendars.delete(rooms.id)
    error = _error(caught.value)
    assert (caught.value.status_code, error["type"], error["code"]) == (
        409,
        "conflict",
        "calendar_has_events",
    )
    for event in sdk.events.list(rooms.id).data:
        sdk.events.delete(rooms.id, event.id)
    sdk.calendars.delete(rooms.id)
    with pytest.raises(chronary.NotFoundError):
        sdk.calendars.get(rooms.id)
    assert sdk.calendars.list().total == 0


def test_each_error_code(api_server: ApiServer, sdk: Chronary) -> None:
    cases: list[tuple[str, Any, int, str, str, str | None]] = [
        (
            "invalid_timezone",
            lambda: sdk.calendars.create(name="x", timezone="Mars/Olympus"),
            400,
            "validation_error",
            "invalid_timezone",
            "timezone",
        ),
        (
            "metadata_too_large",
            lambda: sdk.calendars.create(
                name="x", timezone="UTC", metadata={"blob": "x" * (16 * 1024 + 1)}
            ),
            400,
            "validation_error",
            "metadata_too_large",
            "metadata",
        ),
        (
            "agent_not_found",
            lambda: sdk.agents.calendars.create("agt_missing", name="x", timezone="UTC"),
            404,
            "not_found",
            "agent_not_found",
            None,
        ),
        (
            "calendar_not_found",
            lambda: sdk.calendars.get("cal_missing"),
            404,
            "not_found",
            "calendar_not_found",
            None,
        ),
        (
            "event_not_found",
            lambda: sdk.events.get_by_id("evt_missing"),
            404,
            "not_found",
            "event_not_found",
            None,
        ),
        (
            "validation_error",
            lambda: sdk.calendars.create(name="  ", timezone="UTC"),
            400,
            "validation_error",
            "validation_error",
            "name",
        ),
    ]
    for name, call, status, kind, code, param in cases:
        with pytest.raises(chronary.APIStatusError) as caught:
            call()
        error = _error(caught.value)
        assert (caught.value.status_code, error["type"], error["code"], error["param"]) == (
            status,
            kind,
            code,
            param,
        ), name
    with (
        sdk_client(api_server, "chr_sk_nope") as stranger,
        pytest.raises(chronary.AuthenticationError) as caught401,
    ):
        stranger.calendars.list()
    assert _error(caught401.value)["type"] == "authentication_error"


def test_rate_limit_error(store_url: str) -> None:
    """429 in the dialect's shape; all keys of an organization share one budget."""
    with run_api_server(store_url, rate_limit_per_second=1000, rate_limit_per_minute=3) as server:
        first, second = new_org_key(server), new_org_key(server)
        with sdk_client(server, first) as client:
            for _ in range(3):
                client.agents.list()
        with sdk_client(server, second) as client, pytest.raises(chronary.RateLimitError) as caught:
            client.agents.list()
        error = _error(caught.value)
        assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limited")
        assert int(caught.value.response.headers["Retry-After"]) >= 1
        # The budget is the organization's, not the address's: a stranger from the same
        # address is still answered (401, not 429).
        with (
            sdk_client(server, "chr_sk_stranger") as stranger,
            pytest.raises(chronary.AuthenticationError),
        ):
            stranger.agents.list()


def test_provider_synced_calendars_appear_read_only_where_the_provider_says(
    api_server: ApiServer, sdk: Chronary
) -> None:
    with api_server.store.write() as uow:
        account = uow.accounts.get_or_create_connected("work")
        profile = uow.profiles.get_or_create(account.pk, "google", "work@example.org")
        holidays = uow.calendars.upsert_remote(
            profile.pk,
            RemoteCalendar("holidays@google", "Holidays", "Europe/Berlin", read_only=True),
        )
        team = uow.calendars.upsert_remote(profile.pk, RemoteCalendar("team@google", "Team"))
        uow.events.upsert_remote(team.pk, RemoteEvent("remote-1", content("Synced")))
    listed = {c.id: c for c in sdk.calendars.list(include="all").data}
    assert set(listed) == {holidays.calendar_id, team.calendar_id}
    (work,) = sdk.agents.list().data
    assert (work.name, work.type) == ("work", "human")
    synced = listed[holidays.calendar_id]
    assert synced.agent_id == work.id and synced.provider == "google"
    assert synced.external_id == "holidays@google"
    assert synced.model_extra is not None and synced.model_extra["read_only"] is True
    assert sdk.calendars.list().total == 0  # not org-level

    with pytest.raises(chronary.PermissionDeniedError) as caught:
        sdk.events.create(
            holidays.calendar_id,
            title="x",
            start_time="2026-09-01T10:00:00Z",
            end_time="2026-09-01T11:00:00Z",
        )
    assert _error(caught.value)["code"] == "calendar_readonly"
    with pytest.raises(chronary.PermissionDeniedError):
        sdk.calendars.update(holidays.calendar_id, name="Mine")

    (event,) = sdk.events.list(team.calendar_id).data
    assert (event.title, event.source) == ("Synced", "external_ical")
    with pytest.raises(chronary.PermissionDeniedError) as edit:
        sdk.events.update(team.calendar_id, event.id, title="Changed")
    assert _error(edit.value)["code"] == "event_readonly"
    written = sdk.events.create(
        team.calendar_id,
        title="Ours",
        start_time="2026-09-02T10:00:00Z",
        end_time="2026-09-02T11:00:00Z",
    )
    with api_server.store.read() as uow:
        stored = uow.events.get(written.id)
    assert stored is not None and stored.push_state == "pending"  # pushed like any app write


def test_tenant_isolation(store_url: str) -> None:
    """Another organization's key (another client id, the same store) sees none of it."""
    with (
        run_api_server(store_url) as one,
        run_api_server(store_url, migrate=False, client_id="another-client") as two,
    ):
        mine = sdk_client(one, new_org_key(one))
        theirs = sdk_client(two, new_org_key(two))
        with mine, theirs:
            agent = mine.agents.create(name="Private", type="ai")
            calendar = mine.agents.calendars.create(agent.id, name="Secret", timezone="UTC")
            org_calendar = mine.calendars.create(name="Room", timezone="UTC")
            event = mine.events.create(
                calendar.id,
                title="hidden",
                start_time="2026-10-01T10:00:00Z",
                end_time="2026-10-01T11:00:00Z",
            )
            assert theirs.agents.list().total == 0
            assert theirs.calendars.list(include="all").total == 0
            assert theirs.calendars.list().total == 0
            for call, code in (
                (lambda: theirs.agents.get(agent.id), "agent_not_found"),
                (lambda: theirs.agents.events.list(agent.id), "agent_not_found"),
                (lambda: theirs.calendars.get(calendar.id), "calendar_not_found"),
                (lambda: theirs.calendars.get(org_calendar.id), "calendar_not_found"),
                (lambda: theirs.calendars.delete(org_calendar.id), "calendar_not_found"),
                (lambda: theirs.events.list(calendar.id), "calendar_not_found"),
                (lambda: theirs.events.get_by_id(event.id), "event_not_found"),
                (lambda: theirs.events.update_by_id(event.id, title="x"), "event_not_found"),
                (lambda: theirs.events.delete_by_id(event.id), "event_not_found"),
            ):
                with pytest.raises(chronary.NotFoundError) as caught:
                    call()
                assert _error(caught.value)["code"] == code
            assert mine.events.get_by_id(event.id).title == "hidden"
            assert mine.calendars.list(include="all").total == 2
