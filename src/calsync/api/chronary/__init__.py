"""A Chronary-compatible dialect of the API, beside the Cronofy one, over the same store.

Mounted under ``[api] chronary_prefix`` (default ``/chronary``), so the
official SDK works with ``Chronary(api_key=KEY, base_url=f"{base_url}/chronary")``.
The routers here only translate: validation, the write path and the
calendar/event rules are the ones the Cronofy routes use, and where the two
dialects differ only in shape the difference lives in ``mapping/`` (one
module per resource).

What the SDK offers and calsync does not (holds' ``confirm``/``release``,
``calendars.get_context``, per-calendar availability rules, booking pages,
scheduling, webhooks, …) has no route, so it answers 404 in the dialect's
error shape (`calsync.api.chronary.context`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from calsync.api.chronary import agents, calendars, context, event_lists, events
from calsync.api.chronary.idempotency import IdempotencyMiddleware
from calsync.api.deps import ApiServices

ROUTERS = (agents.router, calendars.router, events.router, event_lists.router)


def include_routes(app: FastAPI, prefix: str) -> None:
    for router in ROUTERS:
        app.include_router(router, prefix=prefix)
    context.install_error_handlers(app, prefix)


def add_inner_middleware(app: FastAPI, services: ApiServices, prefix: str) -> None:
    """Inside the limits: ``Idempotency-Key`` (the body is already bounded there)."""
    app.add_middleware(IdempotencyMiddleware, services=services, prefix=prefix)


def add_outer_middleware(app: FastAPI, prefix: str) -> None:
    """Outermost: every response under the prefix gets its ``X-Request-Id``."""
    app.add_middleware(context.RequestIdMiddleware, prefix=prefix)


__all__ = ["ROUTERS", "APIRouter", "add_inner_middleware", "add_outer_middleware", "include_routes"]
