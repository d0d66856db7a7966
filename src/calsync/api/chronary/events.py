"""Events of one calendar (``/v1/calendars/{id}/events``), by id (``/v1/events/{id}``)
and across an agent's calendars (``/v1/agents/{id}/events``).

Writes are the Cronofy upsert's: the body is mapped (`mapping.events`), then
validated by the shared parser and written by the store's single write path
as a managed event, so the row is the one Cronofy's read events returns and
it is pushed to the provider like any app write (`LocalChanges`). An event
synced from a provider can be read and deleted here, not edited (as in the
Cronofy dialect). ``metadata`` and ``reminders`` are kept beside the event
(`event_extras`); they are not content, so no provider sees them.

``delete`` with ``occurrence_start`` cancels one occurrence: an ``EXDATE`` on
the series. ``PATCH`` with ``recurrence_rule: null`` makes the event a single one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from calsync.api.chronary.auth import Org
from calsync.api.chronary.calendars import get_calendar
from calsync.api.chronary.errors import ChronaryError, not_found
from calsync.api.chronary.mapping import events as mapping
from calsync.api.chronary.openapi import responses
from calsync.api.deps import ApiServices, Services
from calsync.api.events import check_writable, ensure_takes_new_events
from calsync.api.expand import expand_series
from calsync.api.fields import Metadata
from calsync.api.params import parse_event_body
from calsync.api.times import is_valid_tzid, parse_instant
from calsync.errors import ValidationError
from calsync.model import EventContent
from calsync.model.events import EventTime
from calsync.store import UnitOfWork
from calsync.store.records import CalendarRecord, EventRecord

router = APIRouter(tags=["chronary: events"])

Reminder = Annotated[int, Field(ge=1, le=40320)]
Status = Literal["confirmed", "tentative", "cancelled", "hold"]
MAX_EXPAND_DAYS = 366


class EventFields(BaseModel):
    """What the SDK sends; the times and the rule are checked by the shared parser."""

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    description: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    all_day: bool | None = None
    status: Status | None = None
    metadata: Metadata | None = None
    reminders: Annotated[list[Reminder], Field(max_length=5)] | None = None
    recurrence_rule: Annotated[str, Field(max_length=1024)] | None = None
    recurrence_exdates: Annotated[list[str], Field(max_length=500)] | None = None

    def given(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class EventCreate(EventFields):
    title: str
    start_time: str
    end_time: str
    hold_expires_at: str | None = None
    hold_priority: int | None = None


def _refuse_holds(body: EventFields) -> None:
    hold = isinstance(body, EventCreate) and (
        body.hold_expires_at is not None or body.hold_priority is not None
    )
    if body.status == "hold" or hold:
        raise ChronaryError(
            400, "validation_error", "holds are not supported by calsync", param="status"
        )


def _event(uow: UnitOfWork, event_uid: str, calendar: CalendarRecord | None = None) -> EventRecord:
    record = uow.events.get(event_uid)
    if record is None or record.deleted:
        raise not_found("event")
    if calendar is not None and record.calendar_pk != calendar.pk:
        raise not_found("event")
    return record


def _write(
    services: ApiServices,
    org_id: str,
    calendar_id: str | None,
    event_uid: str | None,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Create an event in ``calendar_id`` (``event_uid`` None) or update one, in one
    transaction."""
    with services.store.write() as uow:
        stored: EventRecord | None = None
        if event_uid is not None:
            stored, calendar = _org_event(uow, org_id, event_uid)
        else:
            assert calendar_id is not None
            calendar = get_calendar(uow, org_id, calendar_id)
        check_writable(calendar)
        if stored is None:
            ensure_takes_new_events(uow, calendar)
        elif not stored.managed or stored.event_id is None:
            raise ChronaryError(
                403, "event_readonly", "an event synced from a provider is edited there"
            )
        body = mapping.upsert_body(fields, calendar.timezone, stored)
        parsed = parse_event_body(body)
        existing = stored.content.attendees if stored is not None else ()
        status = fields.get("status") or (stored.content.status if stored else "confirmed")
        content = replace(parsed.content(existing), status=status)
        write = uow.events.upsert_managed(calendar.pk, parsed.event_id, content)
        record = uow.events.get_in_calendar(calendar.pk, event_id=parsed.event_id)
        assert record is not None
        old = uow.event_extras.get_many([record.pk]).get(record.pk)
        metadata = fields.get("metadata")
        reminders = (
            fields.get("reminders") if "reminders" in fields else (old.reminders if old else None)
        )
        if metadata is None:
            metadata = old.metadata if old else {}
        if old is None or (metadata, reminders) != (old.metadata, old.reminders):
            uow.event_extras.set(record.pk, metadata, reminders)
        extras = uow.event_extras.get_many([record.pk]).get(record.pk)
        answer = mapping.event_json(record, extras)
    if write.changed:
        services.local_changes.changed([calendar])
    return answer


