"""Wire-level pieces of the fake Microsoft Graph server.

Error bodies, request records, ids, date/time formats, time zones and the
``Prefer`` header, each as Microsoft documents them (URLs beside each rule).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

_T = TypeVar("_T")

Reply = tuple[int, dict[str, str], bytes]

GRAPH_PREFIX = "/v1.0"
#: https://learn.microsoft.com/en-us/graph/api/event-get ("application/json" with OData metadata)
JSON_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)


class GraphError(Exception):
    """Raised inside a handler; becomes Graph's error body.

    Shape per https://learn.microsoft.com/en-us/graph/errors:
    ``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``.
    """

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def reply(self, request_id: str) -> Reply:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": request_id,
                },
            }
        }
        return json_reply(self.status, body, self.headers)


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": JSON_TYPE, **(headers or {})}, json.dumps(body).encode()


def copy_json(value: _T) -> _T:
    """A deep copy as a JSON round trip makes it (what the wire would do): objects with
    string keys, tuples as lists, anything else JSON cannot carry refused. Walked by
    hand: ``json.loads(json.dumps(...))`` per rendered event was most of the fake's
    CPU time in a listing of 10,000 events (bench/graph_sync.py)."""
    copied: _T = _copied(value)
    return copied


def _copied(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("Out of range float values are not JSON compliant")
        return value
    if isinstance(value, dict):
        return {_key(k): _copied(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copied(v) for v in value]
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


@dataclass
class RequestRecord:
    """One request the fake served, for assertions (``fake.requests``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    status: int
    code: str
    message: str
    retry_after: str | None
    method: str | None
    path_contains: str


@dataclass
class Delivery:
    """One POST the fake made to a notification or lifecycle URL."""

    url: str
    body: dict[str, Any]
    status: int | None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


# -- ids ------------------------------------------------------------------------------------

#: Outlook ids are long base64 strings that start alike and may end in "="
#: (https://learn.microsoft.com/en-us/graph/api/resources/event, "id"); clients treat them as
#: opaque. The fake's ids decode to (kind, payload) so an occurrence id names its master and
#: original start, and so a malformed id can be told from an unknown one.
_ID_PREFIX = "AAMkAG"


def encode_id(kind: str, payload: str) -> str:
    raw = f"{kind}|{payload}".encode()
    return _ID_PREFIX + base64.urlsafe_b64encode(raw).decode()


def decode_id(value: str) -> tuple[str, str]:
    """(kind, payload); 400 ``ErrorInvalidIdMalformed`` like Outlook for anything else."""
    if not value.startswith(_ID_PREFIX):
        raise bad_request("Id is malformed.", "ErrorInvalidIdMalformed")
    try:
        raw = base64.urlsafe_b64decode(value[len(_ID_PREFIX) :].encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad_request("Id is malformed.", "ErrorInvalidIdMalformed") from exc
    kind, sep, payload = raw.partition("|")
    if not sep or kind not in ("evt", "occ", "cal"):
        raise bad_request("Id is malformed.", "ErrorInvalidIdMalformed")
    return kind, payload


def new_event_id() -> str:
    return encode_id("evt", secrets.token_hex(16))


def new_calendar_id() -> str:
    return encode_id("cal", secrets.token_hex(12))


def occurrence_id(master_id: str, original_start: datetime) -> str:
    return encode_id("occ", f"{master_id}|{original_start.strftime('%Y%m%dT%H%M%SZ')}")


def parse_occurrence_id(value: str) -> tuple[str, datetime] | None:
    kind, payload = decode_id(value)
    if kind != "occ":
        return None
    master_id, _, stamp = payload.rpartition("|")
    try:
        return master_id, datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise bad_request("Id is malformed.", "ErrorInvalidIdMalformed") from exc


def new_change_key() -> str:
    """A changeKey looks like base64 of 22 bytes: ``/IUUrIl3PkG1JCSsPfU+8wAAGXjEpA==``."""
    return base64.b64encode(secrets.token_bytes(22)).decode()


def new_guid() -> str:
    return str(uuid.uuid4())


# -- date and time ------------------------------------------------------------------------

#: dateTimeTimeZone.dateTime is "<date>T<time>" with the zone in timeZone
#: (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone). Strict reading:
#: an offset or "Z" beside a timeZone is ambiguous, so it is refused.
_LOCAL_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$")
#: startDateTime/endDateTime: ISO 8601, e.g. "2015-11-08T19:00:00.0000000"
#: (https://learn.microsoft.com/en-us/graph/api/event-delta); an offset is honoured, none = UTC.
_QUERY_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,7}))?(Z|[+-]\d{2}:\d{2})?$"
)


def parse_local(text: Any, what: str) -> datetime:
    """A naive wall-clock datetime from dateTimeTimeZone.dateTime."""
    match = _LOCAL_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise bad_request(
            f"Cannot convert the literal '{text}' to the expected type 'Edm.DateTime' ({what}).",
            "InvalidDateTime",
        )
    base, seconds, fraction = match.groups()
    try:
        value = datetime.fromisoformat(f"{base}:{seconds or '00'}")
    except ValueError as exc:
        raise bad_request(f"Invalid date and time '{text}' ({what}).", "InvalidDateTime") from exc
    micros = int((fraction or "0").ljust(7, "0")[:6])
    return value.replace(microsecond=micros)


