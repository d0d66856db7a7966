"""Availability rules (Cronofy's managed availability), per account.

* ``POST /v1/availability_rules`` upserts by ``availability_rule_id``:
  ``{availability_rule_id, tzid, calendar_ids?, weekly_periods: [{day, start_time,
  end_time}]}``; answers ``200 {"availability_rule": {...}}`` (what pycronofy's
  ``upsert_availability_rule`` reads).
* ``GET /v1/availability_rules`` → ``{"availability_rules": [...]}`` (by id);
  ``GET /v1/availability_rules/{id}`` → ``{"availability_rule": {...}}``;
  ``DELETE /v1/availability_rules/{id}`` → 202 (404 when there is no such rule).

Rules belong to the token's account: another account's rule is a 404, as if it
did not exist. A rule's weekly periods are wall-clock times in its ``tzid``
(DST-correct: see `calsync.availability.rules`); ``calendar_ids`` name the
account's calendars whose events count as busy for a member using the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from calsync.api.availability_schemas import (
    AVAILABILITY_RULE,
    AvailabilityRuleAnswer,
    AvailabilityRulesAnswer,
)
from calsync.api.deps import Auth, Services
from calsync.api.openapi import BODY_ROUTE, TOKEN_ROUTE, responses
from calsync.api.request_schemas import json_body
from calsync.api.response_schemas import NO_CONTENT_202, ok
from calsync.api.times import parse_tzid
from calsync.api.validation import Problems
from calsync.availability import DAYS, AvailabilityRule, WeeklyPeriod
from calsync.errors import NotFound
from calsync.store.records import AvailabilityRuleRecord

router = APIRouter(tags=["availability"])

MAX_RULE_ID = 64
MAX_WEEKLY_PERIODS = 100
MAX_CALENDAR_IDS = 50
#: ASCII digits only (Python's ``\\d`` is any Unicode digit); ``24:00`` ends a day.
_WALL = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00", re.ASCII)


def core_rule(record: AvailabilityRuleRecord) -> AvailabilityRule:
    """The core's rule from a stored one (stored rules were validated when written)."""
    return AvailabilityRule(
        record.tzid,
        tuple(
            WeeklyPeriod.parse(p["day"], p["start_time"], p["end_time"])
            for p in record.weekly_periods
        ),
        record.rule_id,
    )


def rule_json(record: AvailabilityRuleRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "availability_rule_id": record.rule_id,
        "tzid": record.tzid,
        "weekly_periods": [dict(p) for p in record.weekly_periods],
    }
    if record.calendar_ids is not None:
        body["calendar_ids"] = list(record.calendar_ids)
    return body


def _weekly_periods(problems: Problems, value: object) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value or len(value) > MAX_WEEKLY_PERIODS:
        problems.add(
            "weekly_periods", "errors.required", f"a list of 1 to {MAX_WEEKLY_PERIODS} periods"
        )
        return []
    found: list[dict[str, str]] = []
    for index, item in enumerate(value):
        field = f"weekly_periods.{index}"
        if not isinstance(item, Mapping):
            problems.add(field, "errors.invalid", "an object {day, start_time, end_time}")
            continue
        day, start, end = item.get("day"), item.get("start_time"), item.get("end_time")
        ok_parts = True
        if day not in DAYS:
            problems.add(f"{field}.day", "errors.invalid", "one of " + ", ".join(DAYS))
            ok_parts = False
        for name, text in (("start_time", start), ("end_time", end)):
            if not isinstance(text, str) or _WALL.fullmatch(text) is None:
                problems.add(f"{field}.{name}", "errors.invalid", "a time of day, HH:MM")
                ok_parts = False
        if not ok_parts:
            continue
        assert isinstance(day, str) and isinstance(start, str) and isinstance(end, str)
        try:
            WeeklyPeriod.parse(day, start, end)
        except ValueError:
            problems.add(f"{field}.end_time", "errors.invalid", "the end must be after the start")
            continue
        found.append({"day": day, "start_time": start, "end_time": end})
    return found


