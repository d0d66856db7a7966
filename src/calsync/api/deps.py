"""What every route depends on: the services bundle and the bearer-token check.

Access tokens (``csa_…``) and refresh tokens (``csr_…``) are random; the store
keeps only their SHA-256 (a database leak yields no usable token), looks them
up by that hash and compares it again in constant time (`calsync.store.repos.tokens`).

One token lookup per request: the rate limiter resolves the bearer token
before routing (`identify_token`) and leaves the result in a hand-off slot
keyed by the token; `require_account` takes it from there instead of reading
the store again. A slot is consumed once, replaced (or cleared) by every
lookup of the same token, and ignored when older than `HANDOFF_SECONDS`, so
the route always acts on a lookup made while its own request was in flight:
revocation is honoured exactly as promptly as without the hand-off. Nothing
is cached across requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from calsync.api.availability_busy import BusyCache
from calsync.api.limits import RateLimiter
from calsync.api.local_changes import AccountChanges, LocalChanges
from calsync.api.metrics import ApiMetrics
from calsync.api.read_cache import ReadCache
from calsync.availability import Interval
from calsync.config import Settings
from calsync.errors import AuthError
from calsync.store import Store
from calsync.store.records import AccountRecord
from calsync.store.repos.tokens import ACCESS, REFRESH
from calsync.store.repos.tokens import PREFIXES as TOKEN_PREFIXES

ACCESS_TOKEN_PREFIX = TOKEN_PREFIXES[ACCESS]
REFRESH_TOKEN_PREFIX = TOKEN_PREFIXES[REFRESH]


def utc_now() -> datetime:
    return datetime.now(UTC)


#: Members kept by the availability query's busy cache (each ~1,400 intervals in
#: the benchmark's shape, ~0.3 MB): on with the read cache, off without it.
BUSY_CACHE_ENTRIES = 64
#: Members' free time kept per query shape (a few hundred intervals each at most).
FREE_CACHE_ENTRIES = 256
#: Series kept with their busy occurrences (a few hundred bytes each).
SERIES_CACHE_ENTRIES = 20_000

#: A hand-off older than this is never used (the request it served has long
#: been answered); the route then reads the store itself.
HANDOFF_SECONDS = 2.0
_HANDOFF_MAX = 4096


class TokenHandoff:
    """Passes one token lookup from the rate-limit middleware to the route (see module doc)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots: dict[str, tuple[float, AccountRecord | None]] = {}

    def put(self, token: str, account: AccountRecord | None) -> None:
        if len(self._slots) >= _HANDOFF_MAX:
            self._slots.clear()  # unconsumed slots (429s, 404s): just start over
        self._slots[token] = (self._clock(), account)

    def discard(self, token: str) -> None:
        self._slots.pop(token, None)

    def take(self, token: str) -> tuple[bool, AccountRecord | None]:
        """``(found, account)``; dict.pop is atomic, so two requests never share one slot."""
        slot = self._slots.pop(token, None)
        if slot is None or self._clock() - slot[0] > HANDOFF_SECONDS:
            return False, None
        return True, slot[1]