def parse_query_instant(text: str | None, name: str) -> datetime:
    if text is None:
        raise bad_request(
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
            "ErrorInvalidParameter",
        )
    match = _QUERY_RE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        base, fraction, offset = match.groups()
        value = datetime.fromisoformat(base)
        value = value.replace(microsecond=int((fraction or "0").ljust(7, "0")[:6]))
        if offset and offset != "Z":
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            value = value - sign * timedelta(hours=hours, minutes=minutes)
    except ValueError as exc:
        raise bad_request(
            f"The value '{text}' of parameter '{name}' is invalid.", "ErrorInvalidParameter"
        ) from exc
    return value.replace(tzinfo=UTC)


def parse_offset_instant(text: Any, name: str) -> datetime:
    """A DateTimeOffset in a body (subscription expirationDateTime): an offset is required."""
    match = _QUERY_RE.match(text) if isinstance(text, str) else None
    if match is None or match[3] is None:
        raise bad_request(f"Invalid value '{text}' for {name}.", "InvalidRequest")
    return parse_query_instant(match[0], name)


def format_local(value: datetime) -> str:
    """Graph's dateTime: seven fractional digits, no offset."""
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "0"


def format_instant(value: datetime) -> str:
    """A DateTimeOffset in UTC, as in createdDateTime: ``2019-02-28T21:17:57.5619700Z``."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "0Z"


def format_whole_instant(value: datetime) -> str:
    """originalStart: ``2019-04-16T20:30:00Z``."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- time zones ---------------------------------------------------------------------------

#: "The TimeZone property can be set to any of the time zones supported by Windows, as well as
#: the following time zones names" (https://learn.microsoft.com/en-us/graph/api/resources/
#: datetimetimezone). Strict reading: IANA names outside this list are refused.
_DOCUMENTED_IANA_TEXT = """Etc/GMT+12 Etc/GMT+11 Pacific/Honolulu America/Anchorage
    America/Santa_Isabel
    America/Los_Angeles America/Phoenix America/Chihuahua America/Denver America/Guatemala
    America/Chicago America/Mexico_City America/Regina America/Bogota America/New_York
    America/Indiana/Indianapolis America/Caracas America/Asuncion America/Halifax America/Cuiaba
    America/La_Paz America/Santiago America/St_Johns America/Sao_Paulo
    America/Argentina/Buenos_Aires America/Cayenne America/Godthab America/Montevideo
    America/Bahia Etc/GMT+2 Atlantic/Azores Atlantic/Cape_Verde Africa/Casablanca Etc/GMT
    Europe/London Atlantic/Reykjavik Europe/Berlin Europe/Budapest Europe/Paris Europe/Warsaw
    Africa/Lagos Africa/Windhoek Europe/Bucharest Asia/Beirut Africa/Cairo Asia/Damascus
    Africa/Johannesburg Europe/Kyiv Europe/Kiev Europe/Istanbul Asia/Jerusalem Asia/Amman
    Asia/Baghdad Europe/Kaliningrad Asia/Riyadh Africa/Nairobi Asia/Tehran Asia/Dubai Asia/Baku
    Europe/Moscow Indian/Mauritius Asia/Tbilisi Asia/Yerevan Asia/Kabul Asia/Karachi
    Asia/Tashkent Asia/Kolkata Asia/Colombo Asia/Kathmandu Asia/Almaty Asia/Dhaka
    Asia/Yekaterinburg Asia/Yangon Asia/Rangoon Asia/Bangkok Asia/Novosibirsk Asia/Shanghai
    Asia/Krasnoyarsk Asia/Singapore Australia/Perth Asia/Taipei Asia/Ulaanbaatar Asia/Irkutsk
    Asia/Tokyo Asia/Seoul Australia/Adelaide Australia/Darwin Australia/Brisbane
    Australia/Sydney Pacific/Port_Moresby Australia/Hobart Asia/Yakutsk Pacific/Guadalcanal
    Asia/Vladivostok Pacific/Auckland Etc/GMT-12 Pacific/Fiji Asia/Magadan Pacific/Tongatapu
    Pacific/Apia Pacific/Kiritimati"""
DOCUMENTED_IANA_ZONES = frozenset(_DOCUMENTED_IANA_TEXT.split())


@functools.cache
def _known_zone(name: str) -> ZoneInfo | None:
    if name in WINDOWS_TO_OLSON:
        return ZoneInfo(WINDOWS_TO_OLSON[name])
    if name in DOCUMENTED_IANA_ZONES:
        return ZoneInfo(name)
    return None


def zone(name: Any) -> ZoneInfo:
    """The zone a Graph time-zone name stands for; 400 for names Graph does not take."""
    found = _known_zone(name) if isinstance(name, str) else None
    if found is not None:
        return found
    raise bad_request(
        "A valid TimeZone value must be specified. The following TimeZone value is not "
        f"supported: '{name}'.",
        "TimeZoneNotSupportedException",
    )


# -- Prefer ---------------------------------------------------------------------------------


def parse_prefer(values: list[str]) -> dict[str, str]:
    """``Prefer`` preferences (RFC 7240), from one or several headers, keys lower-cased.

    ``odata.maxpagesize=2`` and ``outlook.timezone="Pacific Standard Time"``
    (https://learn.microsoft.com/en-us/graph/api/event-delta, /event-get).
    """
    found: dict[str, str] = {}
    for header in values:
        for part in re.findall(r'(?:[^,"]|"[^"]*")+', header):
            name, _, value = part.strip().partition("=")
            if name:
                found[name.strip().lower()] = value.strip().strip('"')
    return found
