"""``/v1/agents``: every calsync account is an agent, and every agent an account.

An account made by sync (an ``[[accounts]]`` entry), by the CLI or by
``POST /v1/application_calendars`` gets its agent row the first time the
dialect looks (`ensure_agents`): ``human`` for a connected account, ``ai``
for an application calendar's. ``POST /v1/agents`` makes an application
account whose application calendar id is the agent id, so
``POST /v1/application_calendars`` with that id returns a Cronofy token for it.

``DELETE`` decommissions: the agent still answers ``GET``, lists leave it out
unless ``status=decommissioned`` asks for it, and its calendars take no new
events (through either dialect: `calsync.api.events.ensure_takes_new_events`).
Decommissioning is final: a ``PATCH`` of its status is 403 ``agent_decommissioned``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from calsync.api.chronary.auth import Org
from calsync.api.chronary.errors import ChronaryError, not_found
from calsync.api.chronary.listing import Paging, envelope
from calsync.api.chronary.mapping.agents import agent_json
from calsync.api.chronary.openapi import responses
from calsync.api.deps import ApiServices, Services
from calsync.api.fields import NAME_SCHEMA, CalendarName, Metadata
from calsync.errors import NotFound
from calsync.store import UnitOfWork
from calsync.store.repos.chronary import AgentRecord

router = APIRouter(tags=["chronary: agents"])

AgentType = Literal["ai", "human", "resource"]
MAX_DESCRIPTION = 4096
#: The account's display name holds it (`accounts.display_name`, 255 characters).
MAX_AGENT_NAME = 255
AgentName = Annotated[
    CalendarName,
    Field(max_length=MAX_AGENT_NAME),
    WithJsonSchema({**NAME_SCHEMA, "maxLength": MAX_AGENT_NAME}),
]
LISTED = ("active", "paused")


class ChronaryAgentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: AgentName
    type: AgentType
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] | None = None
    metadata: Metadata | None = None


class ChronaryAgentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: AgentName | None = None
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] | None = None
    status: Literal["active", "paused"] | None = None
    metadata: Metadata | None = None


def ensure_agents(services: ApiServices, org_id: str) -> None:
    """Give accounts made elsewhere their agent rows (a write only when one is missing)."""
    with services.store.read() as uow:
        missing = uow.agents.missing()
    if missing:
        with services.store.write() as uow:
            uow.agents.backfill(org_id)


def get_agent(uow: UnitOfWork, org_id: str, agent_id: str) -> AgentRecord:
    """The organization's agent; another organization's is as unknown as none (404)."""
    try:
        agent: AgentRecord = uow.agents.get(agent_id, org_id)
    except NotFound:
        raise not_found("agent") from None
    return agent


@router.post("/v1/agents", status_code=201, responses=responses(400, 401))
def create_agent(body: ChronaryAgentCreate, org: Org, services: Services) -> dict[str, Any]:
    with services.store.write() as uow:
        agent = uow.agents.create(org.org_id, body.name, body.type, body.description, body.metadata)
    return agent_json(agent)


@router.get("/v1/agents", responses=responses(400, 401))
def list_agents(
    org: Org,
    services: Services,
    page: Paging,
    type: AgentType | None = None,
    status: Annotated[Literal["active", "paused", "decommissioned"] | None, Query()] = None,
) -> dict[str, Any]:
    ensure_agents(services, org.org_id)
    statuses = (status,) if status is not None else LISTED
    with services.store.read() as uow:
        agents, total = uow.agents.list(
            org.org_id, type=type, statuses=statuses, limit=page.limit, offset=page.offset
        )
    return envelope([agent_json(a) for a in agents], total, page)


@router.get("/v1/agents/{agent_id}", responses=responses(401, 404))
def read_agent(agent_id: str, org: Org, services: Services) -> dict[str, Any]:
    ensure_agents(services, org.org_id)
    with services.store.read() as uow:
        return agent_json(get_agent(uow, org.org_id, agent_id))


@router.patch("/v1/agents/{agent_id}", responses=responses(400, 401, 403, 404))
def update_agent(
    agent_id: str, body: ChronaryAgentUpdate, org: Org, services: Services
) -> dict[str, Any]:
    changes: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("name", "status", "metadata"):
        if name in changes and changes[name] is None:
            del changes[name]  # null for these means "leave as is", as the SDK never sends it
    ensure_agents(services, org.org_id)
    with services.store.write() as uow:
        current = get_agent(uow, org.org_id, agent_id)
        if current.status == "decommissioned" and "status" in changes:
            # DELETE retired it: its calendars took no events since, and an app that
            # deleted an agent does not expect a PATCH to bring it back. Its name,
            # description and metadata may still be edited.
            raise ChronaryError(
                403, "agent_decommissioned", "the agent is decommissioned; its status is final"
            )
        agent = uow.agents.update(agent_id, changes)
    return agent_json(agent)


@router.delete(
    "/v1/agents/{agent_id}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 404),
)
def delete_agent(agent_id: str, org: Org, services: Services) -> Response:
    ensure_agents(services, org.org_id)
    with services.store.write() as uow:
        get_agent(uow, org.org_id, agent_id)
        uow.agents.update(agent_id, {"status": "decommissioned"})
    return Response(status_code=204)
