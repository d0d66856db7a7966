"""Event writes: upsert, delete, bulk delete and batch.

* ``POST /v1/calendars/{calendar_id}/events`` upserts the app's event by
  ``event_id`` and answers ``202 {}``; the event is in the store (managed, push
  pending) when the response leaves, so a read right after sees it.
* ``DELETE /v1/calendars/{calendar_id}/events`` takes ``{event_id}`` (a managed
  event) or ``{event_uid}`` (any event, e.g. one synced from the provider).
  Deleting something already gone is still 202, so retries are safe.
* ``DELETE /v1/events`` deletes the app's managed events everywhere
  (``delete_all``) or in some calendars (``calendar_ids``); parameters may come
  in the query (pycronofy) or the body, never both kinds at once.
* ``POST /v1/batch`` runs up to 50 upserts/deletes, each in its own
  transaction; successes report 202 (pycronofy counts 200 as an error),
  failures their status and Cronofy error body.

A read-only calendar answers 403, a deleted one 422 (``errors.calendar_deleted``);
neither changes anything. After a write to a synced calendar commits, the
services' `LocalChanges` hears of it (the daemon pushes the change at once).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from calsync.api.deps import ApiServices, Auth, Services
from calsync.api.errors import Forbidden, response_for
from calsync.api.expand import split_occurrence_uid
from calsync.api.openapi import BODY_ROUTE, responses
from calsync.api.params import EventInput, parse_bool, parse_event_body, query_list
from calsync.api.request_schemas import (
    BATCH,
    BULK_DELETE,
    BULK_DELETE_PARAMETERS,
    EVENT_DELETE,
    EVENT_UPSERT,
    json_body,
)
from calsync.api.response_schemas import BatchAnswer, Empty, ok
from calsync.api.validation import Problems
from calsync.errors import CalsyncError, NotFound, ValidationError
from calsync.store import UnitOfWork
from calsync.store.records import AccountRecord, CalendarRecord, EventWrite

router = APIRouter(tags=["events"])
_WRITE_ERRORS = responses(*BODY_ROUTE, 403, 404)

MAX_BATCH = 50
_EVENTS_URL = re.compile(r"(?:/v1)?/calendars/(?P<calendar_id>[^/?#]+)/events/?")

JsonBody = Annotated[dict[str, Any] | None, Body()]


def _writable_calendar(uow: UnitOfWork, account_pk: int, calendar_id: str) -> CalendarRecord:
    calendar = uow.calendars.get(account_pk, calendar_id)
    check_writable(calendar)
    return calendar


def check_writable(calendar: CalendarRecord) -> None:
    """Events of a deleted or read-only calendar are not written (both dialects)."""
    if calendar.deleted:
        raise ValidationError.single(
            "calendar_id", "errors.calendar_deleted", "the calendar has been deleted"
        )
    if calendar.readonly:
        raise Forbidden("the calendar is read-only", key="errors.calendar_readonly")


def ensure_takes_new_events(uow: UnitOfWork, calendar: CalendarRecord) -> None:
    """A decommissioned agent's calendars take no new events (both dialects)."""
    if uow.agents.status_of(calendar.account_pk) == "decommissioned":
        raise Forbidden("the calendar's agent is decommissioned", key="errors.agent_decommissioned")


def upsert_event(
    services: ApiServices, account: AccountRecord, calendar_id: str, body: Mapping[str, Any]
) -> None:
    """Validate, then write in one transaction (attendee changes merge with the stored ones)."""
    event: EventInput = parse_event_body(body)
    with services.store.write() as uow:
        calendar = _writable_calendar(uow, account.pk, calendar_id)
        stored = uow.events.get_in_calendar(calendar.pk, event_id=event.event_id)
        if stored is None or stored.deleted:
            ensure_takes_new_events(uow, calendar)
        existing = stored.content.attendees if stored is not None and not stored.deleted else ()
        write = uow.events.upsert_managed(calendar.pk, event.event_id, event.content(existing))
    if write.changed:
        services.local_changes.changed([calendar])


