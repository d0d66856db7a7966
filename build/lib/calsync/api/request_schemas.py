"""OpenAPI schemas of the requests calsync parses by hand (Cronofy's flexible forms).

Event bodies, bulk deletes, batches and read queries are read by
`calsync.api.params` and `calsync.api.events`, not by pydantic models, because
their Cronofy forms are unions a model would blur (a boundary is a Time, a
Date or ``{time, tzid}``; a local time needs a tzid in scope). The schemas
here state exactly what those parsers accept, built from the same patterns
(`calsync.api.formats`) and limits. What JSON Schema cannot say is written
in the descriptions: an event's end is not before its start (both dates or
both times); a read's ``to`` is after its ``from``; recurrence lines must parse
as RFC 5545 RRULE/RDATE/EXDATE; a bulk delete names its targets once.
"""

from __future__ import annotations

from typing import Any

from calsync.api import params
from calsync.api.fields import TZID_REF
from calsync.api.formats import (
    DATE,
    LATITUDE,
    LOCAL_TIME,
    LONGITUDE,
    TIME,
    schema_pattern,
)

_NULL = {"type": "null"}

DATE_SCHEMA = {
    "type": "string",
    "pattern": schema_pattern(DATE),
    "description": "A date, YYYY-MM-DD (1900-2499).",
    "examples": ["2026-06-27"],
}
TIME_SCHEMA = {
    "type": "string",
    "pattern": schema_pattern(TIME),
    "description": "A Time: RFC 3339 with Z or an offset, whole seconds.",
    "examples": ["2026-06-27T09:00:00Z"],
}
LOCAL_TIME_SCHEMA = {
    "type": "string",
    "pattern": schema_pattern(LOCAL_TIME),
    "description": "A local time, without offset: read in the tzid in scope.",
    "examples": ["2026-06-27T09:00:00"],
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


def _text(limit: int, *, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": limit}
    if min_length:
        schema["minLength"] = min_length
    return schema


def _boundary(*, tzid_in_scope: bool) -> dict[str, Any]:
    """An event start or end; a local time only where a tzid is in scope."""
    plain = [DATE_SCHEMA, TIME_SCHEMA] + ([LOCAL_TIME_SCHEMA] if tzid_in_scope else [])
    with_own_tzid = {
        "type": "object",
        "required": ["time", "tzid"],
        "properties": {"time": {"anyOf": [*plain, LOCAL_TIME_SCHEMA]}, "tzid": TZID_REF},
    }
    without = {
        "type": "object",
        "required": ["time"],
        "properties": {
            "time": {"anyOf": plain},
            "tzid": _nullable(TZID_REF) if tzid_in_scope else _NULL,
        },
    }
    return {"anyOf": [*plain, with_own_tzid, without]}


def _coordinate(pattern: str, bound: int) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "number", "minimum": -bound, "maximum": bound},
            {"type": "string", "pattern": schema_pattern(pattern)},
            _NULL,
        ]
    }


_ATTENDEES = _nullable(
    {
        "type": "array",
        "maxItems": params.MAX_ATTENDEES,
        "items": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "maxLength": 320, "pattern": "@"}},
        },
    }
)
_RULE_LINE = {
    "type": "string",
    "description": "An RFC 5545 RRULE, RDATE or EXDATE line.",
    "examples": ["RRULE:FREQ=WEEKLY;COUNT=10"],
}
_RULE_LINES = {"type": "array", "minItems": 1, "maxItems": 50, "items": _RULE_LINE}

