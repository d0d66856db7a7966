"""Per-client rate limits and the request body size limit.

Both run in one small ASGI middleware, before routing, so every endpoint
(including ones added later) is covered without opting in.

*Rate limits* are sliding-window logs: a client may make at most N requests
in any window of one second and M in any window of one minute (defaults 50
and 500, ``[api] rate_limit_per_second`` / ``rate_limit_per_minute``). A
rejected request is not counted, so a client that honours ``Retry-After``
gets through as soon as the window has room again.

The *client* is, in order: the account behind the bearer token; else the
``client_id`` in a JSON body; else the remote address. The client-credential
endpoints ignore the bearer header (pycronofy sends whatever token it holds),
so there the ``client_id`` comes first. Unknown tokens fall through to the address, so inventing
random tokens does not buy a fresh budget.

*Body size*: a declared ``Content-Length`` over ``[api] max_body_bytes`` is
refused with 413 before reading anything; a chunked body is counted as it
streams and refused as soon as it crosses the limit.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calsync.api.errors import error_response, rate_limited_response, retry_after_header
from calsync.errors import CalsyncError

if TYPE_CHECKING:
    from calsync.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    seconds: float


class RateLimiter:
    """A thread-safe sliding-window-log limiter keyed by client.

    ``check(key)`` records the request and returns None when allowed, else the
    seconds until the client may retry. Memory is bounded by the busiest
    clients' request counts inside the longest window; idle keys are swept.
    """

    #: ``check`` does I/O: the middleware calls it on a worker thread.
    blocking = False

    def __init__(
        self,
        windows: tuple[Window, ...],
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_every: int = 1024,
    ) -> None:
        self._windows = tuple(w for w in windows if w.limit > 0)
        self._longest = max((w.seconds for w in self._windows), default=0.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._calls = 0
        self._sweep_every = sweep_every

    @classmethod
    def per_second_and_minute(cls, per_second: int, per_minute: int) -> RateLimiter:
        return cls((Window(per_second, 1.0), Window(per_minute, 60.0)))

    @classmethod
    def for_store(cls, store: Store, per_second: int, per_minute: int) -> RateLimiter:
        """Shared through the database on PostgreSQL (replicas), in memory on SQLite."""
        windows = (Window(per_second, 1.0), Window(per_minute, 60.0))
        if store.backend == "postgresql":
            return SharedRateLimiter(store, windows)
        return cls(windows)

    def check(self, key: str) -> float | None:
        if not self._windows:
            return None
        now = self._clock()
        with self._lock:
            self._calls += 1
            if self._calls % self._sweep_every == 0:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self._longest:
                hits.popleft()
            wait = 0.0
            for window in self._windows:
                inside = _count_since(hits, now - window.seconds)
                if inside >= window.limit:
                    # The request that frees a slot is the limit-th newest one.
                    oldest_blocking = hits[len(hits) - window.limit]
                    wait = max(wait, oldest_blocking + window.seconds - now)
            if wait > 0:
                return wait
            hits.append(now)
            return None

    def _sweep(self, now: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or h[-1] <= now - self._longest]
        for key in stale:
            del self._hits[key]


class SharedRateLimiter(RateLimiter):
    """The same windows counted in PostgreSQL (`Store.count_request`), so that R
    replicas together allow what one would, not R times as much. One statement
    per request on a worker thread (bench/RESULTS.md gives its cost). When the
    store does not answer, requests are let through (the request itself then
    fails with 503): a limiter must not turn an outage into 429s."""

    blocking = True

    def __init__(
        self,
        store: Store,
        windows: tuple[Window, ...],
        *,
        clock: Callable[[], float] = time.time,
        prune_every: int = 4096,
    ) -> None:
        super().__init__(windows, clock=clock)
        self._store = store
        self._prune_every = prune_every
        self._spec = [(max(1, round(w.seconds)), w.limit) for w in self._windows]

    def check(self, key: str) -> float | None:
        if not self._spec:
            return None
        now = self._clock()
        with self._lock:
            self._calls += 1
            prune = self._calls % self._prune_every == 0
        try:
            if prune:
                self._store.prune_rate_counts(now, max(s for s, _ in self._spec))
            return self._store.count_request(key[:255], self._spec, now)
        except CalsyncError:
            log.warning("rate limits: the store did not answer; request let through")
            return None


def _count_since(hits: deque[float], since: float) -> int:
    """How many timestamps (sorted ascending) are newer than ``since``."""
    count = 0
    for stamp in reversed(hits):
        if stamp <= since:
            break
        count += 1
    return count


#: Resolves a bearer token to a stable client key (its account), or None.
TokenIdentifier = Callable[[str], str | None]

#: Endpoints that authenticate by the body's client credentials, not the header.
CLIENT_CREDENTIAL_PATHS = frozenset(
    {"/v1/application_calendars", "/oauth/token", "/oauth/token/revoke"}
)

#: Paths never limited: probes and scrapes must work while a client is throttled.
UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})


class _BodyTooLarge(Exception):
    pass


#: Another dialect's answer for a refusal (status, message, headers), or None for
#: the default Cronofy body; `calsync.api.chronary.context.limits_answer` is one.
RefusalAnswer = Callable[[Scope, int, str, dict[str, str]], ASGIApp | None]


class LimitsMiddleware:
    """Body size limit, then per-client rate limit, then the app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        max_body_bytes: int,
        identify_token: TokenIdentifier,
        refusal: RefusalAnswer | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.identify_token = identify_token
        self.refusal = refusal

    def _too_large(self, scope: Scope) -> ASGIApp:
        message = f"the request body is larger than {self.max_body_bytes} bytes"
        other = self.refusal(scope, 413, message, {}) if self.refusal else None
        return other or _too_large(self.max_body_bytes)

    def _rate_limited(self, scope: Scope, wait: float) -> ASGIApp:
        message = "too many requests; retry after the number of seconds in Retry-After"
        other = (
            self.refusal(scope, 429, message, retry_after_header(wait)) if self.refusal else None
        )
        return other or rate_limited_response(wait)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._too_large(scope)(scope, receive, send)
            return
        try:
            body, more = await self._read_body(receive)
        except _BodyTooLarge:
            await self._too_large(scope)(scope, receive, send)
            return

        if scope.get("path") not in UNLIMITED_PATHS:
            key = await self._client_key(scope, headers, body)
            limiter = self.limiter
            if limiter.blocking:
                wait = await run_in_threadpool(limiter.check, key)
            else:
                wait = limiter.check(key)
            if wait is not None:
                await self._rate_limited(scope, wait)(scope, receive, send)
                return

        await self.app(scope, _replay(body, more, receive), send)

    async def _read_body(self, receive: Receive) -> tuple[bytes, bool]:
        """Read the whole body (bounded by the limit); returns (body, disconnected)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _client_key(self, scope: Scope, headers: dict[str, str], body: bytes) -> str:
        if scope.get("path") in CLIENT_CREDENTIAL_PATHS:
            # These endpoints ignore a bearer header, so the limit does too; the
            # OAuth ones may name the client in a Basic header or a form instead.
            client_id = _client_id_from_basic(headers) or _client_id_from_body(body)
            if client_id is not None:
                return f"client:{client_id}"
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token and token != "None":  # noqa: S105 (pycronofy)
            try:
                account = await run_in_threadpool(self.identify_token, token)
            except CalsyncError:
                # The store is down: limit by address; the route answers 503.
                account = None
            if account is not None:
                return f"account:{account}"
        client_id = _client_id_from_body(body)
        if client_id is not None:
            return f"client:{client_id}"
        client = scope.get("client")
        return f"addr:{client[0] if client else 'unknown'}"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _client_id_from_body(body: bytes) -> str | None:
    """``client_id`` of a JSON object body, else of a form body (RFC 6749 §4.1.3)."""
    if not body or b"client_id" not in body:
        return None
    value: object = None
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        value = data.get("client_id")
    elif data is None:
        try:
            value = parse_qs(body.decode("utf-8")).get("client_id", [None])[0]
        except (UnicodeDecodeError, ValueError):
            value = None
    return value if isinstance(value, str) and value else None


def _client_id_from_basic(headers: dict[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, _ = decoded.partition(":")
    return client_id if sep and client_id else None


def _too_large(limit: int) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    return error_response(
        413, "errors.request_too_large", f"the request body is larger than {limit} bytes"
    )


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then defers."""
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            message: Message = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()

    return replay
