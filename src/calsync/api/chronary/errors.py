"""The Chronary dialect's error body, and calsync's error tree mapped onto it.

Every error under the dialect's prefix answers::

    {"error": {"type", "code", "message", "param", "request_id"}}

``request_id`` equals the response's ``X-Request-Id`` (`calsync.api.chronary.context`).

=====================  ======  ===================  ====================================
raised                 status  type                 code
=====================  ======  ===================  ====================================
ValidationError        400     validation_error     invalid_timezone, metadata_too_large,
                                                    invalid_json or validation_error
AuthError              401     authentication_error invalid_api_key
Forbidden              403     forbidden            the Forbidden key (e.g. calendar_readonly)
NotFound / no route    404     not_found            agent_not_found, calendar_not_found,
                                                    event_not_found, not_found
Conflict               409     conflict             the Conflict key (calendar_has_events)
body not JSON          415     validation_error     unsupported_media_type
rate limited           429     rate_limit_error     rate_limited
StoreError             503     internal_error       store_unavailable
ProviderError          502     internal_error       provider_error
a bug                  500     internal_error       internal
=====================  ======  ===================  ====================================

Field names in ``param`` are the dialect's (``title``, not ``summary``): the
shared validation reports Cronofy's names and `PARAM_NAMES` turns them back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import Scope

from calsync.api.errors import Forbidden, UnsupportedMediaType, retry_after_header
from calsync.errors import (
    AuthError,
    CalsyncError,
    Conflict,
    NotFound,
    ProviderError,
    RateLimited,
    StoreError,
    ValidationError,
)

log = logging.getLogger(__name__)

TYPES = {
    400: "validation_error",
    401: "authentication_error",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "validation_error",
    415: "validation_error",
    429: "rate_limit_error",
}

#: Cronofy field names the shared validation reports -> the dialect's names.
PARAM_NAMES = {
    "summary": "title",
    "start": "start_time",
    "end": "end_time",
    "recurrence": "recurrence_rule",
    "tzid": "timezone",
}

#: Validation keys with a code of their own in Chronary's calendars guide.
_CODES = {
    "errors.invalid_timezone": "invalid_timezone",
    "errors.metadata_too_large": "metadata_too_large",
    "errors.invalid_json": "invalid_json",
}


class ChronaryError(CalsyncError):
    """An error with the dialect's own code (``calendar_not_found``, …)."""

    def __init__(self, status: int, code: str, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param


def not_found(what: str) -> ChronaryError:
    """``agent``/``calendar``/``event`` -> 404 ``<what>_not_found``."""
    return ChronaryError(404, f"{what}_not_found", f"{what} not found")


def request_id_of(scope: Scope) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", ""))


def error_response(
    scope: Scope,
    status: int,
    code: str,
    message: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error_type = TYPES.get(status, "internal_error" if status >= 500 else "validation_error")
    body = {
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "request_id": request_id_of(scope),
        }
    }
    headers = dict(headers or {})
    if body["error"]["request_id"]:
        # Also here, not only in the middleware: a crash is answered outside of it.
        headers["X-Request-Id"] = body["error"]["request_id"]
    return JSONResponse(body, status_code=status, headers=headers)


def param_name(field: str) -> str:
    head, dot, rest = field.partition(".")
    return PARAM_NAMES.get(head, head) + (dot + rest if dot else "")


def validation_response(scope: Scope, fields: Mapping[str, Any]) -> JSONResponse:
    """The first problem names the code and param; the message lists them all."""
    problems = [
        (name, entry) for name, entries in fields.items() for entry in entries if entry
    ] or [("base", {"key": "errors.invalid", "description": "invalid request"})]
    code = "validation_error"
    for _, entry in problems:
        if entry.get("key") in _CODES:
            code = _CODES[entry["key"]]
            break
    first_name = problems[0][0]
    for name, entry in problems:
        if _CODES.get(entry.get("key", "")) == code:
            first_name = name
            break
    message = "; ".join(
        f"{param_name(name)}: {entry.get('description', '')}"
        if name != "base"
        else str(entry.get("description", ""))
        for name, entry in problems
    )
    param = None if first_name == "base" else param_name(first_name)
    return error_response(scope, 400, code, message, param=param)


def response_for(scope: Scope, exc: CalsyncError) -> JSONResponse:
    if isinstance(exc, ChronaryError):
        return error_response(scope, exc.status, exc.code, exc.message, param=exc.param)
    if isinstance(exc, ValidationError):
        return validation_response(scope, exc.fields)
    if isinstance(exc, NotFound):
        return error_response(scope, 404, "not_found", "not found")
    if isinstance(exc, Forbidden):
        return error_response(scope, 403, exc.key.removeprefix("errors."), exc.message)
    if isinstance(exc, UnsupportedMediaType):
        return error_response(scope, 415, "unsupported_media_type", exc.message)
    if isinstance(exc, Conflict):
        return error_response(scope, 409, exc.key.removeprefix("errors."), exc.message)
    if isinstance(exc, AuthError):
        return error_response(
            scope, 401, "invalid_api_key", exc.message, headers={"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, RateLimited):
        return error_response(
            scope, 429, "rate_limited", exc.message, headers=retry_after_header(exc.retry_after)
        )
    if isinstance(exc, StoreError):
        log.error("store unavailable: %s", exc.message)
        return error_response(scope, 503, "store_unavailable", "the store is unavailable")
    if isinstance(exc, ProviderError):
        return error_response(scope, 502, "provider_error", exc.message)
    return error_response(scope, 400, "validation_error", exc.message)
