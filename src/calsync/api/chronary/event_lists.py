"""Listing events: one calendar's (``GET /v1/calendars/{id}/events``) and an agent's
across its calendars (``GET /v1/agents/{id}/events``).

``start_after``/``start_before`` bound the start (inclusive, exclusive). Without
``expand`` a recurring series is listed once, by its first start; with it (which
needs both bounds, at most 366 days apart) each occurrence in the range is listed,
exactly as the Cronofy reads and the iCal feed expand it (`calsync.api.expand`),
with ``recurring_event_id`` and ``original_start_time``, and an id
(``evt_x.20260115T140000Z``) the Cronofy dialect uses for the same occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel

from calsync.api.chronary.agents import ensure_agents, get_agent
from calsync.api.chronary.auth import Org
from calsync.api.chronary.calendars import get_calendar
from calsync.api.chronary.errors import ChronaryError
from calsync.api.chronary.listing import Paging, sliced
from calsync.api.chronary.mapping import events as mapping
from calsync.api.chronary.openapi import responses
from calsync.api.deps import Services
from calsync.api.expand import expand_series, occurrence_uid
from calsync.api.times import is_valid_tzid, parse_instant
from calsync.errors import ValidationError
from calsync.model import EventContent
from calsync.model.events import EventTime
from calsync.store import UnitOfWork
from calsync.store.records import CalendarRecord, EventRecord

router = APIRouter(tags=["chronary: events"])

MAX_EXPAND_DAYS = 366


class Range(BaseModel):
    start_after: datetime | None
    start_before: datetime | None
    status: str | None
    source: str | None
    expand: bool


def _range(
    start_after: str | None,
    start_before: str | None,
    status: str | None,
    source: str | None,
    expand: bool,
) -> Range:
    bounds: dict[str, datetime | None] = {}
    for name, value in (("start_after", start_after), ("start_before", start_before)):
        try:
            bounds[name] = None if value is None else parse_instant(value, name)
        except ValidationError:
            raise ChronaryError(
                400, "validation_error", f"{name} must be an ISO 8601 time", param=name
            ) from None
    after, before = bounds["start_after"], bounds["start_before"]
    if expand:
        if after is None or before is None:
            raise ChronaryError(
                400, "validation_error", "expand needs start_after and start_before", param="expand"
            )
        if before - after > timedelta(days=MAX_EXPAND_DAYS):
            raise ChronaryError(
                400,
                "validation_error",
                f"expand spans at most {MAX_EXPAND_DAYS} days",
                param="start_before",
            )
    if after is not None and before is not None and before <= after:
        raise ChronaryError(
            400, "validation_error", "start_before must be after start_after", param="start_before"
        )
    return Range(
        start_after=after, start_before=before, status=status, source=source, expand=expand
    )


def _instant(value: EventTime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time(), UTC)


def _in_range(start: EventTime, query: Range) -> bool:
    moment = _instant(start)
    if query.start_after is not None and moment < query.start_after:
        return False
    return query.start_before is None or moment < query.start_before


def _listed(uow: UnitOfWork, calendars: list[CalendarRecord], query: Range) -> list[dict[str, Any]]:
    records = [r for c in calendars for r in uow.events.list_calendar(c.pk)]
    extras = uow.event_extras.get_many([r.pk for r in records])
    overrides: dict[str, list[tuple[EventRecord, EventContent]]] = {}
    for r in records:
        if r.recurring_event_uid is not None:
            overrides.setdefault(r.recurring_event_uid, []).append((r, r.content))
    found: list[tuple[datetime, dict[str, Any]]] = []
    for r in records:
        source = "internal" if r.managed else "external_ical"
        if query.source is not None and source != query.source:
            continue
        series = bool(r.content.recurrence) and r.recurring_event_uid is None
        if query.expand and series:
            assert query.start_after is not None and query.start_before is not None
            zone = ZoneInfo(r.content.tzid) if is_valid_tzid(r.content.tzid) else ZoneInfo("UTC")
            window = (query.start_after, query.start_before)
            for occ in expand_series(
                r.event_uid, (r, r.content), overrides.get(r.event_uid, []), window, zone
            ):
                if not _in_range(occ.start, query):
                    continue
                item = mapping.event_json(
                    occ.source,
                    extras.get(r.pk),
                    content=occ.content,
                    start=occ.start,
                    end=occ.end,
                    instance_of=r.event_uid,
                    original_start=occ.original_start,
                    instance_id=occurrence_uid(r.event_uid, occ.original_start),
                )
                item["calendar_id"] = r.calendar_id
                found.append((_instant(occ.start), item))
            continue
        if r.recurring_event_uid is not None and query.expand:
            continue  # shown in its series' expansion
        if r.recurring_event_uid is not None and r.content.original_start is not None:
            continue  # an override: part of its series
        if not _in_range(r.content.start, query):
            continue
        found.append((_instant(r.content.start), mapping.event_json(r, extras.get(r.pk))))
    if query.status is not None:
        found = [(k, item) for k, item in found if item["status"] == query.status]
    found.sort(key=lambda pair: (pair[0], pair[1]["id"]))
    return [item for _, item in found]


@router.get("/v1/calendars/{calendar_id}/events", responses=responses(400, 401, 404))
def list_events(
    calendar_id: str,
    org: Org,
    services: Services,
    page: Paging,
    start_after: str | None = None,
    start_before: str | None = None,
    status: Literal["confirmed", "tentative", "cancelled", "hold"] | None = None,
    source: Literal["internal", "external_ical"] | None = None,
    expand: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    query = _range(start_after, start_before, status, source, expand)
    with services.store.read() as uow:
        calendar = get_calendar(uow, org.org_id, calendar_id)
        return sliced(_listed(uow, [calendar], query), page)


@router.get("/v1/agents/{agent_id}/events", responses=responses(400, 401, 404))
def list_agent_events(
    agent_id: str,
    org: Org,
    services: Services,
    page: Paging,
    start_after: str | None = None,
    start_before: str | None = None,
    status: Literal["confirmed", "tentative", "cancelled", "hold"] | None = None,
    source: Literal["internal", "external_ical"] | None = None,
    expand: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    query = _range(start_after, start_before, status, source, expand)
    ensure_agents(services, org.org_id)
    with services.store.read() as uow:
        agent = get_agent(uow, org.org_id, agent_id)
        calendars = uow.agents.calendars(org.org_id, account_pk=agent.account.pk)
        return sliced(_listed(uow, calendars, query), page)
