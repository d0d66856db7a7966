"""``/v1/calendars``: list, create, update and delete calendars.

Validation failures are 422 in Cronofy's shape; pycronofy's
``create_calendar`` reads ``errors["name"][0]["key"]``, so every error about
the name is reported on ``name``. A calendar of another account is a 404,
exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from calsync.api.deps import Auth, Services
from calsync.api.errors import Forbidden
from calsync.api.fields import (
    CalendarName,
    Color,
    Metadata,
    OptionalCalendarName,
    Tzid,
)
from calsync.api.openapi import BODY_ROUTE, TOKEN_ROUTE, responses
from calsync.api.response_schemas import NO_CONTENT_202, CalendarAnswer, CalendarsAnswer, ok
from calsync.errors import Conflict, NotFound, ValidationError
from calsync.store import UnitOfWork
from calsync.store.records import CalendarRecord

router = APIRouter(prefix="/v1", tags=["calendars"])

DEFAULT_COLOR = "#49BED8"
#: Providers whose calendars calsync itself can create (store-only calendars).
LOCAL_PROVIDERS = frozenset({"cronofy", "local"})


class CalendarCreate(BaseModel):
    """Every problem is reported at once; those about the name under ``name``."""

    model_config = ConfigDict(extra="ignore")

    profile_id: str = Field(max_length=256)
    name: CalendarName
    color: Color | None = None
    timezone: Tzid | None = None
    metadata: Metadata | None = None


class CalendarUpdate(BaseModel):
    """Only the fields given change; null resets color, timezone and metadata."""

    model_config = ConfigDict(extra="ignore")

    name: OptionalCalendarName = None
    color: Color | None = None
    timezone: Tzid | None = None
    metadata: Metadata | None = None


def calendar_json(calendar: CalendarRecord, base_url: str) -> dict[str, Any]:
    """One calendar as Cronofy lists it, plus calsync's extensions."""
    return {
        "provider_name": calendar.provider_name,
        "profile_id": calendar.profile_id,
        "profile_name": calendar.profile_name,
        "calendar_id": calendar.calendar_id,
        "calendar_name": calendar.name,
        "calendar_readonly": calendar.readonly,
        "calendar_deleted": calendar.deleted,
        "calendar_primary": calendar.primary,
        "calendar_integrated_conferencing_available": False,
        "calendar_attachments_available": False,
        "permission_level": "sandbox" if calendar.readonly else "unrestricted",
        "calendar_color": calendar.color or DEFAULT_COLOR,
        "calendar_timezone": calendar.timezone,
        "metadata": calendar.metadata,
        "ical_url": ical_url(calendar, base_url),
        "sync": {
            "last_sync_at": _time(calendar),
            "last_error": calendar.last_error,
        },
    }


def ical_url(calendar: CalendarRecord, base_url: str) -> str:
    """The calendar's live iCalendar feed (`calsync.api.ical`), absolute."""
    return f"{base_url}/ical/{calendar.ical_feed_token}.ics"


def _time(calendar: CalendarRecord) -> str | None:
    if calendar.last_sync_at is None:
        return None
    return calendar.last_sync_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _live_calendar(uow: UnitOfWork, account_pk: int, calendar_id: str) -> CalendarRecord:
    """The account's calendar; a deleted one is gone as far as edits go (404)."""
    calendar: CalendarRecord = uow.calendars.get(account_pk, calendar_id)
    if calendar.deleted:
        raise NotFound(f"no calendar {calendar_id}")
    return calendar


@router.get(
    "/calendars",
    response_model=None,
    responses={**ok(CalendarsAnswer), **responses(*TOKEN_ROUTE)},
)
def list_calendars(auth: Auth, services: Services) -> dict[str, Any]:
    with services.store.read() as uow:
        calendars = uow.calendars.list(auth.account.pk)
    base_url = services.settings.api.base_url
    return {"calendars": [calendar_json(c, base_url) for c in calendars]}


