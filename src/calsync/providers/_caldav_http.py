"""HTTP for the CalDAV provider, over the `caldav` library's client and session.

The library's `DAVClient` holds the connection pool, basic auth (from the options
or the URL's userinfo), TLS and proxies, and does discovery (principal,
calendar-home-set). The sync and write requests go through its session here so we
see every status code and body ourselves (the library turns a 403 into an
exception and loses the DAV:error body that says "invalid sync token").

The library is imported with this module, which only the provider implementation
imports: reading the config (`_caldav_config`) never loads it (issue #11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http_library

from calsync.errors import (
    CredentialsInvalid,
    ProviderError,
    RateLimited,
    TransientProviderError,
)
from calsync.providers._failures import http_status_text, request_failure, retry_after, where

log = logging.getLogger(__name__)

REFUSED_CREDENTIALS = "the CalDAV server refused our credentials; check username and password_file"
NOT_CALDAV = (
    "this does not look like a CalDAV server; check url (the CalDAV server or principal URL)"
)

#: Called before every request to the server, the library's discovery included:
#: (method, url, body). Tests count requests with it; production leaves it None.
RequestHook = Callable[[str, str, bytes], None]

T = TypeVar("T")

#: How long to wait for a TCP connection: short, so an unreachable server fails
#: fast. The read timeout (the account's ``timeout`` key) is a separate, patient
#: limit: servers answer large collections slowly (see `DEFAULT_READ_TIMEOUT`).
CONNECT_TIMEOUT = 10.0
#: Radicale builds its cache for minutes on a first PROPFIND of a large home;
#: ownCloud, Xandikos and DavMail users report REPORTs of minutes. vdirsyncer
#: waits 5 minutes; so do we.
DEFAULT_READ_TIMEOUT = 300.0

XML_HEADERS = {"Content-Type": 'application/xml; charset="utf-8"'}
ICS_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}

#: Requests that change nothing: sent once more on a fresh connection when a kept-alive
#: one turns out dead. A write never is: its answer may be what got lost after the
#: server applied it (the push journal settles that).
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"})


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag") or self.headers.get("etag")


class _HookedClient(DAVClient):
    """`DAVClient` that tells the request hook about the library's own requests."""

    hook: RequestHook | None = None

    def request(self, url: Any, method: str = "GET", body: Any = "", *args: Any, **kw: Any) -> Any:
        if self.hook is not None:
            data = body.encode() if isinstance(body, str) else bytes(body or b"")
            self.hook(method, str(url), data)
        return super().request(url, method, body, *args, **kw)


