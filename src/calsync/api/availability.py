"""``POST /v1/availability``: when are the participants free, across every synced calendar.

Who may ask (Cronofy's rules): an account's access token, for its own sub only;
the application's client secret as bearer (Cronofy's "API key"), for any sub of
the application. An account token naming any other sub is refused with 403 and
no data, whether that sub exists or not (so a token cannot probe for subs); with
the API key an unknown sub is a 422 on its field.

The request is validated first (`availability_request`: every problem at once,
never a 5xx). Then one read transaction: the members' accounts in one query
(their versions key the caches), each member's busy candidates in ONE indexed
query (`store.repos.busy`), the managed members' rules in one query; the series
are expanded and the pure core (`calsync.availability`) answers.

Caching, never stale: the rendered answer is kept in the read cache under the
request body and every member account's version (``last_change_seq``, moved by
each event write, calendar change and availability-rule change) as read at the
start of the transaction, and each member's busy time in `BusyCache` under its
account's version. An entry filed under version N holds data at least as new as
N; once a write commits, every later request reads a higher version and misses.
Under the same versions sit the managed members' rules (`_rules`) and each member's
free time for the question's periods and buffer (`_free_time_memo`), so a new question
that differs only in duration, format or max_results reuses the expensive part, and a
write to one member's calendar recomputes that member only, from its kept rows plus the
rows written since (`_member_rows`), its unchanged series from the series cache.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Hashable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from calsync.api.availability_busy import BusyCache, busy_intervals
from calsync.api.availability_request import ParsedQuery, parse_availability
from calsync.api.availability_rules import core_rule
from calsync.api.availability_schemas import AVAILABILITY_QUERY, AvailabilityAnswer
from calsync.api.deps import ApiServices, Services, _bearer_scheme, bearer_token, require_account
from calsync.api.errors import Forbidden
from calsync.api.openapi import BODY_ROUTE, responses
from calsync.api.request_schemas import json_body
from calsync.api.response_schemas import ok
from calsync.availability import (
    AvailabilityRule,
    AvailableResult,
    Interval,
    Member,
    find_availability,
)
from calsync.availability.engine import FreeTimeMemo
from calsync.errors import ValidationError
from calsync.store import UnitOfWork
from calsync.store.records import AccountRecord, AvailabilityRuleRecord, BusyRow

router = APIRouter(tags=["availability"])


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asks: an account (its token), or the application (``account`` None)."""

    account: AccountRecord | None


def is_api_key(services: ApiServices, token: str) -> bool:
    secret = services.settings.api.client_secret_file
    return secret is not None and hmac.compare_digest(token.encode(), secret.reveal().encode())