def delete_event(
    services: ApiServices, account: AccountRecord, calendar_id: str, body: Mapping[str, Any]
) -> None:
    event_id, event_uid = body.get("event_id"), body.get("event_uid")
    if (event_id is None) == (event_uid is None):
        raise ValidationError.single(
            "event_id", "errors.required", "give exactly one of event_id or event_uid"
        )
    for name, value in (("event_id", event_id), ("event_uid", event_uid)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 1024):
            raise ValidationError.single(name, "errors.invalid", "must be a non-empty string")
    with services.store.write() as uow:
        calendar = _writable_calendar(uow, account.pk, calendar_id)
        if isinstance(event_id, str):
            write = uow.events.delete_managed(calendar.pk, event_id)
        else:
            assert isinstance(event_uid, str)
            write = _delete_by_uid(uow, calendar, event_uid)
    if write.changed:
        services.local_changes.changed([calendar])


def _delete_by_uid(uow: UnitOfWork, calendar: CalendarRecord, uid: str) -> EventWrite:
    if uow.events.get_in_calendar(calendar.pk, event_uid=uid) is None:
        # An occurrence uid (series.20260115T140000Z) names its series.
        series_uid, original = split_occurrence_uid(uid)
        if (
            original is None
            or uow.events.get_in_calendar(calendar.pk, event_uid=series_uid) is None
        ):
            raise NotFound("no such event")
        uid = series_uid
    return uow.events.delete_by_uid(calendar.pk, uid)


@router.post(
    "/v1/calendars/{calendar_id}/events",
    status_code=202,
    response_model=None,
    responses={**ok(Empty, 202, "Stored; pushed to the provider."), **_WRITE_ERRORS},
    openapi_extra=json_body(EVENT_UPSERT),
)
def upsert_event_route(
    calendar_id: str, body: Annotated[dict[str, Any], Body()], auth: Auth, services: Services
) -> dict[str, Any]:
    upsert_event(services, auth.account, calendar_id, body)
    return {}


@router.delete(
    "/v1/calendars/{calendar_id}/events",
    status_code=202,
    response_model=None,
    responses={**ok(Empty, 202, "Deleted (or already gone)."), **_WRITE_ERRORS},
    openapi_extra=json_body(EVENT_DELETE),
)
def delete_event_route(
    calendar_id: str, auth: Auth, services: Services, body: JsonBody = None
) -> dict[str, Any]:
    delete_event(services, auth.account, calendar_id, body or {})
    return {}


