"""``GET /v1/events`` and ``GET /v1/free_busy``, and their ``/pages/{token}`` forms.

Paging walks the stored rows in ``(updated, pk)`` order (the store's indexed
keyset order) and expands each row: a single event gives zero or one item, a
recurring master gives its occurrences inside the window. A page therefore
holds ``page_size`` stored rows, which may be more items when series expand.
Ordering by ``updated`` has a useful property: a row that changes between two
page fetches can only move *forward* past the cursor, so nothing is skipped (it
may show up twice, which incremental clients tolerate).

Occurrence identity: each occurrence's ``event_uid`` is
``<series event_uid>.<original start>`` (`calsync.api.expand.occurrence_uid`),
stable across reads and distinct within the series; managed occurrences keep
the series' ``event_id``. Overrides are shown through their master's
expansion. With ``last_modified`` an override that changed is also returned on
its own (its master may not have changed), so incremental clients see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from calsync.api.deps import ApiServices, Auth, Services
from calsync.api.expand import Occurrence, expand_series, iter_single, occurrence_uid
from calsync.api.openapi import TOKEN_ROUTE, responses
from calsync.api.paging import (
    FIRST_PAGE,
    PageState,
    decode_token,
    derive_key,
    encode_token,
    process_key,
    rows_for,
    walk_total,
)
from calsync.api.params import ReadQuery, parse_read_query
from calsync.api.request_schemas import READ_PARAMETERS
from calsync.api.response_schemas import EventsAnswer, FreeBusyAnswer, ok
from calsync.api.times import format_event_time, format_instant
from calsync.errors import NotFound
from calsync.model import Attendee, EventContent, EventTime
from calsync.store import EventQuery, UnitOfWork
from calsync.store.records import AccountRecord, CalendarRecord, EventRecord

router = APIRouter(tags=["events"])

EVENTS, FREE_BUSY = "events", "free_busy"


@dataclass(frozen=True, slots=True)
class PageResult:
    items: list[dict[str, Any]]
    has_more: bool
    last_key: tuple[datetime, int] | None


def _utc_instant(value: datetime) -> str:
    """`format_instant` without a zone, ~2x faster for the aware-UTC values the store returns.

    A page formats ~400 instants; the general path (astimezone, two replaces)
    was the largest single cost of rendering.
    """
    if value.tzinfo is UTC:
        return value.isoformat(timespec="seconds")[:19] + "Z"
    return format_instant(value)


def _event_time(value: EventTime, zone: ZoneInfo | None) -> str:
    if zone is None and isinstance(value, datetime):
        return _utc_instant(value)
    return format_event_time(value, zone)


def _attendee_json(a: Attendee) -> dict[str, Any]:
    return {"email": a.email, "display_name": a.display_name or a.email, "status": a.status}


def _participation(content: EventContent, email: str, managed: bool) -> str:
    """``email`` is the account's, lower-cased ('' when it has none)."""
    if email:
        for attendee in content.attendees:
            if attendee.email.lower() == email:
                return attendee.status
        if content.organizer is not None and content.organizer.email.lower() == email:
            return "accepted"
    return "accepted" if managed else "unknown"


def event_json(
    row: EventRecord,
    occ: Occurrence[EventRecord],
    uid: str,
    calendar: CalendarRecord,
    account: AccountRecord,
    zone: ZoneInfo | None,
) -> dict[str, Any]:
    """One event (or occurrence) in Cronofy's Read Events shape."""
    return EventRenderer(account, zone).render(row, occ, uid, calendar)


class EventRenderer:
    """Renders the events of one page; what is the same for every row is worked out once."""

    __slots__ = ("_email", "_zone")

    def __init__(self, account: AccountRecord, zone: ZoneInfo | None) -> None:
        self._email = (account.email or "").lower()
        self._zone = zone

    def render(
        self,
        row: EventRecord,
        occ: Occurrence[EventRecord],
        uid: str,
        calendar: CalendarRecord,
    ) -> dict[str, Any]:
        content = occ.content
        zone = self._zone
        writable = not calendar.readonly and not calendar.deleted
        cancelled = content.status == "cancelled" and row.recurring_event_uid is not None
        attendees = content.attendees
        body: dict[str, Any] = {
            "calendar_id": calendar.calendar_id,
            "event_uid": uid,
            "summary": content.summary,
            "description": content.description,
            "start": _event_time(occ.start, zone),
            "end": _event_time(occ.end, zone),
            "deleted": row.deleted or cancelled,
            "created": _utc_instant(row.created),
            "updated": _utc_instant(row.updated),
            "participation_status": _participation(content, self._email, row.managed),
            "attendees": [_attendee_json(a) for a in attendees],
            "transparency": content.transparency,
            "status": content.status,
            "categories": [],
            "recurring": row.recurring_event_uid is not None or row.content.recurring,
            "event_private": content.private,
            "options": {
                "delete": writable,
                "update": writable and row.managed,
                "change_participation_status": writable and bool(attendees),
            },
            "meeting_url": content.url,
        }
        if row.managed and row.event_id is not None:
            body["event_id"] = row.event_id
        loc = content.location
        if loc is not None:
            body["location"] = {
                k: v
                for k, v in (("description", loc.description), ("lat", loc.lat), ("long", loc.long))
                if v is not None
            }
        organizer = content.organizer
        if organizer is not None:
            body["organizer"] = {
                "email": organizer.email,
                "display_name": organizer.display_name or organizer.email,
            }
        return body