EVENT_UPSERT: dict[str, Any] = {
    "title": "EventUpsert",
    "type": "object",
    "description": (
        "Creates the event on the first call with its `event_id`, updates it after. "
        "`start` and `end` are both dates (all-day; `end` exclusive, after `start`) or both "
        "times (`end` not before `start`). A local time needs a tzid: the event's `tzid` or "
        "its own `{time, tzid}`. `recurrence` (calsync's extension) holds RRULE/RDATE/EXDATE "
        "lines, at least one RRULE or RDATE, repeating at most hourly."
    ),
    "required": ["event_id", "summary", "start", "end"],
    "properties": {
        "event_id": _text(params.MAX_EVENT_ID, min_length=1),
        "summary": _text(params.MAX_SUMMARY, min_length=1),
        "description": _nullable(_text(params.MAX_DESCRIPTION)),
        "tzid": _nullable(TZID_REF),
        "start": _boundary(tzid_in_scope=True),
        "end": _boundary(tzid_in_scope=True),
        "location": _nullable(
            {
                "type": "object",
                "properties": {
                    "description": _nullable(_text(params.MAX_TEXT)),
                    "lat": _coordinate(LATITUDE, 90),
                    "long": _coordinate(LONGITUDE, 180),
                },
            }
        ),
        "transparency": _nullable({"type": "string", "enum": ["opaque", "transparent"]}),
        "attendees": _nullable(
            {"type": "object", "properties": {"invite": _ATTENDEES, "reject": _ATTENDEES}}
        ),
        "url": _nullable(_text(params.MAX_URL)),
        "color": _nullable(_text(params.MAX_COLOR)),
        "recurrence": {
            "anyOf": [
                _RULE_LINE,
                _RULE_LINES,
                {
                    "type": "object",
                    "required": ["rules"],
                    "properties": {"rules": {"anyOf": [_RULE_LINE, _RULE_LINES]}},
                },
                _NULL,
            ]
        },
    },
    # Without a (non-null) event tzid, a local time is only allowed beside its own tzid.
    "if": {"required": ["tzid"], "properties": {"tzid": {"type": "string"}}},
    "else": {
        "properties": {
            "start": _boundary(tzid_in_scope=False),
            "end": _boundary(tzid_in_scope=False),
        }
    },
    "examples": [
        {
            "event_id": "qTtZdczOccgaPncGJaCiLg",
            "summary": "Board meeting",
            "start": "2026-06-27T09:00:00Z",
            "end": "2026-06-27T10:00:00Z",
        }
    ],
}

_EVENT_KEY = _text(1024, min_length=1)
EVENT_DELETE: dict[str, Any] = {
    "title": "EventDelete",
    "description": "Exactly one of `event_id` (an event of this app) or `event_uid` (any event).",
    "oneOf": [
        {
            "type": "object",
            "required": ["event_id"],
            "properties": {"event_id": _EVENT_KEY, "event_uid": _NULL},
        },
        {
            "type": "object",
            "required": ["event_uid"],
            "properties": {"event_uid": _EVENT_KEY, "event_id": _NULL},
        },
    ],
}

_CALENDAR_IDS = {"type": "array", "items": {"type": "string"}}
BULK_DELETE: dict[str, Any] = {
    "title": "BulkDelete",
    "type": "object",
    "description": (
        "`delete_all: true` or `calendar_ids`, here or in the query string, named once: "
        "the same parameter in both places, or both targets, is refused."
    ),
    "properties": {
        "delete_all": {"type": "boolean"},
        "calendar_ids": _CALENDAR_IDS,
        "calendar_ids[]": _CALENDAR_IDS,
    },
}

BATCH_URL = "(?:/v1)?/calendars/[^/?#]+/events/?"
BATCH: dict[str, Any] = {
    "title": "Batch",
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "description": (
                    "An event upsert (POST) or delete (DELETE); `data` is that call's body "
                    "and is checked per entry: its problems are the entry's status."
                ),
                "required": ["method", "relative_url"],
                "properties": {
                    "method": {"type": "string", "enum": ["POST", "DELETE"]},
                    "relative_url": {"type": "string", "pattern": schema_pattern(BATCH_URL)},
                    "data": _nullable({"type": "object"}),
                },
            },
        }
    },
}


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


_QUERY_TIME = {"anyOf": [DATE_SCHEMA, TIME_SCHEMA, LOCAL_TIME_SCHEMA]}
_FLAG = {"type": "boolean"}
_IDS = {"type": "array", "maxItems": params.MAX_CALENDAR_IDS, "items": {"type": "string"}}

READ_PARAMETERS: list[dict[str, Any]] = [
    _query("tzid", TZID_REF, "The zone that dates are read in.", required=True),
    _query("from", _QUERY_TIME, "Start of the window (a date is midnight in tzid)."),
    _query("to", _QUERY_TIME, "End of the window, exclusive, after `from`."),
    _query("last_modified", _QUERY_TIME, "Only events changed at or after this."),
    _query("include_deleted", _FLAG, "Also deleted events."),
    _query("include_managed", _FLAG, "Also the events this app manages."),
    _query("only_managed", _FLAG, "Only the events this app manages."),
    _query("localized_times", _FLAG, "Times in tzid rather than UTC."),
    _query("calendar_ids[]", _IDS, "Only these calendars.", style="form", explode=True),
    _query("calendar_ids", _IDS, "The same, without brackets.", style="form", explode=True),
]

BULK_DELETE_PARAMETERS: list[dict[str, Any]] = [
    _query("delete_all", _FLAG, "Delete the app's events in every calendar."),
    _query(
        "calendar_ids[]",
        _CALENDAR_IDS,
        "Delete the app's events in these calendars.",
        style="form",
        explode=True,
    ),
    _query(
        "calendar_ids", _CALENDAR_IDS, "The same, without brackets.", style="form", explode=True
    ),
]


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a hand-parsed JSON body."""
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}
    }
