"""Running one Google API request and mapping its failure onto the error tree.

googleapiclient retries on its own when asked (``num_retries``), sleeping
inside the call even for rate limits. We never ask: a rate limit becomes
`RateLimited` at once (the engine owns backoff and knows the other jobs), and
only 5xx and network faults are retried here, a few times with jittered
exponential backoff. A 400 is never retried. A rate limit is a 429, or a
403 whose error is in the ``usageLimits`` domain (any reason, e.g.
``dailyLimitExceeded``) or carries a quota reason; its ``Retry-After``
(delay-seconds or an HTTP-date) becomes ``RateLimited.retry_after``.

401 handling lives in google-auth's authorized http: it refreshes the access
token through ``token_uri`` and repeats the request; a refresh the token
endpoint refuses surfaces as ``RefreshError`` -> `CredentialsInvalid`.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httplib2  # type: ignore[import-untyped]
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from calsync.errors import (
    CredentialsInvalid,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    TransientProviderError,
)

log = logging.getLogger(__name__)

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
#: Every 403 in this domain is a quota (dailyLimitExceeded, rateLimitExceeded, ...).
USAGE_LIMITS_DOMAIN = "usageLimits"


class ApiError(ProviderError):
    """A client error the caller decides about (404, 409, 410, ...), with Google's reasons."""

    def __init__(self, message: str, *, status: int, reasons: tuple[str, ...]) -> None:
        super().__init__(message)
        self.status = status
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class _ErrorBody:
    reasons: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    message: str = ""


def _error_body(exc: HttpError) -> _ErrorBody:
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))
        error = body.get("error", {})
        details = error.get("errors", ())
        return _ErrorBody(
            reasons=tuple(str(e.get("reason", "")) for e in details),
            domains=tuple(str(e.get("domain", "")) for e in details),
            message=str(error.get("message", "")),
        )
    except (ValueError, AttributeError):
        return _ErrorBody()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_rate_limit(status: int, reasons: tuple[str, ...], domains: tuple[str, ...]) -> bool:
    """429, or a 403 that Google's errors guide files under usage limits."""
    if status == 429:
        return True
    return status == 403 and (
        USAGE_LIMITS_DOMAIN in domains or bool(RATE_LIMIT_REASONS.intersection(reasons))
    )


def classify(exc: HttpError, what: str) -> ProviderError:
    """The calsync error for one failed response."""
    status = int(exc.resp.status)
    body = _error_body(exc)
    reasons = body.reasons
    text = f"{what}: Google answered {status} {'/'.join(reasons) or ''} {body.message}".rstrip()
    if is_rate_limit(status, reasons, body.domains):
        return RateLimited(text, retry_after=parse_retry_after(exc.resp.get("retry-after")))
    if status == 401:
        return CredentialsInvalid(text)
    if status == 412:
        return PreconditionFailed(text)
    if status >= 500:
        return TransientProviderError(text)
    return ApiError(text, status=status, reasons=reasons)


@dataclass
class Executor:
    """Runs requests one at a time (httplib2 is not thread-safe) with the retry policy."""

    retries: int = 3
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any, what: str, *, headers: dict[str, str] | None = None) -> Any:
        if headers:
            request.headers.update(headers)
        attempt = 0
        while True:
            try:
                with self._lock:
                    return request.execute(num_retries=0)
            except HttpError as exc:
                error = classify(exc, what)
            except RefreshError as exc:
                if getattr(exc, "retryable", False):
                    error = TransientProviderError(f"{what}: token refresh failed: {exc}")
                else:
                    raise CredentialsInvalid(f"{what}: token refresh refused: {exc}") from exc
            except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
                error = TransientProviderError(f"{what}: network error: {exc}")
            if not isinstance(error, TransientProviderError) or attempt >= self.retries:
                raise error
            delay = self.backoff * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
            log.info("%s; retry %d in %.2fs", error.message, attempt + 1, delay)
            self.sleep(delay)
            attempt += 1