@router.post(
    "/calendars",
    response_model=None,
    responses={**ok(CalendarAnswer), **responses(*BODY_ROUTE, 403, 404)},
)
def create_calendar(body: CalendarCreate, auth: Auth, services: Services) -> dict[str, Any]:
    name, timezone, metadata = body.name, body.timezone, body.metadata
    color = body.color or DEFAULT_COLOR
    with services.store.write() as uow:
        profile = uow.profiles.get(auth.account.pk, body.profile_id)
        if profile.provider_name not in LOCAL_PROVIDERS:
            raise Forbidden(
                f"calendars cannot be created on {profile.provider_name} profiles yet",
                key="errors.create_calendar_unsupported",
            )
        ensure_unique_name(uow.calendars.list(auth.account.pk), profile.pk, name)
        calendar = uow.calendars.create(
            profile.pk,
            name,
            timezone=timezone,
            color=color,
            metadata=metadata,
        )
    return {"calendar": calendar_json(calendar, services.settings.api.base_url)}


def ensure_unique_name(
    calendars: list[CalendarRecord], profile_pk: int, name: str, *, except_pk: int | None = None
) -> None:
    taken = {
        c.name.casefold()
        for c in calendars
        if c.profile_pk == profile_pk and not c.deleted and c.pk != except_pk
    }
    if name.casefold() in taken:
        raise ValidationError.single(
            "name", "errors.duplicate_calendar_name", "a calendar with this name already exists"
        )


@router.patch(
    "/calendars/{calendar_id}",
    response_model=None,
    responses={**ok(CalendarAnswer), **responses(*BODY_ROUTE, 403, 404)},
)
def update_calendar(
    calendar_id: str, body: CalendarUpdate, auth: Auth, services: Services
) -> dict[str, Any]:
    changes: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    if "color" in changes:
        changes["color"] = changes["color"] or DEFAULT_COLOR
    with services.store.write() as uow:
        calendar = _live_calendar(uow, auth.account.pk, calendar_id)
        calendar = update_calendar_in(uow, calendar, changes)
    return {"calendar": calendar_json(calendar, services.settings.api.base_url)}


def update_calendar_in(
    uow: UnitOfWork, calendar: CalendarRecord, changes: dict[str, Any]
) -> CalendarRecord:
    """The one rule for editing a calendar, in both dialects: not a read-only one, and
    no two live calendars of a profile share a name."""
    if calendar.readonly:
        raise Forbidden("the calendar is read-only", key="errors.calendar_readonly")
    if "name" in changes:
        siblings = uow.calendars.list(calendar.account_pk)
        ensure_unique_name(siblings, calendar.profile_pk, changes["name"], except_pk=calendar.pk)
    if changes:
        calendar = uow.calendars.update(calendar.pk, **changes)
    return calendar


@router.delete(
    "/calendars/{calendar_id}",
    status_code=202,
    response_class=Response,
    responses={**NO_CONTENT_202, **responses(*TOKEN_ROUTE, 403, 404, 409)},
)
def delete_calendar(calendar_id: str, auth: Auth, services: Services) -> Response:
    with services.store.write() as uow:
        delete_calendar_in(uow, _live_calendar(uow, auth.account.pk, calendar_id))
    return Response(status_code=202)


def delete_calendar_in(uow: UnitOfWork, calendar: CalendarRecord) -> None:
    """The one rule for deleting a calendar, in both dialects: never a read-only one,
    never one that still has events (409 ``calendar_has_events``): a delete must not
    take events with it that an app or a provider still counts on."""
    if calendar.readonly:
        raise Forbidden("the calendar is read-only", key="errors.calendar_readonly")
    if uow.events.count_live(calendar.pk) > 0:
        raise Conflict(
            "the calendar still has events; delete them first", key="calendar_has_events"
        )
    uow.calendars.soft_delete(calendar.pk)
