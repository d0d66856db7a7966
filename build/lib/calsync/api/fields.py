"""Field types shared by the request models: one check, one schema, one error key each.

A validator here raises ``PydanticCustomError(kind, ...)``, which the error
handler reports as ``errors.<kind>`` under the field, beside every other
problem pydantic found in the same body (`calsync.api.errors.validation_fields`).
The JSON schema each type shows is exactly what its check accepts.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from calsync.api.formats import NOT_BLANK, is_time_zone, strip_blank, time_zones

#: The components the OpenAPI document adds beside pydantic's (see `calsync.api.app`).
TZID_REF = {"$ref": "#/components/schemas/Tzid"}

MAX_NAME_LENGTH = 1024
MAX_METADATA_BYTES = 16 * 1024
COLOR_PATTERN = "^#[0-9A-Fa-f]{6}$"
_COLOR = re.compile(COLOR_PATTERN, re.ASCII)


def _zone(value: str) -> str:
    if not is_time_zone(value):
        raise PydanticCustomError(
            "invalid_timezone", "{tzid!r} is not an IANA time zone", {"tzid": value[:64]}
        )
    return value


def _color(value: str) -> str:
    if not _COLOR.fullmatch(value):
        raise PydanticCustomError("invalid_color", "color must be #RRGGBB")
    return value.upper()


def _name(value: str) -> str:
    name = strip_blank(value)
    if not name:
        raise PydanticCustomError("required", "name is required")
    return name


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise PydanticCustomError(
            "metadata_too_large",
            "metadata is {size} bytes; the limit is {limit}",
            {"size": size, "limit": MAX_METADATA_BYTES},
        )
    return value


def _not_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("required", "may be left out, but not null")
    return value


Tzid = Annotated[str, AfterValidator(_zone), WithJsonSchema(TZID_REF)]
#: The same check for a required field: a bare ``$ref`` beside the field's title
#: is one pydantic tries to resolve itself, so the reference sits in an ``allOf``.
RequiredTzid = Annotated[str, AfterValidator(_zone), WithJsonSchema({"allOf": [TZID_REF]})]
Color = Annotated[
    str,
    AfterValidator(_color),
    WithJsonSchema({"type": "string", "pattern": COLOR_PATTERN, "examples": ["#49BED8"]}),
]
NAME_SCHEMA = {
    "type": "string",
    "maxLength": MAX_NAME_LENGTH,
    "pattern": NOT_BLANK,
    "description": "Not blank; surrounding spaces are dropped.",
}


def _name_not_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("required", "name is required")
    return value


CalendarName = Annotated[
    str,
    Field(max_length=MAX_NAME_LENGTH),
    AfterValidator(_name),
    BeforeValidator(_name_not_null),
    WithJsonSchema(NAME_SCHEMA),
]
#: An optional field that may be left out but not sent as null.
OptionalCalendarName = Annotated[
    CalendarName | None, BeforeValidator(_not_null), WithJsonSchema(NAME_SCHEMA)
]
Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_metadata),
    WithJsonSchema(
        {
            "type": "object",
            "description": f"Any JSON object of at most {MAX_METADATA_BYTES} bytes, kept as given.",
        }
    ),
]


def tzid_schema() -> dict[str, Any]:
    """The ``Tzid`` component: every zone id the server accepts."""
    return {
        "type": "string",
        "enum": list(time_zones()),
        "description": "An IANA time zone id.",
        "examples": ["Europe/London"],
    }
