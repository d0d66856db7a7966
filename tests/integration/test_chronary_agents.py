"""``/v1/agents`` through the official SDK: every calsync account is an agent and back."""

from __future__ import annotations

from typing import Literal

import chronary
import httpx
import pytest
from chronary import Chronary

from tests.fixtures.api import (
    CLIENT_ID,
    CLIENT_SECRET,
    ApiServer,
    bearer,
    create_app_calendar,
    get,
)


def test_agent_lifecycle(sdk: Chronary) -> None:
    created = sdk.agents.create(
        name="Scheduling bot", type="ai", description="books rooms", metadata={"team": "ops"}
    )
    assert created.id.startswith("agt_")
    assert (created.name, created.type, created.status) == ("Scheduling bot", "ai", "active")
    assert created.metadata == {"team": "ops"} and created.description == "books rooms"
    assert created.created_at == created.updated_at

    fetched = sdk.agents.get(created.id)
    assert fetched.model_dump() == created.model_dump()

    renamed = sdk.agents.update(created.id, name="Room bot", status="paused")
    assert (renamed.name, renamed.status, renamed.description) == (
        "Room bot",
        "paused",
        "books rooms",
    )
    assert renamed.metadata == {"team": "ops"}
    assert renamed.updated_at >= created.updated_at
    cleared = sdk.agents.update(created.id, description=None, metadata={})
    assert cleared.description is None and cleared.metadata == {}

    sdk.agents.delete(created.id)
    gone = sdk.agents.get(created.id)
    assert gone.status == "decommissioned"
    assert [a.id for a in sdk.agents.list().data] == []
    assert [a.id for a in sdk.agents.list(status="decommissioned").data] == [created.id]


@pytest.mark.parametrize("status", ["active", "paused"])
def test_a_decommissioned_agent_stays_decommissioned(
    sdk: Chronary, status: Literal["active", "paused"]
) -> None:
    agent = sdk.agents.create(name="Retired bot", type="ai")
    sdk.agents.delete(agent.id)
    with pytest.raises(chronary.PermissionDeniedError) as caught:
        sdk.agents.update(agent.id, status=status)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["code"] == "agent_decommissioned"
    assert sdk.agents.get(agent.id).status == "decommissioned"
    assert [a.id for a in sdk.agents.list().data] == []
    # What describes it may still change; the status stays.
    renamed = sdk.agents.update(agent.id, name="Retired room bot", metadata={"why": "moved"})
    assert (renamed.name, renamed.status) == ("Retired room bot", "decommissioned")
    assert renamed.metadata == {"why": "moved"}


def test_filters_and_paging(sdk: Chronary) -> None:
    ids = {
        kind: sdk.agents.create(name=f"{kind} agent", type=kind).id
        for kind in ("ai", "human", "resource")
    }
    assert [a.id for a in sdk.agents.list(type="human").data] == [ids["human"]]
    sdk.agents.update(ids["ai"], status="paused")
    assert [a.id for a in sdk.agents.list(status="paused").data] == [ids["ai"]]
    assert {a.id for a in sdk.agents.list(status="active").data} == {ids["human"], ids["resource"]}
    first = sdk.agents.list(limit=2)
    assert (first.total, first.limit, first.offset, len(first.data)) == (3, 2, 0, 2)
    assert first.has_more
    assert {a.id for a in first.auto_paging_iter()} == set(ids.values())


def test_names_fit_the_account(sdk: Chronary) -> None:
    with pytest.raises(chronary.BadRequestError) as caught:
        sdk.agents.create(name="x" * 256, type="ai")
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["param"] == "name"
    assert sdk.agents.create(name="  padded  ", type="ai").name == "padded"


def test_unknown_agent(sdk: Chronary) -> None:
    for call in (
        lambda: sdk.agents.get("agt_nope"),
        lambda: sdk.agents.update("agt_nope", name="x"),
        lambda: sdk.agents.delete("agt_nope"),
        lambda: sdk.agents.calendars.list("agt_nope"),
    ):
        with pytest.raises(chronary.NotFoundError) as caught:
            call()
        body = caught.value.body
        assert isinstance(body, dict)
        assert body["error"]["code"] == "agent_not_found"


def _app_token(http: httpx.Client, application_calendar_id: str) -> httpx.Response:
    return http.post(
        "/v1/application_calendars",
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "application_calendar_id": application_calendar_id,
        },
    )


def test_accounts_are_agents_and_agents_are_accounts(
    api_server: ApiServer, sdk: Chronary, http: httpx.Client
) -> None:
    app = create_app_calendar(http, "front-desk")
    (listed,) = sdk.agents.list().data
    assert (listed.name, listed.type, listed.status) == ("front-desk", "ai", "active")
    assert listed.model_extra is not None and listed.model_extra["account_id"] == app.sub

    # The agent id as an application calendar id: a token for that same account.
    again = _app_token(http, listed.id)
    assert again.status_code == 200, again.text
    assert again.json()["sub"] == app.sub

    made = sdk.agents.create(name="Concierge", type="human")
    token = _app_token(http, made.id)
    assert token.status_code == 200, token.text
    account = get(http, "/v1/account", token.json()["access_token"]).json()["account"]
    assert account["name"] == "Concierge"
    assert token.json()["application_calendar_id"] == made.id

    missing = _app_token(http, "agt_unknown")
    assert missing.status_code == 404
    assert "errors" in missing.json()

    # The Cronofy dialect still answers with its own shapes meanwhile.
    assert http.get("/v1/account", headers=bearer(app.access_token)).status_code == 200