def _org_event(uow: UnitOfWork, org_id: str, event_uid: str) -> tuple[EventRecord, CalendarRecord]:
    """An event of the organization and its calendar: an event of another organization,
    or of a deleted calendar, is as unknown as none (404 ``event_not_found``)."""
    record = _event(uow, event_uid)
    try:
        calendar = get_calendar(uow, org_id, record.calendar_id)
    except ChronaryError:
        raise not_found("event") from None
    return record, calendar


def _within(calendar: CalendarRecord, event_uid: str, uow: UnitOfWork) -> EventRecord:
    return _event(uow, event_uid, calendar)


@router.post(
    "/v1/calendars/{calendar_id}/events",
    status_code=201,
    responses=responses(400, 401, 403, 404),
)
def create_event(
    calendar_id: str, body: EventCreate, org: Org, services: Services
) -> dict[str, Any]:
    _refuse_holds(body)
    fields = body.given()
    for name in ("hold_expires_at", "hold_priority"):
        fields.pop(name, None)
    return _write(services, org.org_id, calendar_id, None, fields)


@router.get("/v1/calendars/{calendar_id}/events/{event_id}", responses=responses(401, 404))
def read_event(calendar_id: str, event_id: str, org: Org, services: Services) -> dict[str, Any]:
    with services.store.read() as uow:
        calendar = get_calendar(uow, org.org_id, calendar_id)
        return _one(uow, _within(calendar, event_id, uow))


@router.get("/v1/events/{event_id}", responses=responses(401, 404))
def read_event_by_id(event_id: str, org: Org, services: Services) -> dict[str, Any]:
    with services.store.read() as uow:
        record, _ = _org_event(uow, org.org_id, event_id)
        return _one(uow, record)


def _one(uow: UnitOfWork, record: EventRecord) -> dict[str, Any]:
    extras = uow.event_extras.get_many([record.pk]).get(record.pk)
    return mapping.event_json(record, extras)


def _update(
    services: ApiServices, org_id: str, calendar_id: str | None, event_id: str, body: EventFields
) -> dict[str, Any]:
    _refuse_holds(body)
    fields = body.given()
    for name in ("title", "start_time", "end_time", "all_day", "status", "metadata"):
        if name in fields and fields[name] is None:
            del fields[name]  # the SDK leaves these out rather than null them
    if calendar_id is not None:
        with services.store.read() as uow:
            _within(get_calendar(uow, org_id, calendar_id), event_id, uow)
    return _write(services, org_id, None, event_id, fields)


@router.patch(
    "/v1/calendars/{calendar_id}/events/{event_id}", responses=responses(400, 401, 403, 404)
)
def update_event(
    calendar_id: str, event_id: str, body: EventFields, org: Org, services: Services
) -> dict[str, Any]:
    return _update(services, org.org_id, calendar_id, event_id, body)


@router.patch("/v1/events/{event_id}", responses=responses(400, 401, 403, 404))
def update_event_by_id(
    event_id: str, body: EventFields, org: Org, services: Services
) -> dict[str, Any]:
    return _update(services, org.org_id, None, event_id, body)


