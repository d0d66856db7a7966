"""``/v1/calendars`` (organization) and ``/v1/agents/{id}/calendars`` (agent-owned).

The organization's calendars live on its own account (`AgentRepo.organization`);
an agent's on its account's store-only profile. Both are ordinary calsync
calendars: the Cronofy dialect, the iCal feed and sync see the same rows.
Creating, editing and deleting go through the rules the Cronofy routes use
(`calsync.api.calendars`): unique names per profile, read-only calendars
refused, and a calendar that still has events is not deleted (409
``calendar_has_events``).

``include=all`` lists every calendar of the organization, those synced from
providers too (under the agent that stands for their account).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from calsync.api.calendars import delete_calendar_in, ensure_unique_name, update_calendar_in
from calsync.api.chronary.agents import ensure_agents, get_agent
from calsync.api.chronary.auth import Org
from calsync.api.chronary.errors import ChronaryError, not_found
from calsync.api.chronary.listing import Paging, sliced
from calsync.api.chronary.mapping.calendars import calendar_json
from calsync.api.chronary.openapi import responses
from calsync.api.deps import ApiServices, Services
from calsync.api.fields import CalendarName, Metadata, OptionalCalendarName, RequiredTzid, Tzid
from calsync.errors import NotFound
from calsync.store import UnitOfWork
from calsync.store.records import CalendarRecord, ProfileRecord

router = APIRouter(tags=["chronary: calendars"])

#: Chronary's calendar fields calsync does not keep: refused rather than dropped.
UNSUPPORTED = ("agent_status", "default_reminders")


class ChronaryCalendarCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: CalendarName
    timezone: RequiredTzid
    metadata: Metadata | None = None


class ChronaryCalendarUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: OptionalCalendarName = None
    timezone: Tzid | None = None
    metadata: Metadata | None = None


def _refuse_unsupported(body: BaseModel) -> None:
    for name in UNSUPPORTED:
        if (body.model_extra or {}).get(name) is not None:
            raise ChronaryError(
                400, "validation_error", f"{name} is not supported by calsync", param=name
            )


class View:
    """Turns calendar records into JSON for one request (agents looked up once)."""

    def __init__(self, uow: UnitOfWork, services: ApiServices, org_id: str) -> None:
        self._agents = {pk: a.agent_id for pk, a in uow.agents.by_accounts().items()}
        self._org_id = org_id
        self._base_url = services.settings.api.base_url

    def json(self, calendar: CalendarRecord) -> dict[str, Any]:
        return calendar_json(
            calendar,
            agent_id=self._agents.get(calendar.account_pk),
            org_id=self._org_id,
            base_url=self._base_url,
        )


def get_calendar(uow: UnitOfWork, org_id: str, calendar_id: str) -> CalendarRecord:
    """The organization's calendar; another organization's is as unknown as none (404)."""
    try:
        calendar: CalendarRecord = uow.agents.calendar(org_id, calendar_id)
    except NotFound:
        raise not_found("calendar") from None
    return calendar


def _create(
    uow: UnitOfWork, profile: ProfileRecord, body: ChronaryCalendarCreate
) -> CalendarRecord:
    ensure_unique_name(uow.calendars.list(profile.account_pk), profile.pk, body.name)
    calendar: CalendarRecord = uow.calendars.create(
        profile.pk, body.name, timezone=body.timezone, metadata=body.metadata
    )
    return calendar


@router.post("/v1/calendars", status_code=201, responses=responses(400, 401))
def create_org_calendar(
    body: ChronaryCalendarCreate, org: Org, services: Services
) -> dict[str, Any]:
    _refuse_unsupported(body)
    with services.store.write() as uow:
        _, profile = uow.agents.organization(org.org_id)
        calendar = _create(uow, profile, body)
        return View(uow, services, org.org_id).json(calendar)


@router.get("/v1/calendars", responses=responses(400, 401))
def list_calendars(
    org: Org, services: Services, page: Paging, include: Literal["all"] | None = None
) -> dict[str, Any]:
    ensure_agents(services, org.org_id)
    with services.store.read() as uow:
        org_pk = uow.agents.find_organization(org.org_id)
        if include == "all":
            found = uow.agents.calendars(org.org_id)
        else:
            found = [] if org_pk is None else uow.agents.calendars(org.org_id, account_pk=org_pk)
        view = View(uow, services, org.org_id)
        return sliced([view.json(c) for c in found], page)


@router.get("/v1/calendars/{calendar_id}", responses=responses(401, 404))
def read_calendar(calendar_id: str, org: Org, services: Services) -> dict[str, Any]:
    ensure_agents(services, org.org_id)
    with services.store.read() as uow:
        return View(uow, services, org.org_id).json(get_calendar(uow, org.org_id, calendar_id))


@router.patch("/v1/calendars/{calendar_id}", responses=responses(400, 401, 403, 404))
def update_calendar(
    calendar_id: str, body: ChronaryCalendarUpdate, org: Org, services: Services
) -> dict[str, Any]:
    _refuse_unsupported(body)
    changes = {
        name: getattr(body, name)
        for name in body.model_fields_set & {"name", "timezone", "metadata"}
        if getattr(body, name) is not None
    }
    ensure_agents(services, org.org_id)
    with services.store.write() as uow:
        calendar = update_calendar_in(uow, get_calendar(uow, org.org_id, calendar_id), changes)
        return View(uow, services, org.org_id).json(calendar)


@router.delete(
    "/v1/calendars/{calendar_id}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 403, 404, 409),
)
def delete_calendar(calendar_id: str, org: Org, services: Services) -> Response:
    with services.store.write() as uow:
        delete_calendar_in(uow, get_calendar(uow, org.org_id, calendar_id))
    return Response(status_code=204)


@router.post(
    "/v1/agents/{agent_id}/calendars", status_code=201, responses=responses(400, 401, 403, 404)
)
def create_agent_calendar(
    agent_id: str, body: ChronaryCalendarCreate, org: Org, services: Services
) -> dict[str, Any]:
    _refuse_unsupported(body)
    ensure_agents(services, org.org_id)
    with services.store.write() as uow:
        agent = get_agent(uow, org.org_id, agent_id)
        if agent.status == "decommissioned":
            raise ChronaryError(403, "agent_decommissioned", "the agent is decommissioned")
        profile = uow.agents.local_profile(agent.account.pk, "calsync")
        calendar = _create(uow, profile, body)
        return View(uow, services, org.org_id).json(calendar)


@router.get("/v1/agents/{agent_id}/calendars", responses=responses(400, 401, 404))
def list_agent_calendars(
    agent_id: str, org: Org, services: Services, page: Paging
) -> dict[str, Any]:
    ensure_agents(services, org.org_id)
    with services.store.read() as uow:
        agent = get_agent(uow, org.org_id, agent_id)
        view = View(uow, services, org.org_id)
        return sliced(
            [view.json(c) for c in uow.agents.calendars(org.org_id, account_pk=agent.account.pk)],
            page,
        )
