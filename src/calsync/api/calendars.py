"""``/v1/calendars``: list, create, update and delete calendars.

Validation failures are 422 in Cronofy's shape; pycronofy's
``create_calendar`` reads ``errors["name"][0]["key"]``, so every error about
the name is reported on ``name``. A calendar of another account is a 404,
exactly like one that does not exist.
"""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from calsync.api.deps import Auth, Services
from calsync.api.errors import Forbidden
from calsync.errors import Conflict, NotFound, ValidationError
from calsync.store import UnitOfWork
from calsync.store.records import CalendarRecord

router = APIRouter(prefix="/v1", tags=["calendars"])

MAX_METADATA_BYTES = 16 * 1024
MAX_NAME_LENGTH = 1024
DEFAULT_COLOR = "#49BED8"
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
#: Providers whose calendars calsync itself can create (store-only calendars).
LOCAL_PROVIDERS = frozenset({"cronofy", "local"})


class CalendarCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    profile_id: str = Field(max_length=256)
    name: str | None = None
    color: str | None = None
    timezone: str | None = None
    metadata: dict[str, Any] | None = None


class CalendarUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    color: str | None = None
    timezone: str | None = None
    metadata: dict[str, Any] | None = None


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
        "ical_url": f"{base_url}/ical/{calendar.ical_feed_token}.ics",
        "sync": {
            "last_sync_at": _time(calendar),
            "last_error": calendar.last_error,
        },
    }


def _time(calendar: CalendarRecord) -> str | None:
    if calendar.last_sync_at is None:
        return None
    return calendar.last_sync_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def valid_name(name: str | None) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise ValidationError.single("name", "errors.required", "name is required")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValidationError.single(
            "name", "errors.too_long", f"name must be at most {MAX_NAME_LENGTH} characters"
        )
    return cleaned


def valid_color(color: str) -> str:
    if not _COLOR.match(color):
        raise ValidationError.single("color", "errors.invalid_color", "color must be #RRGGBB")
    return color.upper()


def valid_timezone(tzid: str) -> str:
    # ZoneInfo accepts some paths (``../``) and raises odd errors on others;
    # only a plain IANA name that loads is a zone.
    if not tzid or len(tzid) > 64 or tzid.startswith("/") or ".." in tzid or "\x00" in tzid:
        raise _bad_timezone(tzid)
    try:
        ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _bad_timezone(tzid) from None
    return tzid


def _bad_timezone(tzid: str) -> ValidationError:
    return ValidationError.single(
        "timezone", "errors.invalid_timezone", f"{tzid[:64]!r} is not an IANA time zone"
    )


def valid_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise ValidationError.single(
            "metadata",
            "errors.metadata_too_large",
            f"metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}",
        )
    return metadata


def _live_calendar(uow: UnitOfWork, account_pk: int, calendar_id: str) -> CalendarRecord:
    """The account's calendar; a deleted one is gone as far as edits go (404)."""
    calendar: CalendarRecord = uow.calendars.get(account_pk, calendar_id)
    if calendar.deleted:
        raise NotFound(f"no calendar {calendar_id}")
    return calendar


@router.get("/calendars")
def list_calendars(auth: Auth, services: Services) -> dict[str, Any]:
    with services.store.read() as uow:
        calendars = uow.calendars.list(auth.account.pk)
    base_url = services.settings.api.base_url
    return {"calendars": [calendar_json(c, base_url) for c in calendars]}


@router.post("/calendars")
def create_calendar(body: CalendarCreate, auth: Auth, services: Services) -> dict[str, Any]:
    name = valid_name(body.name)
    color = valid_color(body.color) if body.color is not None else DEFAULT_COLOR
    timezone = valid_timezone(body.timezone) if body.timezone is not None else None
    metadata = valid_metadata(body.metadata) if body.metadata is not None else None
    with services.store.write() as uow:
        profile = uow.profiles.get(auth.account.pk, body.profile_id)
        if profile.provider_name not in LOCAL_PROVIDERS:
            raise Forbidden(
                f"calendars cannot be created on {profile.provider_name} profiles yet",
                key="errors.create_calendar_unsupported",
            )
        _ensure_unique_name(uow.calendars.list(auth.account.pk), profile.pk, name)
        calendar = uow.calendars.create(
            profile.pk,
            name,
            timezone=timezone,
            color=color,
            metadata=metadata,
        )
    return {"calendar": calendar_json(calendar, services.settings.api.base_url)}


def _ensure_unique_name(
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


@router.patch("/calendars/{calendar_id}")
def update_calendar(
    calendar_id: str, body: CalendarUpdate, auth: Auth, services: Services
) -> dict[str, Any]:
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "name" in given:
        changes["name"] = valid_name(body.name)
    if "color" in given:
        changes["color"] = valid_color(body.color) if body.color is not None else DEFAULT_COLOR
    if "timezone" in given:
        changes["timezone"] = valid_timezone(body.timezone) if body.timezone is not None else None
    if "metadata" in given:
        changes["metadata"] = valid_metadata(body.metadata) if body.metadata is not None else None
    with services.store.write() as uow:
        calendar = _live_calendar(uow, auth.account.pk, calendar_id)
        if calendar.readonly:
            raise Forbidden("the calendar is read-only", key="errors.calendar_readonly")
        if "name" in changes:
            siblings = uow.calendars.list(auth.account.pk)
            _ensure_unique_name(
                siblings, calendar.profile_pk, changes["name"], except_pk=calendar.pk
            )
        if changes:
            calendar = uow.calendars.update(calendar.pk, **changes)
    return {"calendar": calendar_json(calendar, services.settings.api.base_url)}


@router.delete("/calendars/{calendar_id}", status_code=202)
def delete_calendar(calendar_id: str, auth: Auth, services: Services) -> Response:
    with services.store.write() as uow:
        calendar = _live_calendar(uow, auth.account.pk, calendar_id)
        if calendar.readonly:
            raise Forbidden("the calendar is read-only", key="errors.calendar_readonly")
        if uow.events.count_live(calendar.pk) > 0:
            raise Conflict(
                "the calendar still has events; delete them first", key="calendar_has_events"
            )
        uow.calendars.soft_delete(calendar.pk)
    return Response(status_code=202)