def _bulk_targets(request: Request, body: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """``(delete_all, calendar_ids)`` from the query (pycronofy) or the body, named once."""
    params = {k: request.query_params.getlist(k) for k in request.query_params}
    problems = Problems()
    delete_all: bool | None = None
    if "delete_all" in params:
        delete_all = problems.check(partial(parse_bool, params["delete_all"][0], "delete_all"))
    calendar_ids: list[str] = query_list(params, "calendar_ids")
    if "delete_all" in body:
        if "delete_all" in params:
            problems.add("delete_all", "errors.invalid", "given in the query and the body")
        elif not isinstance(body["delete_all"], bool):
            problems.add("delete_all", "errors.invalid", "must be true or false")
        else:
            delete_all = body["delete_all"]
    for key in ("calendar_ids", "calendar_ids[]"):
        body_ids = body.get(key)
        if body_ids is None:
            continue
        if not isinstance(body_ids, list) or not all(isinstance(c, str) for c in body_ids):
            problems.add(key, "errors.invalid", "must be a list of calendar ids")
        else:
            calendar_ids = [*calendar_ids, *body_ids]
    problems.raise_if_any()
    if delete_all and calendar_ids:
        raise ValidationError.single(
            "delete_all", "errors.invalid", "give delete_all or calendar_ids, not both"
        )
    if not delete_all and not calendar_ids:
        raise ValidationError.single(
            "delete_all", "errors.required", "give delete_all=true or calendar_ids"
        )
    return bool(delete_all), calendar_ids


@router.delete(
    "/v1/events",
    status_code=202,
    response_model=None,
    responses={**ok(Empty, 202, "Deleted."), **responses(*BODY_ROUTE, 404)},
    openapi_extra={
        "parameters": BULK_DELETE_PARAMETERS,
        **json_body(BULK_DELETE, required=False),
    },
)
def bulk_delete_route(
    request: Request, auth: Auth, services: Services, body: JsonBody = None
) -> dict[str, Any]:
    """Delete the app's managed events; events synced from providers stay."""
    everything, calendar_ids = _bulk_targets(request, body or {})
    changed: list[CalendarRecord] = []
    with services.store.write() as uow:
        if everything:
            calendars = uow.calendars.list(auth.account.pk, include_deleted=False)
        else:
            calendars = [uow.calendars.get(auth.account.pk, c) for c in dict.fromkeys(calendar_ids)]
        for calendar in calendars:
            if calendar.readonly or calendar.deleted:
                continue
            for event in uow.events.list_calendar(calendar.pk):
                if not event.managed or event.event_id is None:
                    continue
                if uow.events.delete_managed(calendar.pk, event.event_id).changed:
                    changed.append(calendar)
    services.local_changes.changed(changed)
    return {}


def _batch_entries(body: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(method, calendar_id, data)`` of every entry; any malformed entry fails the batch.

    The entries' shape is the batch's (422 for the whole request, every problem
    listed); what is wrong inside an entry's ``data`` is that entry's answer.
    """
    entries = body.get("batch")
    if not isinstance(entries, list) or not entries:
        raise ValidationError.single("batch", "errors.required", "a list of 1 to 50 entries")
    if len(entries) > MAX_BATCH:
        raise ValidationError.single(
            "batch", "errors.too_many_entries", f"at most {MAX_BATCH} entries per batch"
        )
    problems = Problems()
    found: list[tuple[str, str, Mapping[str, Any]]] = []
    for index, entry in enumerate(entries):
        field = f"batch.{index}"
        if not isinstance(entry, Mapping):
            problems.add(field, "errors.invalid", "each entry is an object")
            continue
        method, url, data = entry.get("method"), entry.get("relative_url"), entry.get("data")
        if method not in ("POST", "DELETE"):
            problems.add(f"{field}.method", "errors.invalid", "POST or DELETE")
        match = _EVENTS_URL.fullmatch(url) if isinstance(url, str) else None
        if match is None:
            problems.add(
                f"{field}.relative_url", "errors.invalid", "/v1/calendars/{calendar_id}/events"
            )
        if data is not None and not isinstance(data, Mapping):
            problems.add(f"{field}.data", "errors.invalid", "must be an object")
        if match is not None and isinstance(method, str):
            found.append((method, match["calendar_id"], data if isinstance(data, Mapping) else {}))
    problems.raise_if_any()
    return found


def _run_entry(
    services: ApiServices,
    account: AccountRecord,
    method: str,
    calendar_id: str,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    try:
        if method == "POST":
            upsert_event(services, account, calendar_id, data)
        else:
            delete_event(services, account, calendar_id, data)
    except CalsyncError as exc:
        response = response_for(exc)
        return {"status": response.status_code, "data": json.loads(bytes(response.body))}
    return {"status": 202}


@router.post(
    "/v1/batch",
    response_model=None,
    responses={**ok(BatchAnswer), **responses(*BODY_ROUTE)},
    openapi_extra=json_body(BATCH),
)
def batch_route(
    body: Annotated[dict[str, Any], Body()], auth: Auth, services: Services, response: Response
) -> dict[str, Any]:
    results = [_run_entry(services, auth.account, *entry) for entry in _batch_entries(body)]
    # Cronofy answers 207 when some entries failed; pycronofy accepts only
    # 200/202 at the HTTP level and inspects the entries itself, so stay 200.
    response.status_code = 200
    return {"batch": results}
