"""The FastAPI application: wiring only.

`create_app` builds a fresh app from `ApiServices` (nothing is created at
import time). Middleware order, outermost first:

1. `MetricsMiddleware`: times everything, including 413/429 answers;
2. `LimitsMiddleware`: body size (413), then the per-client rate limit (429);
3. FastAPI itself, with the exception handlers of `calsync.api.errors`.

The routers written beside this core (`events`, `reads`, `ical`,
`channels`, `availability`) are imported defensively so the app still starts
while one of them does not exist yet.
"""

from __future__ import annotations

import importlib
import json
import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from calsync.api import accounts, auth_routes, calendars, chronary, health, metrics
from calsync.api.chronary.auth import identify_org_key
from calsync.api.chronary.context import limits_answer
from calsync.api.connect import profiles as connect_profiles
from calsync.api.connect import routes as connect_routes
from calsync.api.deps import ApiServices, identify_token
from calsync.api.errors import install_exception_handlers
from calsync.api.fields import tzid_schema
from calsync.api.limits import LimitsMiddleware
from calsync.api.metrics import (
    MetricsMiddleware,
    ReadCacheCollector,
    StoreCollector,
    StoreFigures,
)
from calsync.api.oauth_requests import CLIENT_BASIC_SCHEME
from calsync.store import Store

log = logging.getLogger(__name__)

#: Routers owned elsewhere, included when their module exists. A module that
#: exists but fails to import is an error, never silently skipped.
OPTIONAL_ROUTERS = (
    "calsync.api.events",
    "calsync.api.reads",
    "calsync.api.ical",
    "calsync.api.channels",
    "calsync.api.availability",
    "calsync.api.availability_rules",
    "calsync.api.provider_push",
)


def _optional_routers() -> list[APIRouter]:
    routers: list[APIRouter] = []
    for module_name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # the module exists but is broken: fail loudly
            log.debug("optional router %s not present", module_name)
            continue
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers


def read_store_figures(store: Store) -> StoreFigures:
    """The store-backed metrics, in one read transaction.

    One query per calendar: fine for the handful of calendars a self-hosted
    daemon syncs; a store-wide count method would make it one query.
    """
    live_events = 0
    sync_times: list[tuple[str, datetime | None]] = []
    failing: set[str] = set()
    with store.read() as uow:
        for account in uow.accounts.list():
            for calendar in uow.calendars.list(account.pk, include_deleted=False):
                live_events += uow.events.count_live(calendar.pk)
                sync_times.append((calendar.calendar_id, calendar.last_sync_at))
                if calendar.last_error:
                    failing.add(calendar.calendar_id)
    return StoreFigures(
        live_events=live_events, calendar_sync_times=sync_times, failing_calendar_ids=failing
    )


DESCRIPTION = """\
calsync's HTTP API follows Cronofy's API v1: an app written for Cronofy (pycronofy, say)
works against calsync by changing its base URL. Errors have Cronofy's shape,
`{"errors": {"<field>": [{"key": "errors.<what>", "description": "..."}]}}`, and list
every problem at once; the OAuth endpoints answer as RFC 6749 says.

Authenticate with `Authorization: Bearer <access token>`; tokens come from
`POST /v1/application_calendars` or `POST /oauth/token`.
"""


def _with_shared_components(app: FastAPI) -> None:
    """Add the schemas that routes reference by ``$ref`` but no model defines (``Tzid``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI caches the document: this runs once per app
        components = schema.setdefault("components", {})
        if "Tzid" not in components.setdefault("schemas", {}):
            components["schemas"]["Tzid"] = tzid_schema()
            components.setdefault("securitySchemes", {})["client"] = CLIENT_BASIC_SCHEME
            _drop_fastapi_422s(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _drop_fastapi_422s(schema: dict[str, Any]) -> None:
    """Remove the 422 FastAPI lists on every route with parameters.

    Its body (``HTTPValidationError``, ``{"detail": [...]}``) is not calsync's,
    and a route whose parameters are all plain path strings never gives one:
    every route that can answer 422 lists it itself, with Cronofy's error body.
    """
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            content = json.dumps(answer.get("content", {}))
            if "HTTPValidationError" in content:
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def create_app(services: ApiServices) -> FastAPI:
    # FastAPIOffline serves Swagger UI at /docs from assets shipped in its
    # package, where FastAPI's own page would load them from a CDN.
    app = FastAPIOffline(
        docs_url="/docs",
        redoc_url=None,
        static_url="/docs/assets",
        title="calsync",
        version="1",
        summary="A Cronofy v1-compatible calendar API over calsync's store.",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
    )
    _with_shared_components(app)
    app.state.services = services
    services.metrics.add_store_collector(
        StoreCollector(read_figures=lambda: read_store_figures(services.store), now=services.now)
    )
    cache = services.read_cache
    services.metrics.registry.register(
        ReadCacheCollector(lambda: (cache.hits, cache.misses, cache.size_bytes))
    )
    install_exception_handlers(app)

    included: list[APIRouter] = []
    for router in (
        auth_routes.router,
        connect_routes.router,
        accounts.router,
        connect_profiles.router,
        calendars.router,
        *_optional_routers(),
        health.router,
        metrics.router,
    ):
        if any(router is seen for seen in included):
            continue  # including a router twice would duplicate its operations
        included.append(router)
        app.include_router(router)

    prefix = services.settings.api.chronary_prefix
    if prefix:
        chronary.include_routes(app, prefix)
        chronary.add_inner_middleware(app, services, prefix)
    app.add_middleware(
        LimitsMiddleware,
        limiter=services.limiter,
        max_body_bytes=services.settings.api.max_body_bytes,
        identify_token=lambda token: (
            (identify_org_key(services, token) if prefix else None)
            or identify_token(services, token)
        ),
        refusal=limits_answer(prefix) if prefix else None,
    )
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    if prefix:
        chronary.add_outer_middleware(app, prefix)
    return app
