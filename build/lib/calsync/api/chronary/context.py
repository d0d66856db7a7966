"""Which requests belong to the Chronary dialect, and what each of them carries.

`RequestIdMiddleware` (outermost) gives every request under the prefix a
``req_…`` id in ``scope["state"]`` and adds it to the response as
``X-Request-Id``; the error bodies repeat it (`calsync.api.chronary.errors`).

`install_error_handlers` puts a dispatcher in front of the app's Cronofy
handlers: a request under the prefix gets the dialect's error body, any other
request exactly what it got before. Unknown routes under the prefix (holds,
``get_context``, availability rules, booking pages, scheduling, webhooks)
come out as 404 ``not_found`` in the dialect's shape this way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calsync.api.chronary import errors
from calsync.api.errors import validation_fields
from calsync.errors import CalsyncError
from calsync.ids import new_id

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"


def in_dialect(scope: Scope | MutableMapping[str, Any], prefix: str) -> bool:
    path = str(scope.get("path", ""))
    return bool(prefix) and (path == prefix or path.startswith(prefix + "/"))


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not in_dialect(scope, self.prefix):
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _dialect_response(request: Request, exc: Exception) -> Response:
    scope = request.scope
    if isinstance(exc, CalsyncError):
        return errors.response_for(scope, exc)
    if isinstance(exc, RequestValidationError):
        fields = validation_fields(exc.errors())
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                fields = {"base": [{"key": "errors.invalid_json", "description": "invalid JSON"}]}
        return errors.validation_response(scope, fields)
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return errors.error_response(scope, 404, "not_found", "no such resource")
        if exc.status_code == 405:
            return errors.error_response(
                scope, 405, "method_not_allowed", f"{request.method} is not allowed here"
            )
        if exc.status_code == 400:
            return errors.error_response(scope, 400, "invalid_json", "the body is not valid JSON")
        return errors.error_response(scope, exc.status_code, "http_error", str(exc.detail))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return errors.error_response(scope, 500, "internal", "internal error")


def install_error_handlers(app: FastAPI, prefix: str) -> None:
    """Route errors under ``prefix`` to the dialect's shape; others to the existing handlers."""
    for kind in (CalsyncError, RequestValidationError, StarletteHTTPException, Exception):
        previous = cast(Handler, app.exception_handlers[kind])

        async def handler(
            request: Request, exc: Exception, previous: Handler = previous
        ) -> Response:
            if in_dialect(request.scope, prefix):
                return _dialect_response(request, exc)
            return await previous(request, exc)

        app.add_exception_handler(kind, handler)


def limits_answer(prefix: str) -> Callable[[Scope, int, str, dict[str, str]], ASGIApp | None]:
    """The dialect's 413/429 bodies for `calsync.api.limits.LimitsMiddleware`."""

    def answer(scope: Scope, status: int, message: str, headers: dict[str, str]) -> ASGIApp | None:
        if not in_dialect(scope, prefix):
            return None
        code = "rate_limited" if status == 429 else "request_too_large"
        return errors.error_response(scope, status, code, message, headers=headers)

    return answer