class DavTransport:
    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        hook: RequestHook | None,
        timeout: float,
        connect_timeout: float = CONNECT_TIMEOUT,
        account: str | None = None,
    ) -> None:
        # Basic auth from the first request (no 401 round trip), also when the
        # credentials come from the URL's userinfo (the library reads them there).
        basic = username is not None or urlsplit(url).username is not None
        self.client = _HookedClient(
            url=url,
            username=username,
            password=password,
            auth_type="basic" if basic else None,
            enable_rfc6764=False,
        )
        self.client.hook = hook
        #: The configured URL without its userinfo (the library strips it).
        self.url = str(self.client.url)
        self.hook = hook
        #: The read timeout: how long one answer may take (the ``timeout`` key).
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.account = account
        # The library's own requests (discovery) get the same pair of limits.
        self.client.timeout = self.timeouts  # type: ignore[assignment]

    @property
    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)``, as the HTTP library takes them."""
        return (self.connect_timeout, self.timeout)

    def send(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request; maps 401, 429/503 and other 5xx (but not 507) to calsync errors."""
        if self.hook is not None:
            self.hook(method, url, body)
        merged = {"User-Agent": "calsync", **(headers or {})}
        # The session drops pooled connections it sees closed before using them; one
        # that dies under a request is retried here once for a read, never for a write.
        attempts = 2 if method in _SAFE_METHODS else 1
        for attempt in range(attempts):
            try:
                response = self.client.session.request(
                    method,
                    url,
                    data=body or None,
                    headers=merged,
                    auth=self.client.auth,
                    timeout=self.timeouts,
                    verify=self.client.ssl_verify_cert,
                    allow_redirects=False,
                )
                break
            except http_library.exceptions.Timeout as exc:
                raise self.network_error(method, url, exc) from exc
            except http_library.exceptions.ConnectionError as exc:
                if attempt + 1 < attempts:
                    log.debug("%s: connection lost, sending again", where(method, url))
                    continue
                raise self.network_error(method, url, exc) from exc
            except http_library.exceptions.RequestException as exc:
                raise self.network_error(method, url, exc) from exc
        status = int(response.status_code or 0)
        reply_headers = {k: v for k, v in response.headers.items()}
        content = response.content or b""
        if status == 401:
            raise CredentialsInvalid(f"{where(method, url)}: {REFUSED_CREDENTIALS}")
        if status in (429, 503):
            raise RateLimited(
                f"{method} {url}: HTTP {status}",
                retry_after=retry_after(reply_headers.get("Retry-After")),
            )
        if status >= 500 and status != 507:
            raise TransientProviderError(f"{method} {url}: HTTP {status}")
        return Reply(status=status, headers=reply_headers, body=content)

    def network_error(self, what: str, url: str, exc: BaseException) -> TransientProviderError:
        """A request that got no answer, in one line: which request, and for a
        timeout which limit ran out and which key raises it."""
        request = where(what, url)
        if isinstance(exc, http_library.exceptions.ConnectTimeout):
            return TransientProviderError(
                f"{request}: could not connect within {self.connect_timeout:g}s "
                "(is the server reachable?)"
            )
        if isinstance(exc, http_library.exceptions.Timeout):
            whose = f" of account {self.account!r}" if self.account else ""
            return TransientProviderError(
                f"{request}: the server did not answer within {self.timeout:g}s (read timeout); "
                f"if it is just slow (large calendars can take minutes), raise `timeout`{whose}",
                hint=f"Raise `timeout`{whose} in the config (now {self.timeout:g}s).",
            )
        return request_failure(exc, what, url, timeout=self.timeout)

    def call(self, what: str, call: Callable[[], T], *, url: str) -> T:
        """Run a `caldav` library call (discovery at ``url``), turning its exceptions
        into one-line calsync errors: the library's own text is a repr chain or an
        HTML page."""
        request = where(what, url)
        try:
            return call()
        except dav_error.AuthorizationError as exc:
            raise CredentialsInvalid(f"{request}: {REFUSED_CREDENTIALS}") from exc
        except dav_error.RateLimitError as exc:
            raise RateLimited(f"{request}: rate limited", retry_after=_float(exc)) from exc
        except dav_error.DAVError as exc:
            raise ProviderError(f"{request}: {_dav_problem(exc)}") from exc
        except http_library.exceptions.RequestException as exc:
            raise self.network_error(what, url, exc) from exc
        except Exception as exc:  # the library choked on an answer that is not CalDAV
            log.debug("%s: the caldav library failed", request, exc_info=True)
            raise ProviderError(f"{request}: {NOT_CALDAV}") from exc

    def close(self) -> None:
        self.client.close()


def _dav_problem(exc: dav_error.DAVError) -> str:
    status = getattr(exc, "status", None)
    if status is None:
        return NOT_CALDAV
    try:
        code = int(status)
    except (TypeError, ValueError):
        return NOT_CALDAV
    answered = http_status_text(code)
    if code == 404:
        return f"{answered}; check url (the CalDAV server or principal URL)"
    if code >= 500 and code not in (501, 505):
        return f"{answered}; the CalDAV server failed"
    return f"{answered}, {NOT_CALDAV}"


def _float(exc: Any) -> float | None:
    value = getattr(exc, "retry_after_seconds", None) or getattr(exc, "retry_after", None)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