class ReplicaStatus:
    """What ``/healthz`` says about replicas; the daemon sets ``source`` on PostgreSQL."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[str, Any]] | None = None

    def __call__(self) -> dict[str, Any] | None:
        return None if self.source is None else self.source()


@dataclass(frozen=True)
class ApiServices:
    """Everything the API needs, built once by the bootstrap (or a test).

    Build it with `ApiServices.build`, which derives the limiter from the
    settings; construct it directly only to inject a custom limiter or metrics.
    """

    settings: Settings
    store: Store
    limiter: RateLimiter
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    #: The clock for token expiry and sync lag; tests inject a fake one.
    now: Callable[[], datetime] = utc_now
    handoff: TokenHandoff = field(default_factory=TokenHandoff)
    #: Rendered read pages; off unless built from settings (see `build`).
    read_cache: ReadCache = field(default_factory=lambda: ReadCache(0))
    #: Bounds concurrent page renders; see `render_slots_for`.
    render_slots: threading.Semaphore | None = None
    #: Told after an app's write to a synced calendar (the daemon pushes it).
    local_changes: LocalChanges = field(default_factory=LocalChanges)
    #: PostgreSQL replicas: this replica's view of the others, for ``/healthz``.
    replica_status: ReplicaStatus = field(default_factory=lambda: ReplicaStatus())
    #: Told after the connect flow or a revocation changed the connected accounts.
    account_changes: AccountChanges = field(default_factory=AccountChanges)
    #: Members' busy time for the availability query; off unless built from settings.
    busy_cache: BusyCache[list[Interval]] = field(default_factory=lambda: BusyCache(0))
    #: Each series' busy occurrences, by content (see `availability_busy.busy_intervals`).
    series_cache: BusyCache[list[Interval]] = field(default_factory=lambda: BusyCache(0))
    #: Members' busy rows by (account, calendars, window), kept with their version so a
    #: write is applied as a delta (see `availability._member_rows`).
    rows_cache: BusyCache[Any] = field(default_factory=lambda: BusyCache(0))
    #: Availability request bodies already validated, by their bytes (a polling app
    #: sends the same body again and again); the parse is pure, so never stale.
    parsed_cache: BusyCache[Any] = field(default_factory=lambda: BusyCache(0))
    #: Availability rules per (account, version): a rule change moves the version.
    rules_cache: BusyCache[Any] = field(default_factory=lambda: BusyCache(0))
    #: Members' free time per query shape (see `availability._free_time_memo`).
    free_cache: BusyCache[list[Interval]] = field(default_factory=lambda: BusyCache(0))

    def render_slot(self) -> AbstractContextManager[object]:
        return self.render_slots if self.render_slots is not None else nullcontext()

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: Store,
        *,
        now: Callable[[], datetime] = utc_now,
        metrics: ApiMetrics | None = None,
        limiter: RateLimiter | None = None,
    ) -> ApiServices:
        if limiter is None:
            limiter = RateLimiter.for_store(
                store, settings.api.rate_limit_per_second, settings.api.rate_limit_per_minute
            )
        return cls(
            settings=settings,
            store=store,
            limiter=limiter,
            metrics=metrics if metrics is not None else ApiMetrics(),
            now=now,
            read_cache=ReadCache.of_mib(settings.api.read_cache_mb),
            render_slots=render_slots_for(store),
            busy_cache=BusyCache(BUSY_CACHE_ENTRIES if settings.api.read_cache_mb > 0 else 0),
            series_cache=BusyCache(SERIES_CACHE_ENTRIES if settings.api.read_cache_mb > 0 else 0),
            rows_cache=BusyCache(BUSY_CACHE_ENTRIES if settings.api.read_cache_mb > 0 else 0),
            parsed_cache=BusyCache(256 if settings.api.read_cache_mb > 0 else 0),
            rules_cache=BusyCache(BUSY_CACHE_ENTRIES if settings.api.read_cache_mb > 0 else 0),
            free_cache=BusyCache(FREE_CACHE_ENTRIES if settings.api.read_cache_mb > 0 else 0),
        )


def render_slots_for(store: Store) -> threading.Semaphore | None:
    """At most 2 page renders at once on SQLite; no bound on PostgreSQL.

    On SQLite a render is pure CPU in this process (the database is a library
    call), so more threads only fight over the GIL. `bench/read_events.py
    --cache off` (wrk, 8 connections), two interleaved rounds: unbounded 81 and
    110 req/s (10.6-14.2 ms CPU per request), two slots 113 and 161 req/s
    (6.9-9.7 ms), one slot 123 and 143. Two keeps one slow page from stalling
    every other read. On PostgreSQL a render mostly waits on the server, and
    bounding it lowered throughput (120 -> 105 req/s with two).
    """
    return threading.BoundedSemaphore(2) if store.backend == "sqlite" else None


# The dependencies below are `async def` on purpose: FastAPI runs every plain
# `def` dependency in the thread pool, one hop (~0.3-1 ms under load) each, on
# top of the endpoint's own. These do no I/O in the common case, so they run on
# the event loop and a sync endpoint costs exactly one hop.


async def get_services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]


@dataclass(frozen=True, slots=True)
class AuthContext:
    account: AccountRecord


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header; pycronofy's ``None`` is no token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or token == "None":  # noqa: S105 (pycronofy)
        return None
    return token


def authenticate(services: ApiServices, token: str) -> AccountRecord | None:
    """The account a live (known, unexpired, unrevoked) access token belongs to."""
    if not token.startswith(ACCESS_TOKEN_PREFIX) or len(token) > 256:
        return None
    found = services.store.resolve_access_token(token)
    if found is None:
        return None
    expires_at, account = found
    # The store checks expiry against the wall clock; the injected clock
    # may run ahead of it (tests, or a replica whose clock is ahead).
    if expires_at is not None and expires_at <= services.now():
        return None
    return account


def identify_token(services: ApiServices, token: str) -> str | None:
    """The rate-limit key of a token: its account's ``sub``, or None when unknown.

    The lookup is handed to `require_account` of the same request.
    """
    services.handoff.discard(token)  # a failed lookup must not leave an older answer behind
    account = authenticate(services, token)
    services.handoff.put(token, account)
    return account.sub if account is not None else None


#: Declares the bearer scheme in the OpenAPI document (``/docs`` offers to fill it in);
#: the token itself is read by `bearer_token`, which knows pycronofy's ``Bearer None``.
_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An access token (`csa_...`) from /v1/application_calendars or /oauth/token.",
)


async def require_account(
    request: Request,
    services: Services,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> AuthContext:
    """FastAPI dependency: the account of the request's bearer token, else 401.

    The rate limiter's hand-off normally answers without I/O, so this runs on
    the event loop; only a missing hand-off sends the store lookup to a thread.
    """
    token = bearer_token(request)
    if token is None:
        raise AuthError("missing bearer token")
    found, account = services.handoff.take(token)
    if not found:
        account = await run_in_threadpool(authenticate, services, token)
    if account is None:
        raise AuthError("unknown, expired or revoked access token")
    return AuthContext(account=account)


Auth = Annotated[AuthContext, Depends(require_account)]
