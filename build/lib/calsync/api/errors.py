"""Turn calsync's error tree into Cronofy-shaped HTTP responses.

Routes raise `calsync.errors` exceptions and never build error bodies by hand.
Every error body has one shape, so clients (and pycronofy, which reads
``errors["name"][0]["key"]`` on a failed create-calendar) can rely on it::

    {"errors": {"<field or base>": [{"key": "errors.<what>", "description": "..."}]}}

The one exception is the OAuth token endpoint, which answers like an OAuth 2
server: ``400 {"error": "invalid_grant"}`` (see `OAuthError`).

=====================================  ======  ==================================
exception                              status  body key
=====================================  ======  ==================================
ValidationError / RequestValidation    422     the fields themselves, all at once
malformed JSON body                    422     base: errors.invalid_json
body not sent as JSON                  415     base: errors.unsupported_media_type
NotFound, unknown route                404     base: errors.not_found
unsupported method                     405     base: errors.method_not_allowed, ``Allow``
Forbidden (API only)                   403     base: errors.forbidden
Conflict                               409     base: ``conflict.key``
AuthError                              401     base: errors.unauthorized
RateLimited                            429     base: errors.rate_limited
StoreError                             503     base: errors.store_unavailable
other ProviderError                    502     base: errors.provider_error
anything else                          500     base: errors.internal (logged)
=====================================  ======  ==================================
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

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


class Forbidden(CalsyncError):
    """The token may not do this (read-only calendar, missing scope): 403."""

    def __init__(self, message: str, *, key: str = "errors.forbidden") -> None:
        super().__init__(message)
        self.key = key


class UnsupportedMediaType(CalsyncError):
    """A request body in a media type the endpoint does not read: 415."""


class OAuthError(CalsyncError):
    """An OAuth 2 token endpoint failure, answered as ``{"error": code}``."""

    def __init__(
        self,
        code: str,
        *,
        status_code: int = 400,
        description: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description or code)
        self.code = code
        self.status_code = status_code
        self.description = description
        self.headers = dict(headers or {})


def error_body(field: str, key: str, description: str) -> dict[str, Any]:
    """The Cronofy error shape for one error on one field (``base`` = the request)."""
    return {"errors": {field: [{"key": key, "description": description}]}}


def error_response(
    status_code: int,
    key: str,
    description: str,
    *,
    field: str = "base",
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(field, key, description), status_code=status_code, headers=dict(headers or {})
    )


def retry_after_header(seconds: float | None) -> dict[str, str]:
    """``Retry-After`` as whole seconds, never below 1 (0 would invite a busy loop)."""
    value = 1 if seconds is None or not math.isfinite(seconds) else max(1, math.ceil(seconds))
    return {"Retry-After": str(value)}


def rate_limited_response(retry_after: float | None) -> JSONResponse:
    return error_response(
        429,
        "errors.rate_limited",
        "too many requests; retry after the number of seconds in Retry-After",
        headers=retry_after_header(retry_after),
    )


def response_for(exc: CalsyncError) -> JSONResponse:
    """Map one calsync error to its response (the table in the module docstring)."""
    if isinstance(exc, ValidationError):
        return JSONResponse({"errors": exc.fields}, status_code=422)
    if isinstance(exc, OAuthError):
        body: dict[str, str] = {"error": exc.code}
        if exc.description:
            body["error_description"] = exc.description
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, NotFound):
        # Never echo the message: it may name an id, and a 404 must not even
        # confirm what was asked about (another account's objects are 404 too).
        return error_response(404, "errors.not_found", "not found")
    if isinstance(exc, Forbidden):
        return error_response(403, exc.key, exc.message)
    if isinstance(exc, UnsupportedMediaType):
        return error_response(415, "errors.unsupported_media_type", exc.message)
    if isinstance(exc, Conflict):
        return error_response(409, exc.key, exc.message)
    if isinstance(exc, AuthError):
        return error_response(
            401, "errors.unauthorized", exc.message, headers={"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, RateLimited):
        return rate_limited_response(exc.retry_after)
    if isinstance(exc, StoreError):
        log.error("store unavailable: %s", exc.message)
        return error_response(503, "errors.store_unavailable", "the store is unavailable")
    if isinstance(exc, ProviderError):
        return error_response(502, "errors.provider_error", exc.message)
    # A UserError that is not a ValidationError (e.g. a bad value deep in a
    # helper) is still the caller's fault: 422, never a 500.
    return error_response(422, "errors.invalid", exc.message)


def _field_name(loc: Sequence[Any]) -> str:
    """``("body", "start", "time")`` -> ``"start.time"``; the source prefix is dropped."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "base"


