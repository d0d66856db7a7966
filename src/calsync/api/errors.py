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
ValidationError / RequestValidation    422     the fields themselves
NotFound, unknown route                404     base: errors.not_found
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


class OAuthError(CalsyncError):
    """An OAuth 2 token endpoint failure, answered as ``{"error": code}``."""

    def __init__(self, code: str, *, status_code: int = 400, description: str = "") -> None:
        super().__init__(description or code)
        self.code = code
        self.status_code = status_code
        self.description = description


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
        return JSONResponse(body, status_code=exc.status_code)
    if isinstance(exc, NotFound):
        # Never echo the message: it may name an id, and a 404 must not even
        # confirm what was asked about (another account's objects are 404 too).
        return error_response(404, "errors.not_found", "not found")
    if isinstance(exc, Forbidden):
        return error_response(403, exc.key, exc.message)
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


_PYDANTIC_KEYS = {
    "missing": "errors.required",
    "json_invalid": "errors.invalid_json",
    "extra_forbidden": "errors.unknown_field",
}


def validation_fields(errors: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """FastAPI/pydantic validation errors in Cronofy's field shape."""
    fields: dict[str, list[dict[str, str]]] = {}
    for err in errors:
        kind = str(err.get("type", "invalid"))
        key = _PYDANTIC_KEYS.get(kind, "errors.invalid")
        message = str(err.get("msg", "invalid"))
        fields.setdefault(_field_name(err.get("loc", ())), []).append(
            {"key": key, "description": message}
        )
    return fields


async def _calsync_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CalsyncError)
    return response_for(exc)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"errors": validation_fields(exc.errors())}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    key = {
        404: "errors.not_found",
        405: "errors.method_not_allowed",
        413: "errors.request_too_large",
    }.get(exc.status_code, f"errors.http_{exc.status_code}")
    headers = dict(exc.headers or {})
    return error_response(exc.status_code, key, str(exc.detail), headers=headers)


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
