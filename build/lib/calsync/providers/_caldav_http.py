"""Raw HTTP for the CalDAV provider: keep-alive HTTP/1.1 over the standard library.

Every request, discovery included, is sent here, so we see every status code
and body ourselves. `http.client` rather than an HTTP library: the provider
needs plain requests on one or two persistent connections, and a client
library (the `caldav` package's niquests and urllib3, or httpx, which imports
its command-line tool) costs 100-250 ms to import, which every cold
``calsync sync --once`` of a CalDAV account paid (issue #11).

What the library gave us and this keeps: basic auth (from the options or the
URL's userinfo), separate connect and read timeouts, TLS verified against the
system's trust store, connection reuse across threads (a small idle pool),
``http(s)_proxy``/``no_proxy`` from the environment, and redirects followed
during discovery only.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import select
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from calsync.errors import (
    CredentialsInvalid,
    ProviderError,
    RateLimited,
    TransientProviderError,
)
from calsync.providers._failures import http_status_text, request_failure, where

log = logging.getLogger(__name__)

REFUSED_CREDENTIALS = "the CalDAV server refused our credentials; check username and password_file"
NOT_CALDAV = (
    "this does not look like a CalDAV server; check url (the CalDAV server or principal URL)"
)

#: Called before every request the provider sends itself: (method, url, body).
#: Tests count multiget sizes with it; production leaves it None.
RequestHook = Callable[[str, str, bytes], None]

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


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    #: The URL that answered (after redirects, when they were followed).
    url: str = ""

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag") or self.headers.get("etag")


class ConnectTimeout(TimeoutError):
    """No TCP connection (or TLS handshake) within the connect timeout."""


class Headers(dict[str, str]):
    """Response headers; lookups ignore case, as HTTP field names do."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