def free_busy_json(
    row: EventRecord, occ: Occurrence[EventRecord], zone: ZoneInfo | None
) -> dict[str, Any] | None:
    """A free/busy block; cancelled events block nothing and are left out."""
    content = occ.content
    if content.status == "cancelled":
        return None
    if content.transparency == "transparent":
        status = "free"
    elif content.status == "tentative":
        status = "tentative"
    else:
        status = "busy"
    return {
        "calendar_id": row.calendar_id,
        "start": _event_time(occ.start, zone),
        "end": _event_time(occ.end, zone),
        "free_busy_status": status,
    }


def token_key(services: ApiServices) -> bytes:
    """Derived from the client secret when configured (same on every replica)."""
    secret = services.settings.api.client_secret_file
    return derive_key(secret.reveal()) if secret is not None else process_key()


def _calendars(
    uow: UnitOfWork, account: AccountRecord, query: ReadQuery
) -> dict[int, CalendarRecord]:
    if query.calendar_ids:
        found = [uow.calendars.get(account.pk, c) for c in query.calendar_ids]
    else:
        found = uow.calendars.list(account.pk)
    return {c.pk: c for c in found}


def _key_of(after: list[Any] | None) -> tuple[datetime, int] | None:
    return None if after is None else (datetime.fromisoformat(after[0]), int(after[1]))


def _store_query(
    account: AccountRecord,
    calendars: dict[int, CalendarRecord],
    query: ReadQuery,
    state: PageState,
    limit: int,
) -> EventQuery:
    after = _key_of(state.after)
    return EventQuery(
        account_pk=account.pk,
        calendar_pks=list(calendars) if query.calendar_ids else None,
        since=query.last_modified,
        include_deleted=query.include_deleted,
        include_managed=query.include_managed or query.only_managed,
        only_managed=query.only_managed,
        window=query.window,
        after=after,
        limit=limit,
    )


def _occurrences(
    uow: UnitOfWork, rows: list[EventRecord], query: ReadQuery
) -> list[tuple[EventRecord, Occurrence[EventRecord], str]]:
    """Expand one page of rows into ``(row, occurrence, event_uid)`` in row order."""
    zone, window = query.zone, query.window
    masters = [r.event_uid for r in rows if r.content.recurring and r.recurring_event_uid is None]
    overrides: dict[str, list[EventRecord]] = {}
    for inst in uow.events.list_instances(masters) if masters else []:
        if not inst.deleted and inst.content.original_start is not None:
            overrides.setdefault(inst.recurring_event_uid or "", []).append(inst)
    live_master: dict[str, bool] = {}
    out: list[tuple[EventRecord, Occurrence[EventRecord], str]] = []
    for row in rows:
        if row.recurring_event_uid is not None and row.content.original_start is not None:
            series = row.recurring_event_uid
            if series not in live_master:
                master = uow.events.get(series)
                live_master[series] = master is not None and not master.deleted
            # Shown through the master's expansion, except in incremental reads
            # (its master may be unchanged) or when the master is gone.
            if live_master[series] and query.last_modified is None:
                continue
            if row.deleted and live_master[series]:
                continue  # the occurrence reverts to the rule; the master shows it
            uid = occurrence_uid(series, row.content.original_start)
            out.extend((row, o, uid) for o in iter_single(row, row.content, window, zone))
        elif row.content.recurring:
            series_overrides = [(o, o.content) for o in overrides.get(row.event_uid, [])]
            for occ in expand_series(
                row.event_uid, (row, row.content), series_overrides, window, zone
            ):
                out.append((row, occ, occurrence_uid(row.event_uid, occ.original_start)))
        else:
            out.extend((row, o, row.event_uid) for o in iter_single(row, row.content, window, zone))
    return out


def count_rows(uow: UnitOfWork, account: AccountRecord, query: ReadQuery) -> int:
    """The stored rows a whole walk of ``query`` covers (what ``pages.total`` is made of)."""
    calendars = _calendars(uow, account, query)
    return uow.event_reads.count_changed(_store_query(account, calendars, query, FIRST_PAGE, 0))


def read_page(
    uow: UnitOfWork,
    account: AccountRecord,
    query: ReadQuery,
    state: PageState,
    page_size: int,
    kind: str,
) -> PageResult:
    """One page: at most ``page_size`` stored rows after ``state.after``, expanded and rendered."""
    calendars = _calendars(uow, account, query)
    rows = uow.events.list_changed(_store_query(account, calendars, query, state, page_size + 1))
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    render_zone = query.zone if query.localized_times else None
    renderer = EventRenderer(account, render_zone)
    items: list[dict[str, Any]] = []
    for row, occ, uid in _occurrences(uow, rows, query):
        calendar = calendars.get(row.calendar_pk)
        if calendar is None:
            continue
        if kind == EVENTS:
            items.append(renderer.render(row, occ, uid, calendar))
        elif not row.deleted:
            block = free_busy_json(row, occ, render_zone)
            if block is not None:
                items.append(block)
    return PageResult(items, has_more, rows[-1].page_key if rows else None)


