"""Prometheus metrics for the API, on a per-app registry.

Each app gets its own `CollectorRegistry` (never the process-global one), so
tests can build many apps side by side and a scrape shows one app's numbers.

* ``calsync_http_requests_total{route,method,status}``: a counter. ``route``
  is the route *template* (``/v1/calendars/{calendar_id}``), never the raw
  path, so label cardinality stays bounded; unmatched paths share one label.
* ``calsync_http_request_duration_seconds{route,method}``: a histogram.
* ``calsync_events_stored``: live (non-deleted) events, counted on scrape.
* ``calsync_calendar_sync_lag_seconds{calendar_id}``: seconds since each
  calendar's last successful sync (calendars never synced are left out).
* ``calsync_calendar_sync_error{calendar_id}``: 1 while the calendar's last
  sync failed (its ``last_error`` is set: a provider error, or the mass-delete
  guard refusing a sync), else 0. Every live calendar gets a sample, so an
  alert on ``== 1`` also sees the calendar recover.

* ``calsync_api_read_cache_hits_total`` / ``_misses_total`` and
  ``calsync_api_read_cache_bytes``: the rendered-page cache of the read
  endpoints (`calsync.api.read_cache`).

The store-backed figures are computed only when someone scrapes, by callables
handed in at wiring time, so this module knows nothing about the store.

``/metrics`` is an operator endpoint, not a tenant one: its labels name every
account's calendars. It answers a bearer token equal to the API client secret
(Prometheus' ``authorization.credentials_file``) and, when no client secret is
configured, requests from loopback only. An account's access token never opens it.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calsync.errors import AuthError

log = logging.getLogger(__name__)

UNMATCHED_ROUTE = "<unmatched>"


@dataclass(frozen=True, slots=True)
class StoreFigures:
    live_events: int
    #: ``(calendar_id, last_sync_at)`` of every live calendar.
    calendar_sync_times: Sequence[tuple[str, datetime | None]]
    #: Ids among those calendars whose last sync failed (``last_error`` set).
    failing_calendar_ids: Collection[str] = frozenset()


class StoreCollector(Collector):
    """Computes the store-backed gauges at scrape time (one read of the store)."""

    def __init__(
        self, *, read_figures: Callable[[], StoreFigures], now: Callable[[], datetime]
    ) -> None:
        self._read_figures = read_figures
        self._now = now

    def collect(self) -> Iterator[Metric]:
        try:
            figures = self._read_figures()
        except Exception:  # a scrape must not fail because the store is down
            log.warning("could not read store metrics", exc_info=True)
            return
        events = GaugeMetricFamily("calsync_events_stored", "Live (non-deleted) events stored.")
        events.add_metric([], float(figures.live_events))
        lag = GaugeMetricFamily(
            "calsync_calendar_sync_lag_seconds",
            "Seconds since the calendar's last successful sync.",
            labels=["calendar_id"],
        )
        error = GaugeMetricFamily(
            "calsync_calendar_sync_error",
            "1 while the calendar's last sync failed (see `calsync status`), else 0.",
            labels=["calendar_id"],
        )
        now = self._now()
        failing = frozenset(figures.failing_calendar_ids)
        for calendar_id, last_sync_at in figures.calendar_sync_times:
            if last_sync_at is not None:
                lag.add_metric([calendar_id], max(0.0, (now - last_sync_at).total_seconds()))
            error.add_metric([calendar_id], 1.0 if calendar_id in failing else 0.0)
        yield events
        yield lag
        yield error


class ReadCacheCollector(Collector):
    """Reads the cache's own counters on scrape (no lock on the request path)."""

    def __init__(self, figures: Callable[[], tuple[int, int, int]]) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        hits, misses, size = self._figures()
        yield CounterMetricFamily(
            "calsync_api_read_cache_hits",
            "Read pages served without rendering (kept, or shared with a concurrent request).",
            value=hits,
        )
        yield CounterMetricFamily(
            "calsync_api_read_cache_misses", "Read pages rendered from the store.", value=misses
        )
        yield GaugeMetricFamily(
            "calsync_api_read_cache_bytes", "Bytes of rendered pages held.", value=size
        )


class ApiMetrics:
    """The registry and the request metrics of one app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "calsync_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "calsync_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            registry=self.registry,
        )

    def add_store_collector(self, collector: StoreCollector) -> None:
        self.registry.register(collector)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Times every HTTP request and records it under its route template."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The router writes the matched route into the shared scope dict.
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe(
                template, str(scope.get("method", "")), status, time.perf_counter() - started
            )


router = APIRouter()


def _operator_allowed(request: Request, client_secret: str | None) -> bool:
    if client_secret is not None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.encode(), client_secret.encode()
        )
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:  # not an IP peer (a unix socket): not provably local
        return False


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint(request: Request) -> Response:
    services = request.app.state.services
    secret = services.settings.api.client_secret_file
    if not _operator_allowed(request, None if secret is None else secret.reveal()):
        raise AuthError("/metrics needs the API client secret as a bearer token")
    metrics: ApiMetrics = services.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