#: pydantic's error types that have a Cronofy-style key of their own; any other
#: type is ``errors.invalid``, and a custom type raised by a validator
#: (``PydanticCustomError("invalid_color", ...)``) is ``errors.<type>``.
_PYDANTIC_KEYS = {
    "missing": "errors.required",
    "extra_forbidden": "errors.unknown_field",
    "string_too_long": "errors.too_long",
    "too_long": "errors.too_long",
}
_PYDANTIC_TYPES = frozenset(
    {
        "string_type",
        "string_too_short",
        "string_pattern_mismatch",
        "dict_type",
        "list_type",
        "bool_type",
        "bool_parsing",
        "int_type",
        "int_parsing",
        "float_type",
        "float_parsing",
        "model_type",
        "model_attributes_type",
        "literal_error",
        "enum",
        "too_short",
        "greater_than_equal",
        "less_than_equal",
        "union_tag_invalid",
        "value_error",
        "assertion_error",
        "url_parsing",
        "url_scheme",
        "url_type",
        "json_invalid",
    }
)


def _key_for(kind: str) -> str:
    if kind in _PYDANTIC_KEYS:
        return _PYDANTIC_KEYS[kind]
    if kind in _PYDANTIC_TYPES or not kind.replace("_", "").isalnum():
        return "errors.invalid"
    return f"errors.{kind}"  # a custom error type of one of our validators


def validation_fields(errors: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """FastAPI/pydantic validation errors in Cronofy's field shape: every error, each
    under its own field (pydantic reports all of a body's problems in one pass)."""
    fields: dict[str, list[dict[str, str]]] = {}
    for err in errors:
        kind = str(err.get("type", "invalid"))
        key = _key_for(kind)
        name = _field_name(err.get("loc", ()))
        message = f"{name} is required" if kind == "missing" else str(err.get("msg", "invalid"))
        entry = {"key": key, "description": message}
        field = fields.setdefault(name, [])
        if entry not in field:
            field.append(entry)
    return fields


def json_error_description(document: str | bytes | None, position: int, problem: str) -> str:
    """Where a JSON body stops being JSON, as a person reads it: line, column, character."""
    where = f"character {position}"
    if isinstance(document, bytes):
        document = document.decode("utf-8", errors="replace")
    if isinstance(document, str) and 0 <= position <= len(document):
        line = document.count("\n", 0, position) + 1
        column = position - (document.rfind("\n", 0, position) + 1) + 1
        where = f"line {line}, column {column} ({where})"
    return f"the body is not valid JSON: {problem} at {where}"


def media_type(content_type: str | None) -> str | None:
    """``"application/json; charset=utf-8"`` -> ``"application/json"``; None when absent."""
    if content_type is None:
        return None
    kind = content_type.partition(";")[0].strip().lower()
    return kind or None


def is_json_media_type(kind: str | None) -> bool:
    return kind is not None and (kind == "application/json" or kind.endswith("+json"))


def not_json_message(content_type: str | None) -> str:
    kind = media_type(content_type)
    if kind is None:
        return (
            "the request has a body but no Content-Type header; "
            "send the body as JSON with Content-Type: application/json"
        )
    return f"the body must be JSON (Content-Type: application/json), not {kind}"


def _whole_body_rejected(errors: Sequence[Mapping[str, Any]]) -> bool:
    """A body that was not read as JSON fails validation as a whole (``loc == ("body",)``)."""
    return any(tuple(err.get("loc", ())) == ("body",) for err in errors)


async def _calsync_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CalsyncError)
    return response_for(exc)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    for err in errors:
        if err.get("type") == "json_invalid":
            loc = tuple(err.get("loc", ()))
            position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            problem = str((err.get("ctx") or {}).get("error", "invalid JSON"))
            description = json_error_description(exc.body, position, problem)
            return error_response(422, "errors.invalid_json", description)
    content_type = request.headers.get("content-type")
    body = exc.body
    if (
        isinstance(body, bytes)
        and body
        and not is_json_media_type(media_type(content_type))
        and _whole_body_rejected(errors)
    ):
        # FastAPI reads a body as JSON only when it says it is JSON; anything
        # else reaches validation as raw bytes and would read "not an object".
        return error_response(415, "errors.unsupported_media_type", not_json_message(content_type))
    return JSONResponse({"errors": validation_fields(errors)}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # FastAPI's "error parsing the body": a JSON body that is not UTF-8 text.
        return error_response(
            422, "errors.invalid_json", f"the body is not valid JSON: {exc.__cause__}"
        )
    if exc.status_code == 405:
        return error_response(
            405,
            "errors.method_not_allowed",
            f"{request.method} is not allowed here",
            headers={"Allow": ", ".join(allowed_methods(request))},
        )
    key = {
        404: "errors.not_found",
        405: "errors.method_not_allowed",
        413: "errors.request_too_large",
    }.get(exc.status_code, f"errors.http_{exc.status_code}")
    headers = dict(exc.headers or {})
    return error_response(exc.status_code, key, str(exc.detail), headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method a route serves at this path, for ``Allow``.

    Starlette's own 405 names only the methods of the first route whose path
    matched. Asking every route whether it fully matches the request under
    each method needs nothing but the routes' public ``matches``.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug: log it with the traceback, answer JSON without leaking internals.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "errors.internal", "internal error")


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CalsyncError, _calsync_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Starlette routes a handler for ``Exception`` to its outermost error
    # middleware, so even a crash yields a JSON 500 rather than plain text.
    app.add_exception_handler(Exception, _unexpected_error)
