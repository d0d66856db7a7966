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
import logging
from datetime import datetime

from fastapi import APIRouter, FastAPI

from calsync.api import accounts, auth_routes, calendars, health, metrics
from calsync.api.deps import ApiServices, identify_token
from calsync.api.errors import install_exception_handlers
from calsync.api.limits import LimitsMiddleware
from calsync.api.metrics import (
    MetricsMiddleware,
    ReadCacheCollector,
    StoreCollector,
    StoreFigures,
)
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


def create_app(services: ApiServices) -> FastAPI:
    app = FastAPI(
        title="calsync",
        version="1",
        summary="A Cronofy v1-compatible calendar API over calsync's store.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
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
        accounts.router,
        calendars.router,
        *_optional_routers(),
        health.router,
        metrics.router,
    ):
        if any(router is seen for seen in included):
            continue  # including a router twice would duplicate its operations
        included.append(router)
        app.include_router(router)

    app.add_middleware(
        LimitsMiddleware,
        limiter=services.limiter,
        max_body_bytes=services.settings.api.max_body_bytes,
        identify_token=lambda token: identify_token(services, token),
    )
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    return app