def _delete(
    services: ApiServices,
    org_id: str,
    calendar_id: str | None,
    event_uid: str,
    occurrence_start: str | None,
) -> Response:
    """204 for a deleted event; 200 with the series for one cancelled occurrence."""
    with services.store.write() as uow:
        record, calendar = _org_event(uow, org_id, event_uid)
        if calendar_id is not None:
            calendar = get_calendar(uow, org_id, calendar_id)
        if record.calendar_pk != calendar.pk:
            raise not_found("event")
        check_writable(calendar)
        if occurrence_start is None:
            if record.managed and record.event_id is not None:
                write = uow.events.delete_managed(calendar.pk, record.event_id)
            else:
                write = uow.events.delete_by_uid(calendar.pk, record.event_uid)
    if occurrence_start is not None:
        return JSONResponse(_cancel_occurrence(services, org_id, record, occurrence_start))
    if write.changed:
        services.local_changes.changed([calendar])
    return Response(status_code=204)


def _cancel_occurrence(
    services: ApiServices, org_id: str, record: EventRecord, occurrence_start: str
) -> dict[str, Any]:
    content = record.content
    if not content.recurrence or record.recurring_event_uid is not None:
        raise ChronaryError(409, "event_not_recurring", "the event is not a recurring series")
    original = _occurrence_start(content, occurrence_start)
    # The series gets one more EXDATE, written through the same path as any edit.
    lines = [*content.recurrence, mapping.exdate_line(original)]
    exdates = [line for line in lines if line.upper().startswith("EXDATE")]
    return _write_recurrence(services, org_id, record, mapping.recurrence_rule(content), exdates)


def _write_recurrence(
    services: ApiServices,
    org_id: str,
    record: EventRecord,
    rule: str | None,
    exdate_lines: list[str],
) -> dict[str, Any]:
    values = [_line_instant(line) for line in exdate_lines]
    return _write(
        services,
        org_id,
        None,
        record.event_uid,
        {"recurrence_rule": rule, "recurrence_exdates": [v for v in values if v]},
    )


def _line_instant(line: str) -> str | None:
    """An EXDATE line's first value as ISO text (what `upsert_body` turns back into a line)."""
    value = line.partition(":")[2].split(",")[0]
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date().isoformat()
        moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC).isoformat()


def _occurrence_start(content: EventContent, text: str) -> EventTime:
    """The occurrence of the series that starts at ``text``: 400 unless there is one."""
    try:
        if content.all_day:
            wanted: EventTime = date.fromisoformat(text[:10])
        else:
            wanted = parse_instant(text, "occurrence_start")
    except (ValueError, ValidationError):
        raise ChronaryError(
            400,
            "validation_error",
            "occurrence_start must be an ISO 8601 time",
            param="occurrence_start",
        ) from None
    zone = ZoneInfo(content.tzid) if is_valid_tzid(content.tzid) else ZoneInfo("UTC")
    if isinstance(wanted, datetime):
        window = (wanted - timedelta(seconds=1), wanted + timedelta(seconds=1))
    else:
        midnight = datetime.combine(wanted, datetime.min.time(), zone)
        window = (midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC))
    for occurrence in expand_series("x", (None, content), [], window, zone):
        if occurrence.original_start == wanted:
            return wanted
    raise ChronaryError(
        400,
        "validation_error",
        "occurrence_start is not an occurrence of this series",
        param="occurrence_start",
    )


@router.delete(
    "/v1/calendars/{calendar_id}/events/{event_id}",
    status_code=204,
    responses={
        200: {"description": "One occurrence cancelled: the series."},
        **responses(400, 401, 403, 404, 409),
    },
)
def delete_event(
    calendar_id: str,
    event_id: str,
    org: Org,
    services: Services,
    occurrence_start: str | None = None,
) -> Response:
    return _delete(services, org.org_id, calendar_id, event_id, occurrence_start)


@router.delete(
    "/v1/events/{event_id}",
    status_code=204,
    responses={
        200: {"description": "One occurrence cancelled: the series."},
        **responses(400, 401, 403, 404, 409),
    },
)
def delete_event_by_id(
    event_id: str, org: Org, services: Services, occurrence_start: str | None = None
) -> Response:
    return _delete(services, org.org_id, None, event_id, occurrence_start)