def parse_rule(
    body: Mapping[str, Any],
) -> tuple[str, str, tuple[str, ...] | None, list[dict[str, str]]]:
    """``(rule_id, tzid, calendar_ids, weekly_periods)`` or `ValidationError` (all problems)."""
    problems = Problems()
    rule_id = body.get("availability_rule_id")
    if not isinstance(rule_id, str) or not 0 < len(rule_id) <= MAX_RULE_ID:
        problems.add(
            "availability_rule_id", "errors.required", f"a string of 1 to {MAX_RULE_ID} characters"
        )
    zone = problems.check(lambda: parse_tzid(body.get("tzid")))
    calendar_ids: tuple[str, ...] | None = None
    raw_ids = body.get("calendar_ids")
    if raw_ids is not None:
        if (
            not isinstance(raw_ids, list)
            or not raw_ids
            or len(raw_ids) > MAX_CALENDAR_IDS
            or not all(isinstance(c, str) and 0 < len(c) <= 255 for c in raw_ids)
        ):
            problems.add("calendar_ids", "errors.invalid", f"a list of 1 to {MAX_CALENDAR_IDS} ids")
        else:
            calendar_ids = tuple(dict.fromkeys(raw_ids))
    periods = _weekly_periods(problems, body.get("weekly_periods"))
    problems.raise_if_any()
    assert isinstance(rule_id, str) and zone is not None
    return rule_id, str(body["tzid"]), calendar_ids, periods


@router.post(
    "/v1/availability_rules",
    response_model=None,
    responses={**ok(AvailabilityRuleAnswer), **responses(*BODY_ROUTE)},
    openapi_extra=json_body(AVAILABILITY_RULE),
)
def upsert_rule_route(
    body: Annotated[dict[str, Any], Body()], auth: Auth, services: Services
) -> dict[str, Any]:
    rule_id, tzid, calendar_ids, periods = parse_rule(body)
    account = auth.account
    with services.store.write() as uow:
        if calendar_ids is not None:
            known = uow.availability.known_calendar_ids(account.pk, calendar_ids)
            unknown = [c for c in calendar_ids if c not in known]
            if unknown:
                problems = Problems()
                problems.add(
                    "calendar_ids",
                    "errors.unknown_calendar",
                    "unknown calendar id (not a calendar of this account)",
                )
                problems.raise_if_any()
        record = uow.availability.upsert_rule(
            account.pk, rule_id, tzid=tzid, calendar_ids=calendar_ids, weekly_periods=periods
        )
    return {"availability_rule": rule_json(record)}


@router.get(
    "/v1/availability_rules",
    response_model=None,
    responses={**ok(AvailabilityRulesAnswer), **responses(*TOKEN_ROUTE)},
)
def list_rules_route(auth: Auth, services: Services) -> dict[str, Any]:
    with services.store.read() as uow:
        records = uow.availability.rules(auth.account.pk)
    return {"availability_rules": [rule_json(r) for r in records]}


@router.get(
    "/v1/availability_rules/{availability_rule_id}",
    response_model=None,
    responses={**ok(AvailabilityRuleAnswer), **responses(*TOKEN_ROUTE, 404)},
)
def get_rule_route(availability_rule_id: str, auth: Auth, services: Services) -> dict[str, Any]:
    with services.store.read() as uow:
        record = uow.availability.rule(auth.account.pk, availability_rule_id)
    return {"availability_rule": rule_json(record)}


@router.delete(
    "/v1/availability_rules/{availability_rule_id}",
    status_code=202,
    response_class=Response,
    responses={**NO_CONTENT_202, **responses(*TOKEN_ROUTE, 404)},
)
def delete_rule_route(availability_rule_id: str, auth: Auth, services: Services) -> Response:
    with services.store.write() as uow:
        if not uow.availability.delete_rule(auth.account.pk, availability_rule_id):
            raise NotFound("no such availability rule")
    return Response(status_code=202)
