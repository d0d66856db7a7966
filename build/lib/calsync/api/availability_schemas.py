"""OpenAPI schemas of the availability routes' bodies (hand-parsed, like event bodies).

They state exactly what `calsync.api.availability_request` and
`calsync.api.availability_rules` accept. What JSON Schema cannot say is in the
descriptions: each period's end is after its start; all periods end within 35 days
of the earliest start; a group's ``required`` is at most its number of distinct
members; a weekly period's end is after its start.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from calsync.api import availability_request as req
from calsync.api.fields import TZID_REF
from calsync.api.request_schemas import TIME_SCHEMA
from calsync.api.response_schemas import _Open
from calsync.availability.rules import DAYS

_NULL = {"type": "null"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


def _minutes(low: int, high: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["minutes"],
        "properties": {"minutes": {"type": "integer", "minimum": low, "maximum": high, **extra}},
    }


def _ids(limit: int) -> dict[str, Any]:
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": limit,
        "items": {"type": "string", "minLength": 1, "maxLength": req.MAX_ID_LENGTH},
    }


_PERIOD = {
    "type": "object",
    "required": ["start", "end"],
    "properties": {"start": TIME_SCHEMA, "end": TIME_SCHEMA},
}
_PERIODS = {
    "type": "array",
    "minItems": 1,
    "maxItems": req.MAX_PERIODS,
    "items": _PERIOD,
    "description": "Each end after its start; all ending within 35 days of the earliest start.",
}
_SLOTS = {
    "type": "array",
    "minItems": 1,
    "maxItems": req.MAX_PERIODS,
    "items": {"type": "object", "required": ["start"], "properties": {"start": TIME_SCHEMA}},
    "description": "Slot starts, each slot `required_duration` long; within 35 days.",
}
_SUB = {"type": "string", "minLength": 1, "maxLength": req.MAX_ID_LENGTH}
_MEMBER = {
    "anyOf": [
        _SUB,
        {
            "type": "object",
            "required": ["sub"],
            "properties": {
                "sub": _SUB,
                "calendar_ids": _nullable(_ids(req.MAX_CALENDAR_IDS)),
                "available_periods": _nullable(_PERIODS),
                "managed_availability": _nullable({"type": "boolean"}),
                "availability_rule_ids": _nullable(_ids(req.MAX_RULE_IDS)),
            },
        },
    ]
}
_GROUP = {
    "type": "object",
    "required": ["members"],
    "properties": {
        "members": {
            "type": "array",
            "minItems": 1,
            "maxItems": req.MAX_MEMBERS,
            "items": _MEMBER,
        },
        "required": {
            "anyOf": [
                {"type": "string", "enum": ["all"]},
                {"type": "integer", "minimum": 1, "maximum": req.MAX_MEMBERS},
                _NULL,
            ],
            "description": '"all" (the default) or how many distinct members must be free, '
            "at most the group's number of distinct members.",
        },
    },
}

AVAILABILITY_QUERY: dict[str, Any] = {
    "title": "AvailabilityQuery",
    "type": "object",
    "description": (
        "Give exactly one of `query_periods`, `available_periods` (its older name, which "
        "pycronofy sends) or `query_slots`. See the API reference for how periods, slots, "
        "buffers and `max_results` are read."
    ),
    "required": ["participants", "required_duration"],
    "oneOf": [
        {"required": ["query_periods"]},
        {"required": ["available_periods"]},
        {"required": ["query_slots"]},
    ],
    "properties": {
        "participants": {
            "anyOf": [
                {"type": "array", "minItems": 1, "maxItems": req.MAX_GROUPS, "items": _GROUP},
                _GROUP,
            ]
        },
        "required_duration": _minutes(1, req.MAX_DURATION_MINUTES),
        "query_periods": _PERIODS,
        "available_periods": _PERIODS,
        "query_slots": _SLOTS,
        "buffer": _nullable(
            {
                "type": "object",
                "properties": {
                    "before": _nullable(_minutes(0, req.MAX_BUFFER_MINUTES)),
                    "after": _nullable(_minutes(0, req.MAX_BUFFER_MINUTES)),
                },
            }
        ),
        "start_interval": _nullable(
            {
                "type": "object",
                "required": ["minutes"],
                "properties": {"minutes": {"type": "integer", "enum": list(req.START_INTERVALS)}},
            }
        ),
        "response_format": _nullable(
            {"type": "string", "enum": ["periods", "slots", "overlapping_slots"]}
        ),
        "max_results": _nullable({"type": "integer", "minimum": 1, "maximum": req.MAX_MAX_RESULTS}),
    },
    "examples": [
        {
            "participants": [
                {"members": [{"sub": "acc_5ba21743f408617d1269ea1e"}], "required": "all"}
            ],
            "required_duration": {"minutes": 60},
            "query_periods": [{"start": "2026-06-27T09:00:00Z", "end": "2026-06-27T18:00:00Z"}],
        }
    ],
}

_WALL_TIME = {"type": "string", "pattern": "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"}
AVAILABILITY_RULE: dict[str, Any] = {
    "title": "AvailabilityRuleUpsert",
    "type": "object",
    "description": "Creates the rule on the first call with its id, replaces it after. "
    "Each weekly period's end is after its start (`24:00` is the end of the day).",
    "required": ["availability_rule_id", "tzid", "weekly_periods"],
    "properties": {
        "availability_rule_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "tzid": TZID_REF,
        "calendar_ids": _nullable(_ids(req.MAX_CALENDAR_IDS)),
        "weekly_periods": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["day", "start_time", "end_time"],
                "properties": {
                    "day": {"type": "string", "enum": list(DAYS)},
                    "start_time": _WALL_TIME,
                    "end_time": _WALL_TIME,
                },
            },
        },
    },
}


class AvailableParticipant(_Open):
    sub: str


class AvailableResult(_Open):
    start: str
    end: str
    participants: list[AvailableParticipant]


class AvailabilityAnswer(_Open):
    """`available_periods` for `periods`, `available_slots` for the slot formats."""

    available_periods: list[AvailableResult] | None = None
    available_slots: list[AvailableResult] | None = None


class WeeklyPeriodOut(_Open):
    day: str
    start_time: str
    end_time: str


class AvailabilityRuleOut(_Open):
    availability_rule_id: str
    tzid: str
    calendar_ids: list[str] | None = None
    weekly_periods: list[WeeklyPeriodOut]


class AvailabilityRuleAnswer(_Open):
    availability_rule: AvailabilityRuleOut


class AvailabilityRulesAnswer(_Open):
    availability_rules: list[AvailabilityRuleOut]


__all__ = [
    "AVAILABILITY_QUERY",
    "AVAILABILITY_RULE",
    "AvailabilityAnswer",
    "AvailabilityRuleAnswer",
    "AvailabilityRulesAnswer",
    "BaseModel",
]
