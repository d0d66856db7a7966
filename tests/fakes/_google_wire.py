"""Wire-level pieces of the fake Google server: error bodies, records, time parsing, patch merge."""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

_T = TypeVar("_T")

API_PREFIX = "/calendar/v3"
SYNC_FORBIDDEN = (
    "timeMin",
    "timeMax",
    "updatedMin",
    "q",
    "orderBy",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
)
_ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")
_B32HEX = str.maketrans("ABCDEFGHIJKLMNOPQRSTUV", "abcdefghijklmnopqrstuv")
_GUARANTEED_CANCELLED = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")

Reply = tuple[int, dict[str, str], bytes]


class GoogleError(Exception):
    """Raised inside a handler; becomes Google's error body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain
        self.headers = headers or {}

    def reply(self) -> Reply:
        body = {
            "error": {
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
                "code": self.code,
                "message": self.message,
            }
        }
        return _json(self.code, body, self.headers)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return (
        status,
        {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
        json.dumps(body).encode(),
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_event_id() -> str:
    return base64.b32hexencode(secrets.token_bytes(15)).decode().translate(_B32HEX)


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int = 0


@dataclass
class Fault:
    status: int
    reason: str
    domain: str
    retry_after: str | None


@dataclass
class FakeCalendar:
    id: str
    summary: str
    time_zone: str
    access_role: str = "owner"
    primary: bool = False
    #: calendarList state: removed from the list, and the list sequence / etag of its last change
    deleted: bool = False
    list_seq: int = 0
    list_etag: str = '"0"'
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: event id -> the global sequence number of its last change
    seq: dict[str, int] = field(default_factory=dict)


@dataclass
class PageState:
    calendar_id: str
    ids: list[str]
    snapshot_seq: int


@dataclass
class WatchChannel:
    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str | None
    expiration_ms: int
    messages: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def _max_results(query: dict[str, str], default: int) -> int:
    try:
        value = int(query.get("maxResults", default))
    except ValueError as exc:
        raise GoogleError(400, "invalid", "Invalid value for maxResults") from exc
    if value < 1:
        raise GoogleError(400, "invalid", "Invalid value for maxResults")
    return min(value, 2500)


def _parse_ts(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GoogleError(400, "invalid", f"Invalid value: {text}") from exc
    if value.tzinfo is None:
        raise GoogleError(400, "invalid", f"Missing offset in {text}")
    return value.astimezone(UTC)


def _instant(value: dict[str, Any]) -> datetime:
    if "dateTime" in value:
        return _parse_ts(value["dateTime"])
    return datetime.combine(date.fromisoformat(value["date"]), datetime.min.time(), UTC)


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge, arrays and scalars replace, null clears."""
    merged: dict[str, Any] = _copy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and key not in ("start", "end")
        ):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = _copy(value)
    return merged


def _copy(value: _T) -> _T:
    """A deep copy through JSON, which is also what the wire would do."""
    copied: _T = json.loads(json.dumps(value))
    return copied


def encode_page_token(key: str, query: dict[str, str]) -> str:
    """A page token carrying the request's other parameters, as Google binds them."""
    bound = {k: v for k, v in query.items() if k != "pageToken"}
    raw = json.dumps([key, bound], sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, query: dict[str, str]) -> str:
    """The key inside ``token``; 400 unless this request repeats the first page's parameters."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key, bound = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise GoogleError(400, "invalid", "Invalid page token value.") from exc
    current = {k: v for k, v in query.items() if k != "pageToken"}
    if bound != current:
        differ = sorted(k for k in set(bound) | set(current) if bound.get(k) != current.get(k))
        raise GoogleError(
            400,
            "invalid",
            f"Invalid page token value: it was issued for other parameters ({', '.join(differ)}).",
        )
    return str(key)
