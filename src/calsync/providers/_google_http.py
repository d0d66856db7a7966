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

`authorized_http` builds that transport ourselves rather than letting
googleapiclient do it from the credentials: only then can ``ca_file`` reach
httplib2, and google-auth refreshes through the same httplib2 client, so the
token endpoint is verified against the same CA bundle as the API.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httplib2  # type: ignore[import-untyped]
from google.auth.credentials import Credentials
from google.auth.exceptions import RefreshError, TransportError
from google_auth_httplib2 import AuthorizedHttp  # type: ignore[import-untyped]
from googleapiclient.errors import HttpError
from googleapiclient.http import build_http

from calsync.errors import (
    CredentialsInvalid,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    TransientProviderError,
)
from calsync.providers._failures import http_status_text, request_failure, where

log = logging.getLogger(__name__)

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
NOT_AN_OAUTH_ANSWER = "the answer is not an OAuth token response; check token_uri"
#: Every 403 in this domain is a quota (dailyLimitExceeded, rateLimitExceeded, ...).
USAGE_LIMITS_DOMAIN = "usageLimits"


def authorized_http(credentials: Credentials, ca_file: str | os.PathLike[str] | None) -> Any:
    """googleapiclient's own transport (`build_http`: its timeout, 308 not a redirect),
    verifying TLS against ``ca_file`` instead of httplib2's bundle when one is given."""
    http = build_http()
    if ca_file is not None:
        # httplib2 reads ca_certs per connection; certificate checks stay on.
        http.ca_certs = os.fspath(ca_file)
    return AuthorizedHttp(credentials, http=http)


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
    if not (reasons or body.message):
        # Not Google's JSON error: another server (or a proxy) answers at api_endpoint.
        uri = str(exc.uri or "").partition("?")[0]
        text = (
            f"{where(what, uri)}: {http_status_text(status)} without a Google API error; "
            "check api_endpoint"
        )
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
    #: Named in the messages of a failed token refresh.
    token_uri: str = ""
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any, what: str, *, headers: dict[str, str] | None = None) -> Any:
        if headers:
            request.headers.update(headers)
        attempt = 0
        while True:
            try:
                with self._lock:
                    return _json_answer(request.execute(num_retries=0), request, what)
            except HttpError as exc:
                error = classify(exc, what)
            except RefreshError as exc:
                error = self._refresh_failure(exc, what)
                if not isinstance(error, TransientProviderError):
                    raise error from exc
            except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
                error = self._network_failure(exc, request, what)
            except Exception as exc:
                if not _raised_in_token_refresh(exc):
                    raise
                # google-auth trips over a 200 answer that is not JSON (a web page).
                endpoint = where(f"{what}: token refresh at", self.token_uri)
                raise ProviderError(f"{endpoint}: {NOT_AN_OAUTH_ANSWER}") from exc
            if not isinstance(error, TransientProviderError) or attempt >= self.retries:
                raise error
            delay = self.backoff * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
            log.info("%s; retry %d in %.2fs", error.message, attempt + 1, delay)
            self.sleep(delay)
            attempt += 1

    def _network_failure(
        self, exc: BaseException, request: Any, what: str
    ) -> TransientProviderError:
        if isinstance(exc, TransportError) or _raised_in_token_refresh(exc):
            return request_failure(
                exc,
                f"{what}: token refresh at",
                self.token_uri,
                setting="token_uri",
                ca_setting="ca_file",
            )
        uri = str(getattr(request, "uri", "")).partition("?")[0]
        return request_failure(exc, what, uri, setting="api_endpoint", ca_setting="ca_file")

    def _refresh_failure(self, exc: RefreshError, what: str) -> ProviderError:
        """An OAuth error answer (``invalid_grant``…) means the token is refused; any
        other answer means something else listens at token_uri."""
        endpoint = where(f"{what}: token refresh at", self.token_uri)
        answer = exc.args[1] if len(exc.args) > 1 else None
        if isinstance(answer, Mapping) and "error" in answer:
            if getattr(exc, "retryable", False):
                return TransientProviderError(f"{endpoint}: {answer['error']}, retrying later")
            described = answer.get("error_description")
            detail = f"{answer['error']}: {described}" if described else str(answer["error"])
            return CredentialsInvalid(f"{endpoint}: refused ({detail})")
        if getattr(exc, "retryable", False):
            return TransientProviderError(f"{endpoint}: the token endpoint failed")
        return ProviderError(f"{endpoint}: {NOT_AN_OAUTH_ANSWER}")


def _raised_in_token_refresh(exc: BaseException) -> bool:
    """Whether google-auth's token refresh raised ``exc``: its httplib2 transport
    lets socket errors through unwrapped, so only the traceback tells."""
    marker = f"{os.sep}google{os.sep}oauth2{os.sep}"
    frame = exc.__traceback__
    while frame is not None:
        if marker in frame.tb_frame.f_code.co_filename:
            return True
        frame = frame.tb_next
    return False


def _json_answer(result: Any, request: Any, what: str) -> Any:
    """``result``, unless the server answered 2xx with something that is not JSON
    (googleapiclient then hands back the text: a web page at api_endpoint)."""
    if isinstance(result, str | bytes) and result.strip():
        uri = str(getattr(request, "uri", "")).partition("?")[0]
        raise ProviderError(
            f"{where(what, uri)}: the answer is not a Google Calendar API response; "
            "check api_endpoint"
        )
    return result