def _render(
    services: ApiServices,
    account: AccountRecord,
    query: ReadQuery,
    state: PageState,
    kind: str,
) -> bytes:
    page_size = services.settings.api.page_size
    with services.render_slot(), services.store.read() as uow:
        result = read_page(uow, account, query, state, rows_for(state, page_size), kind)
        total = walk_total(
            state, result.has_more, lambda: count_rows(uow, account, query), page_size
        )
    pages: dict[str, Any] = {"current": state.current, "total": total}
    # Every page before the last links on, even an empty one (rows deleted behind it).
    after = result.last_key or _key_of(state.after)
    if state.current < total and after is not None:
        payload = {
            "a": account.sub,
            "k": kind,
            "q": query.to_json(),
            "p": state.current + 1,
            "t": total,
            "after": [after[0].isoformat(), after[1]],
        }
        token = encode_token(payload, token_key(services))
        pages["next_page"] = f"{services.settings.api.base_url}/v1/{kind}/pages/{token}"
    # The bodies are plain JSON types already: no jsonable_encoder walk (it cost
    # more than rendering the page); Starlette's JSONResponse encoding, as bytes.
    return json.dumps(
        {"pages": pages, kind: result.items},
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    ).encode("utf-8")


async def _serve(
    services: ApiServices,
    account: AccountRecord,
    query: ReadQuery,
    state: PageState,
    kind: str,
) -> Response:
    """The page from the read cache, else rendered in the thread pool (and kept).

    Runs on the event loop so a hit costs no thread hop; see
    `calsync.api.read_cache` for why the key cannot serve stale data.
    """
    key = (
        account.pk,
        account.last_change_seq,
        account.email,
        kind,
        query,
        state.current,
        state.total,
        tuple(state.after) if state.after is not None else None,
    )

    async def render() -> bytes:
        return await run_in_threadpool(_render, services, account, query, state, kind)

    body = await services.read_cache.get_or_render(key, render)
    return Response(content=body, media_type="application/json")


def _first_query(request: Request, services: ApiServices) -> ReadQuery:
    params = {k: request.query_params.getlist(k) for k in request.query_params}
    sync = services.settings.sync
    return parse_read_query(
        params,
        now=services.now(),
        past_days=sync.window_past_days,
        future_days=sync.window_future_days,
    )


def _page_of(
    token: str, services: ApiServices, account: AccountRecord, kind: str
) -> tuple[ReadQuery, PageState]:
    payload = decode_token(token, token_key(services))
    if payload.get("a") != account.sub or payload.get("k") != kind:
        raise NotFound("unknown page")
    try:
        query = ReadQuery.from_json(payload["q"])
        state = PageState(int(payload["p"]), int(payload["t"]), list(payload["after"]))
    except (KeyError, TypeError, ValueError):
        raise NotFound("unknown page") from None
    return query, state


_READ_RESPONSES = responses(*TOKEN_ROUTE, 404, 422)
_READ_EXTRA: dict[str, Any] = {"parameters": READ_PARAMETERS}
_PAGE_RESPONSES = responses(*TOKEN_ROUTE, 404)


@router.get(
    "/v1/events",
    response_class=JSONResponse,
    response_model=None,
    responses={**ok(EventsAnswer), **_READ_RESPONSES},
    openapi_extra=_READ_EXTRA,
)
async def read_events(request: Request, auth: Auth, services: Services) -> Response:
    query = _first_query(request, services)
    return await _serve(services, auth.account, query, FIRST_PAGE, EVENTS)


@router.get(
    "/v1/events/pages/{token}",
    response_class=JSONResponse,
    response_model=None,
    responses={**ok(EventsAnswer), **_PAGE_RESPONSES},
)
async def read_events_page(token: str, auth: Auth, services: Services) -> Response:
    query, state = _page_of(token, services, auth.account, EVENTS)
    return await _serve(services, auth.account, query, state, EVENTS)


@router.get(
    "/v1/free_busy",
    response_class=JSONResponse,
    response_model=None,
    responses={**ok(FreeBusyAnswer), **_READ_RESPONSES},
    openapi_extra=_READ_EXTRA,
)
async def read_free_busy(request: Request, auth: Auth, services: Services) -> Response:
    query = _first_query(request, services)
    return await _serve(services, auth.account, query, FIRST_PAGE, FREE_BUSY)


@router.get(
    "/v1/free_busy/pages/{token}",
    response_class=JSONResponse,
    response_model=None,
    responses={**ok(FreeBusyAnswer), **_PAGE_RESPONSES},
)
async def read_free_busy_page(token: str, auth: Auth, services: Services) -> Response:
    query, state = _page_of(token, services, auth.account, FREE_BUSY)
    return await _serve(services, auth.account, query, state, FREE_BUSY)