#: The redirect statuses discovery follows (a server URL that points elsewhere,
#: /.well-known/caldav); sync and write requests never follow one.
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
#: Idle connections kept per origin: the provider overlaps at most two requests.
_MAX_IDLE = 4
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"})


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without userinfo, and the user name and password it carried."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, user, password


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy URL the environment names for ``scheme://host``, if any."""
    env = os.environ
    no_proxy = env.get("no_proxy", env.get("NO_PROXY", ""))
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return None
        entry = entry.lstrip(".").rpartition(":")[0] or entry.lstrip(".")
        if entry and (host.lower() == entry or host.lower().endswith("." + entry)):
            return None
    proxy = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
    return proxy or None


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed (or broken) by the
    server: an HTTP/1.1 server sends nothing unasked."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _Connections:
    """Idle keep-alive connections per origin, shared by the provider's threads
    (a connection is used by one request at a time)."""

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[_Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def take(self, origin: _Origin) -> tuple[http.client.HTTPConnection, bool, str | None]:
        """A connection (reused when one is idle), whether it was reused, and the
        proxy it goes through when the request must name the absolute URL."""
        proxy = _proxy_for(origin.scheme, origin.host)
        absolute = proxy if origin.scheme == "http" else None
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                connection = idle.pop() if idle else None
            if connection is None:
                return self._connect(origin, proxy), False, absolute
            if not _closed_by_server(connection):
                return connection, True, absolute
            connection.close()

    def give_back(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < _MAX_IDLE:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _connect(self, origin: _Origin, proxy: str | None) -> http.client.HTTPConnection:
        host, port = origin.host, origin.port
        tunnel_headers: dict[str, str] = {}
        if proxy is not None:
            proxy_url = urlsplit(proxy if "//" in proxy else f"http://{proxy}")
            host, port = proxy_url.hostname or "", proxy_url.port or 80
            if proxy_url.username is not None:
                tunnel_headers["Proxy-Authorization"] = _basic(
                    unquote(proxy_url.username), unquote(proxy_url.password or "")
                )
        connection: http.client.HTTPConnection
        if origin.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.connect_timeout, context=self._tls
            )
            if proxy is not None:
                connection.set_tunnel(origin.host, origin.port, headers=tunnel_headers)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise ConnectTimeout(f"no connection within {self.connect_timeout:g}s") from exc
        except BaseException:
            connection.close()
            raise
        assert connection.sock is not None
        connection.sock.settimeout(self.read_timeout)  # from now on: the patient read limit
        return connection


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
        #: The configured URL without the userinfo (which becomes the credentials).
        self.url, url_user, url_password = _split_credentials(url)
        username = username if username is not None else url_user
        password = password if password is not None else url_password
        self._authorization = _basic(username, password or "") if username else None
        self.hook = hook
        #: The read timeout: how long one answer may take (the ``timeout`` key).
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.account = account
        self._connections = _Connections(self.connect_timeout, self.timeout)

    @property
    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)``."""
        return (self.connect_timeout, self.timeout)

    def send(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request; maps 401, 429/503 and other 5xx (but not 507) to calsync errors."""
        reply = self.request(method, url, body, headers)
        status = reply.status
        if status == 401:
            raise CredentialsInvalid(f"{where(method, url)}: {REFUSED_CREDENTIALS}")
        if status in (429, 503):
            raise RateLimited(
                f"{method} {url}: HTTP {status}",
                retry_after=retry_after(reply.headers.get("Retry-After")),
            )
        if status >= 500 and status != 507:
            raise TransientProviderError(f"{method} {url}: HTTP {status}")
        return reply

    def request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        follow_redirects: bool = False,
    ) -> Reply:
        """One request and its answer, whatever the status (`TransientProviderError`
        when none came); with ``follow_redirects``, ``Reply.url`` is where it ended."""
        if self.hook is not None:
            self.hook(method, url, body)
        for _ in range(_MAX_REDIRECTS + 1):
            reply = self._exchange(method, url, body, headers)
            location = reply.headers.get("Location")
            if not follow_redirects or reply.status not in _REDIRECTS or not location:
                return reply
            url = urljoin(url, location)
        raise ProviderError(f"{where(method, url)}: more than {_MAX_REDIRECTS} redirects")

    def _exchange(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str] | None
    ) -> Reply:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ProviderError(f"{where(method, url)}: not an http(s) URL; check url")
        origin = _Origin(scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        merged = {"User-Agent": "calsync", **(headers or {})}
        if self._authorization is not None and origin == self._origin():
            merged.setdefault("Authorization", self._authorization)
        # A server may close a kept-alive connection while it idles: `take` drops
        # idle connections the server has closed, and a read that still meets one is
        # sent again once on a new connection. A write never is: its answer may be
        # what got lost after the server applied it (the push journal settles that).
        for attempt in range(2 if method in _SAFE_METHODS else 1):
            try:
                connection, reused, proxy = self._connections.take(origin)
            except ConnectTimeout as exc:
                raise self.network_error(method, url, exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise self.network_error(method, url, exc) from exc
            try:
                connection.request(
                    method,
                    urlunsplit((scheme, parts.netloc, target, "", "")) if proxy else target,
                    body=body or None,
                    headers=merged,
                )
                response = connection.getresponse()
                content = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                connection.close()
                if reused and attempt == 0:
                    continue
                raise self.network_error(method, url, exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise self.network_error(method, url, exc) from exc
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                self._connections.give_back(origin, connection)
            return Reply(response.status, Headers(response.getheaders()), content, url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _origin(self) -> _Origin:
        parts = urlsplit(self.url)
        scheme = parts.scheme.lower()
        return _Origin(
            scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80)
        )

    def network_error(self, what: str, url: str, exc: BaseException) -> TransientProviderError:
        """A request that got no answer, in one line: which request, and for a
        timeout which limit ran out and which key raises it."""
        request = where(what, url)
        if isinstance(exc, ConnectTimeout):
            return TransientProviderError(
                f"{request}: could not connect within {self.connect_timeout:g}s "
                "(is the server reachable?)"
            )
        if isinstance(exc, TimeoutError):
            whose = f" of account {self.account!r}" if self.account else ""
            return TransientProviderError(
                f"{request}: the server did not answer within {self.timeout:g}s (read timeout); "
                f"if it is just slow (large calendars can take minutes), raise `timeout`{whose}",
                hint=f"Raise `timeout`{whose} in the config (now {self.timeout:g}s).",
            )
        return request_failure(exc, what, url, timeout=self.timeout)

    def close(self) -> None:
        self._connections.close()


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def discovery_problem(status: int) -> str:
    """Why a discovery answer with ``status`` (not 207, not 401/429) is no CalDAV server."""
    answered = http_status_text(status)
    if status == 404:
        return f"{answered}; check url (the CalDAV server or principal URL)"
    if status >= 500 and status not in (501, 505):
        return f"{answered}; the CalDAV server failed"
    return f"{answered}, {NOT_CALDAV}"