async def require_asker(
    request: Request,
    services: Services,
    declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> Asker:
    """The application for its client secret as bearer, else the token's account (401)."""
    token = bearer_token(request)
    if token is not None and is_api_key(services, token):
        return Asker(None)
    context = await require_account(request, services, declared)
    return Asker(context.account)


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def render(results: list[AvailableResult], key: str) -> bytes:
    items = [
        {
            "start": _instant(r.start),
            "end": _instant(r.end),
            "participants": [{"sub": sub} for sub in r.participants],
        }
        for r in results
    ]
    return json.dumps({key: items}, separators=(",", ":")).encode()


def _window(parsed: ParsedQuery) -> tuple[datetime, datetime]:
    """The busy time that can matter: a busy ``[a, b)`` blocks ``[a - after, b + before)``."""
    query = parsed.query
    start = min(p[0] for p in query.query_periods) - query.buffer.before
    end = max(p[1] for p in query.query_periods) + query.buffer.after
    return start, end


class _Reads:
    """The request's read transaction, begun only when a cache misses: a question over
    cached members needs no transaction beyond the versions' one statement."""

    def __init__(self, services: ApiServices, stack: ExitStack) -> None:
        self._services = services
        self._stack = stack
        self._uow: UnitOfWork | None = None

    def __call__(self) -> UnitOfWork:
        if self._uow is None:
            self._uow = self._stack.enter_context(self._services.store.read())
        return self._uow


def _accounts(services: ApiServices, parsed: ParsedQuery) -> dict[str, AccountRecord]:
    accounts = services.store.accounts_by_sub(parsed.subs)
    unknown = [sub for sub in parsed.subs if sub not in accounts]
    if unknown:
        raise ValidationError(
            {
                f"{parsed.fields[sub]}.sub": [
                    {"key": "errors.unknown_sub", "description": "unknown sub"}
                ]
                for sub in unknown
            }
        )
    return accounts


def _rules(
    reads: _Reads,
    parsed: ParsedQuery,
    accounts: Mapping[str, AccountRecord],
    cache: BusyCache[Any],
) -> tuple[dict[str, list[AvailabilityRule]], dict[str, tuple[str, ...] | None]]:
    """The managed members' rules, and each member's busy calendars (a managed member
    without calendar_ids of its own reads its rules' calendars when they all name some).

    Rules are kept in ``cache`` by (account, version): every rule change moves the
    account's version, so an entry is never stale, and a new question over the same
    members reads no rules."""
    managed = {
        member.sub
        for group in parsed.query.participants
        for member in group.members
        if member.managed_availability
    }
    calendars = dict(parsed.calendar_ids)
    if not managed:
        return {}, calendars
    found: dict[str, tuple[tuple[AvailabilityRuleRecord, ...], list[AvailabilityRule]]] = {}
    for sub in managed:
        kept = cache.get(("rules", accounts[sub].pk, accounts[sub].last_change_seq))
        if kept is not None:
            found[sub] = kept
    missing = [sub for sub in managed if sub not in found]
    if missing:
        stored = reads().availability.rules_of([accounts[sub].pk for sub in missing])
        for sub in missing:
            records = tuple(stored[accounts[sub].pk])
            found[sub] = (records, [core_rule(r) for r in records])
            cache.put(("rules", accounts[sub].pk, accounts[sub].last_change_seq), found[sub])
    rules: dict[str, list[AvailabilityRule]] = {}
    for sub in managed:
        records, rules[sub] = found[sub]
        if calendars[sub] is None and records and all(r.calendar_ids for r in records):
            calendars[sub] = tuple(dict.fromkeys(c for r in records for c in r.calendar_ids or ()))
    return rules, calendars


def _check_calendars(
    reads: _Reads, parsed: ParsedQuery, accounts: Mapping[str, AccountRecord]
) -> None:
    problems: dict[str, list[dict[str, str]]] = {}
    for sub, ids in parsed.calendar_ids.items():
        if ids is None:
            continue
        unknown = set(ids) - reads().availability.known_calendar_ids(accounts[sub].pk, ids)
        if unknown:
            problems[f"{parsed.fields[sub]}.calendar_ids"] = [
                {
                    "key": "errors.unknown_calendar",
                    "description": "unknown calendar id (not a calendar of this member)",
                }
            ]
    if problems:
        raise ValidationError(problems)


def answer(services: ApiServices, parsed: ParsedQuery, body_key: bytes) -> bytes:
    """The rendered answer (see the module doc for the reads and the caches).

    The versions are read first, in one statement; whatever a cache misses is read
    after them in one transaction, so it is at least as new as the versions it is kept
    under (the caches' rule)."""
    accounts = _accounts(services, parsed)
    versions = tuple(
        (sub, accounts[sub].pk, accounts[sub].last_change_seq, accounts[sub].email)
        for sub in parsed.subs
    )
    cache_key = ("availability", body_key, versions)
    cached = services.read_cache.get(cache_key)
    if cached is not None:
        return cached
    with ExitStack() as stack:
        reads = _Reads(services, stack)
        _check_calendars(reads, parsed, accounts)
        rules, calendars = _rules(reads, parsed, accounts, services.rules_cache)
        window = _window(parsed)
        busy: dict[str, list[Interval]] = {}
        busy_keys: dict[str, Hashable] = {}
        for sub in parsed.subs:
            account = accounts[sub]
            ids = calendars[sub]
            busy_key = (account.pk, account.last_change_seq, account.email, ids, window)
            found = services.busy_cache.get(busy_key)
            if found is None:
                rows = _member_rows(reads, services.rows_cache, account, ids, window)
                found = busy_intervals(rows, window, account.email, services.series_cache)
                services.busy_cache.put(busy_key, found)
            busy[sub] = found
            busy_keys[sub] = busy_key
    results = find_availability(
        parsed.query, busy, rules, _free_time_memo(services.free_cache, parsed, busy_keys)
    )
    body = render(results, parsed.answer_key)
    services.read_cache.put(cache_key, body)
    return body


@dataclass(frozen=True, slots=True)
class _KeptRows:
    """A member's busy rows as of ``version``, by event uid, and its calendars' states
    read with them."""

    version: int
    calendars: tuple[tuple[int, bool], ...]
    rows: dict[str, BusyRow]


def _member_rows(
    reads: _Reads,
    cache: BusyCache[_KeptRows],
    account: AccountRecord,
    ids: tuple[str, ...] | None,
    window: tuple[datetime, datetime],
) -> list[BusyRow]:
    """A member's busy rows (`AvailabilityRepo.busy_rows`), after a write to it read as
    the rows kept from its previous version plus those written since (`busy_changes`):
    re-reading and rebuilding all ~1,100 was most of a new question's cost after a write.

    Kept under ``account.last_change_seq`` as read before this read transaction, so the
    rows are at least that new and the next delta (``change_seq >`` it) re-reads nothing
    too few (one read twice is replaced by uid). A calendar deleted or restored moves the
    version but no event's ``change_seq``: when the calendars' states differ from the
    kept ones, everything is read again."""
    key = (account.pk, ids, window)
    uow = reads()
    calendars = uow.availability.calendar_states(account.pk)
    kept = cache.get(key)
    if kept is not None and kept.calendars == calendars and kept.version <= account.last_change_seq:
        rows = dict(kept.rows)
        for uid, row in uow.availability.busy_changes(account.pk, ids, window, kept.version):
            if row is None:
                rows.pop(uid, None)
            else:
                rows[uid] = row
    else:
        rows = {row.event_uid: row for row in uow.availability.busy_rows(account.pk, ids, window)}
    cache.put(key, _KeptRows(account.last_change_seq, calendars, rows))
    return list(rows.values())


def _free_time_memo(
    cache: BusyCache[list[Interval]], parsed: ParsedQuery, busy_keys: Mapping[str, Hashable]
) -> FreeTimeMemo:
    """Each member's free time kept by what it depends on: the member as listed
    (``available_periods``, managed, rule ids), its busy key (account version, which
    every event, calendar and rule change moves; calendars; window), the query periods
    and the buffer. A question that differs only in duration, format or max_results
    reuses it; any change to those inputs is a new key, so an entry is never stale."""
    query = parsed.query
    shape = (query.query_periods, query.buffer)

    def memo(member: Member, compute: Callable[[], list[Interval]]) -> list[Interval]:
        key = (member, busy_keys[member.sub], shape)
        found = cache.get(key)
        if found is None:
            found = compute()
            cache.put(key, found)
        return found

    return memo


def authorize(asker: Asker, parsed: ParsedQuery) -> None:
    """An account token asks for its own sub only: 403, before anything is read."""
    if asker.account is None:
        return
    others = [sub for sub in parsed.subs if sub != asker.account.sub]
    if others:
        raise Forbidden("an account's token may only query its own sub's availability")


@router.post(
    "/v1/availability",
    response_model=None,
    responses={**ok(AvailabilityAnswer), **responses(*BODY_ROUTE, 403)},
    openapi_extra={
        **json_body(AVAILABILITY_QUERY),
        "security": [{"bearer": []}],
    },
)
async def availability_route(
    request: Request,
    body: Annotated[dict[str, Any], Body()],
    asker: Annotated[Asker, Depends(require_asker)],
    services: Services,
) -> Response:
    # The raw bytes key the parse and the answer: the same bytes are the same question.
    body_key = await request.body()
    parsed = services.parsed_cache.get(body_key)
    if parsed is None:
        parsed = parse_availability(body)
        services.parsed_cache.put(body_key, parsed)
    authorize(asker, parsed)
    content = await run_in_threadpool(answer, services, parsed, body_key)
    return Response(content=content, media_type="application/json")
