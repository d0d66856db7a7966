"""Requests to Microsoft Graph over httpx, and the retry policy.

Every request carries ``Prefer: outlook.timezone="UTC"`` (times come back as
UTC instants), ``outlook.body-content-type="text"`` and ``odata.maxpagesize``
(https://learn.microsoft.com/en-us/graph/api/event-delta).

- 401: the access token is refreshed through msal once and the request
  repeated; a second 401 is `CredentialsInvalid`.
- 429, 503, 504 (https://learn.microsoft.com/en-us/graph/throttling): wait for
  ``Retry-After`` (delay-seconds, fractions allowed, or an HTTP-date) and try
  again, up to ``retries`` times while the wait is at most ``max_wait``; beyond
  that a 429 is `RateLimited` (the engine backs the account off for
  ``retry_after``) and a 503/504 `TransientProviderError`. Other 5xx and network
  faults are retried with jittered exponential backoff.
- Writes are safe to repeat: creates carry a ``transactionId``, updates and
  deletes an ``If-Match``, so a request whose answer was lost is sent again.
- A 400 is never retried. Other 4xx are `GraphApiError` for the caller to decide
  (404, 410, 412). Graph's ``error.code`` and ``error.message`` are in every
  message, so they reach the log and ``calsync status``.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from calsync.errors import CredentialsInvalid, ProviderError, RateLimited, TransientProviderError
from calsync.providers._failures import http_status_text, request_failure, where
from calsync.providers._graph_auth import GraphAuth

log = logging.getLogger(__name__)

THROTTLED = frozenset({429, 503, 504})


class GraphApiError(ProviderError):
    """A 4xx the caller decides about, with Graph's error code."""

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After``: delay-seconds (Graph may send fractions) or a date."""
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
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
        error = body.get("error", {}) if isinstance(body, dict) else {}
        if isinstance(error, dict):
            return str(error.get("code") or ""), str(error.get("message") or "")
    except (ValueError, AttributeError):
        pass
    return "", ""


class GraphClient:
    """One account's connection to Graph (thread-safe; httpx pools connections)."""

    def __init__(
        self,
        endpoint: str,
        auth: GraphAuth,
        *,
        ca_file: str | None = None,
        page_size: int = 100,
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.auth = auth
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait
        self.sleep = sleep
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        prefer = (
            f'outlook.timezone="UTC", outlook.body-content-type="text", '
            f"odata.maxpagesize={page_size}"
        )
        self._client = httpx.Client(
            verify=verify,
            trust_env=not ca_file,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"Prefer": prefer, "Accept": "application/json"},
        )
        #: Requests sent (benchmarks count them).
        self.sent = 0

    def url(self, path: str) -> str:
        return (
            path
            if path.startswith("https://") or path.startswith("http://")
            else (self.endpoint + path)
        )

    def request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self.url(path)
        attempt, refreshed = 0, False
        content = json.dumps(body).encode() if body is not None else None
        while True:
            token = self.auth.access_token()
            sent_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            if content is not None:
                sent_headers["Content-Type"] = "application/json"
            try:
                self.sent += 1
                response = self._client.request(
                    method, url, content=content, params=params, headers=sent_headers
                )
            except httpx.TransportError as exc:
                error = request_failure(exc, what, url, setting="graph_endpoint")
                if attempt >= self.retries:
                    raise error from exc
                self._pause(error.message, self._backoff(attempt))
                attempt += 1
                continue
            status = response.status_code
            if status < 400:
                return response
            code, message = _error(response)
            text = self._describe(what, url, status, code, message)
            if status == 401:
                if refreshed:
                    raise CredentialsInvalid(text)
                refreshed = True
                self.auth.access_token(refresh=True)
                continue
            if status in THROTTLED or status >= 500:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if attempt < self.retries and (wait is None or wait <= self.max_wait):
                    self._pause(text, wait if wait is not None else self._backoff(attempt))
                    attempt += 1
                    continue
                if status == 429:
                    raise RateLimited(text, retry_after=wait)
                raise TransientProviderError(text)
            log.info("%s", text)
            raise GraphApiError(text, status=status, code=code)

    def _backoff(self, attempt: int) -> float:
        return float(self.backoff * (2**attempt) * (0.5 + random.random()))  # noqa: S311

    def _pause(self, text: str, delay: float) -> None:
        log.info("%s; retrying in %.2fs", text, delay)
        self.sleep(delay)

    @staticmethod
    def _describe(what: str, url: str, status: int, code: str, message: str) -> str:
        if not code and not message:
            path = urlsplit(url)._replace(query="").geturl()
            return f"{where(what, path)}: {http_status_text(status)} without a Graph error"
        return f"{what}: Graph answered {status} {code}: {message}".rstrip(": ")

    def json(self, method: str, path: str, what: str, **options: Any) -> dict[str, Any]:
        response = self.request(method, path, what, **options)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            found = response.json()
        except ValueError as exc:
            raise ProviderError(
                f"{where(what, self.url(path))}: the answer is not JSON; check graph_endpoint"
            ) from exc
        if not isinstance(found, dict):
            raise ProviderError(f"{what}: Graph sent {type(found).__name__}, not an object")
        return found

    def pages(self, path: str, what: str, **options: Any) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following ``@odata.nextLink`` verbatim."""
        page = self.json("GET", path, what, **options)
        while True:
            yield page
            link = page.get("@odata.nextLink")
            if not link:
                return
            page = self.json("GET", link, what)

    def close(self) -> None:
        self._client.close()
