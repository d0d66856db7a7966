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
- `batch_get`: many GETs through JSON batching (``POST /$batch``, at most 20 a
  batch, https://learn.microsoft.com/en-us/graph/json-batching). The batch answers
  200 whatever its requests did, in any order, each with its own status: requests
  throttled on their own (429, 503, 504, "evaluated individually against the
  applicable throttling limits") are sent again after the longest of their
  ``Retry-After``s, under the same budget as a single request; the other answers go
  back to the caller by id. Individual requests inherit only the authorization, so
  each carries the ``Prefer`` header itself.
"""

from __future__ import annotations

import gc
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from calsync.errors import CredentialsInvalid, ProviderError, RateLimited, TransientProviderError
from calsync.providers._failures import http_status_text, request_failure, where
from calsync.providers._graph_auth import GraphAuth

log = logging.getLogger(__name__)

THROTTLED = frozenset({429, 503, 504})
#: "JSON batch requests are currently limited to 20 individual requests."
MAX_BATCH = 20
#: Left as is in a batched request's query: OData's own punctuation.
ODATA_SAFE = "$(),'=:"


class GraphApiError(ProviderError):
    """A 4xx the caller decides about, with Graph's error code."""

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """One individual answer of a ``$batch``: its status and body (Graph's error fields)."""

    status: int
    body: dict[str, Any]
    code: str = ""
    message: str = ""


def relative_url(path: str, params: Mapping[str, str] | None = None) -> str:
    """A ``$batch`` request's url: relative to the version root (``/me/events/{id}``).

    The query is written as Microsoft's batch examples write it (``$select=...``, OData
    punctuation as is), only spaces and what a URL cannot carry are percent-encoded.
    """
    quoted = "/".join(quote(part, safe="=") for part in path.split("/"))
    if not params:
        return quoted
    return f"{quoted}?{urlencode(params, quote_via=quote, safe=ODATA_SAFE)}"


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


def _decode(content: bytes) -> Any:
    """JSON from bytes (decoded once, as httpx would), with the cyclic GC paused meanwhile.

    A delta page is ~2 MB of JSON: 1,000 events of some 25 dicts and lists each. Decoding
    it with the collector on runs ~35 young collections, and every tenth of those an older
    one that walks whatever the process keeps (the store's objects): in an initial sync of
    10,000 events the collector took as much CPU as the decoding itself
    (bench/graph_sync.py, RESULTS.md). Paused, the page's objects are examined once, by
    the next young collection. Nothing here makes cycles, and the pause lasts one decode
    (milliseconds); other threads' garbage waits that long.
    """
    if not gc.isenabled():
        return json.loads(content)
    gc.disable()
    try:
        return json.loads(content)
    finally:
        gc.enable()


def _close_unread(answer: Future[httpx.Response]) -> None:
    if not answer.cancelled() and answer.exception() is None:
        answer.result().close()


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
        self.page_size = page_size
        #: What every individual request of a batch carries (the batch's own are not passed on).
        self._item_headers = {"Prefer": prefer, "Accept": "application/json"}
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
        stream: bool = False,
    ) -> httpx.Response:
        """Send with the retry policy; ``stream``: a success's body is left unread
        (`read_json` reads it), so a worker thread can wait for Graph's answer without
        competing for the GIL while the body arrives (`_graph_delta`)."""
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
                outgoing = self._client.build_request(
                    method, url, content=content, params=params, headers=sent_headers
                )
                response = self._client.send(outgoing, stream=stream)
                if stream and response.status_code >= 400:
                    response.read()  # an error's body is small: it names the error
                    response.close()
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
        return self.read_json(self.request(method, path, what, **options), what)

    def read_json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """The JSON object a success carries; a streamed one is read (then closed) here.

        A network fault while its body arrives is httpx's `TransportError`, for the
        caller to send the request again (`request` retries only up to the headers).
        A streamed body is joined here, not kept on the response: an httpx response
        and its stream refer to each other, so a response that lived while a page was
        stored (it was asked for ahead) is freed only by a full collection, and with its
        ~2 MB body it raised the initial sync's peak RSS by 17 MiB (bench/graph_sync.py).
        """
        if response.is_stream_consumed:
            content = response.content
        else:
            try:
                content = b"".join(response.iter_bytes())
            finally:
                response.close()
        if response.status_code == 204 or not content:
            return {}
        try:
            found = _decode(content)
        except ValueError as exc:
            url = str(response.request.url.copy_with(query=None))
            raise ProviderError(
                f"{where(what, url)}: the answer is not JSON; check graph_endpoint"
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

    def pages_ahead(self, first: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """`pages` from a first page in hand, each next page asked for while the caller
        works on the one before.

        The request for the next ``@odata.nextLink`` goes out, in a worker thread, before
        a page is yielded. Graph composes the answer meanwhile (real Graph takes hundreds
        of milliseconds for a page of 1,000 events) instead of after the caller has
        stored the page. The thread waits only for the answer's headers, blocked in the
        socket with the GIL released; its body, ~2 MB, is read and decoded when the
        caller asks for the page (`read_json`), since a reader thread taking the GIL after
        every 16 KiB TLS read while the store works cost more CPU than the overlap saved
        (bench/graph_sync.py, RESULTS.md). Errors are the ones `request` raises, when the
        page is asked for; a fault while the body arrives sends the request again. At
        most one request is ahead; one the caller never asks for is closed unread.
        """
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-next-page")
        pending: Future[httpx.Response] | None = None
        page = first
        try:
            while True:
                link = page.get("@odata.nextLink")
                if link:
                    pending = pool.submit(self.request, "GET", str(link), what, stream=True)
                yield page
                if pending is None:
                    return
                answer, pending = pending.result(), None
                try:
                    page = self.read_json(answer, what)
                except httpx.TransportError:
                    page = self.json("GET", str(link), what)  # retried, as any request
        finally:
            if pending is not None:
                pending.add_done_callback(_close_unread)
            pool.shutdown(wait=False, cancel_futures=True)

    def batch_get(self, urls: Mapping[str, str], what: str) -> dict[str, BatchAnswer]:
        """GET every ``id -> url`` (see `relative_url`) through ``$batch``; answers by id.

        Throttled requests are sent again (see the module docstring); when the budget
        runs out that is `RateLimited` (429) or `TransientProviderError`, as for one
        request. Every other status, 404 included, is the caller's to judge.
        """
        pending = dict(urls)
        answers: dict[str, BatchAnswer] = {}
        attempt = 0
        while True:
            throttled: dict[str, tuple[int, float | None, str]] = {}
            ids = list(pending)
            for first in range(0, len(ids), MAX_BATCH):
                chunk = ids[first : first + MAX_BATCH]
                for ident, (answer, wait) in self._one_batch(chunk, pending, what).items():
                    if answer.status in THROTTLED:
                        text = self._describe(
                            what, pending[ident], answer.status, answer.code, answer.message
                        )
                        throttled[ident] = (answer.status, wait, text)
                    else:
                        answers[ident] = answer
                        del pending[ident]
            if not throttled:
                return answers
            waits = [w for _, w, _ in throttled.values() if w is not None]
            wait = max(waits) if waits else None
            _, _, text = next(iter(throttled.values()))
            text = f"{text} ({len(throttled)} of a batch)"
            if attempt >= self.retries or (wait is not None and wait > self.max_wait):
                if any(s == 429 for s, _, _ in throttled.values()):
                    raise RateLimited(text, retry_after=wait)
                raise TransientProviderError(text)
            self._pause(text, wait if wait is not None else self._backoff(attempt))
            attempt += 1

    def _one_batch(
        self, chunk: list[str], urls: Mapping[str, str], what: str
    ) -> dict[str, tuple[BatchAnswer, float | None]]:
        requests = [
            {"id": ident, "method": "GET", "url": urls[ident], "headers": self._item_headers}
            for ident in chunk
        ]
        reply = self.json("POST", "/$batch", f"{what} (batch)", body={"requests": requests})
        responses = reply.get("responses")
        if not isinstance(responses, list):
            raise ProviderError(f"{what}: Graph's batch answer has no 'responses'")
        found: dict[str, tuple[BatchAnswer, float | None]] = {}
        for response in responses:
            ident = response.get("id") if isinstance(response, dict) else None
            status = response.get("status") if isinstance(response, dict) else None
            if ident not in urls or ident not in chunk or not isinstance(status, int):
                raise ProviderError(f"{what}: Graph's batch answered a request it was not sent")
            headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
            body = response.get("body")
            body = body if isinstance(body, dict) else {}
            error = body.get("error") if status >= 400 else None
            code = str(error.get("code") or "") if isinstance(error, dict) else ""
            message = str(error.get("message") or "") if isinstance(error, dict) else ""
            answer = BatchAnswer(status=status, body=body, code=code, message=message)
            found[ident] = (answer, parse_retry_after(headers.get("retry-after")))
        missing = set(chunk) - set(found)
        if missing:
            raise ProviderError(
                f"{what}: Graph's batch answer lacks {len(missing)} of its {len(chunk)} requests"
            )
        return found

    def close(self) -> None:
        self._client.close()
