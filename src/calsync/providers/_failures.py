"""One readable line for a request that failed, whatever HTTP library sent it.

requests, httpx and httplib2 each wrap the socket error differently, and their
``str()`` is a repr chain (``HTTPConnectionPool(...) <urllib3.connection...
object at 0x…>``). `request_failure` walks the exception chain to the cause
that matters and says, in one line: what was asked, of which URL (secrets
redacted), what went wrong and what to check. The account is named by whoever
reports the error (``ACCOUNT: message``).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlsplit

from calsync.errors import TransientProviderError
from calsync.redaction import redact_url

__all__ = ["http_status_text", "request_failure", "where"]


def where(what: str, url: str) -> str:
    """``GET https://host/***/basic.ics?token=***``: a request, secrets redacted."""
    return f"{what} {redact_url(url)}".strip()


def http_status_text(status: int) -> str:
    """``HTTP 404 Not Found``."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, ``reason`` and ``args``."""
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += list(getattr(current, "args", ()))
        queue += [e for e in linked if isinstance(e, BaseException)]


def _host(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the host", ""
    host = parts.hostname or "the host"
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return host, str(port if port is not None else default or "")


def _named(chain: list[BaseException], *fragments: str) -> BaseException | None:
    return next((e for e in chain if any(f in type(e).__name__ for f in fragments)), None)


def _problem(
    exc: BaseException, url: str, timeout: float | None, setting: str, ca_setting: str | None
) -> str:
    chain = list(_chain(exc))
    host, port = _host(url)
    address = f"{host}:{port}" if port else host
    # Timeouts first: requests' ConnectTimeout is also a ConnectionError.
    if any(isinstance(e, TimeoutError) for e in chain) or _named(chain, "Timeout"):
        if timeout:
            return (
                f"no answer within {timeout:g}s; check that {address} is reachable and "
                "not overloaded, or raise the account's timeout"
            )
        return f"no answer in time; check that {address} is reachable and not overloaded"
    if any(isinstance(e, socket.gaierror) for e in chain) or _named(
        chain, "NameResolution", "ServerNotFound"
    ):
        return f"cannot resolve the host name {host!r}; check the host in {setting} and the DNS"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return (
            f"connection refused by {address}; check that the server is running "
            f"and that {setting} has the right host and port"
        )
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        if isinstance(tls, ssl.SSLCertVerificationError):
            detail = tls.verify_message or tls.reason or "verification failed"
            advice = (
                f"the TLS certificate of {host} was rejected ({detail}); check the "
                f"server's certificate (host name, expiry, issuer) and the host in {setting}"
            )
            if ca_setting is not None:
                advice += f", or name the CA that issued it in {ca_setting}"
            return advice
        detail = str(tls.reason or tls.strerror or "handshake failed").lower().replace("_", " ")
        return (
            f"TLS handshake with {address} failed ({detail}); check that the server "
            f"speaks HTTPS on that port, or use http:// in {setting} if it does not"
        )
    if _named(chain, "SSL"):
        return f"TLS with {address} failed; check the server's certificate and {setting}"
    os_error = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    if os_error is not None:
        return (
            f"connection to {address} failed ({os_error.strerror}); "
            "check the network and the server"
        )
    return f"the request failed ({type(exc).__name__}); check the network, the server and url"


def request_failure(
    exc: BaseException,
    what: str,
    url: str,
    *,
    timeout: float | None = None,
    setting: str = "url",
    ca_setting: str | None = None,
) -> TransientProviderError:
    """The calsync error for a request that got no HTTP answer (DNS, refused, TLS,
    timeout, reset): transient, since servers and networks come back. ``setting``
    is the config key that holds the URL, named in the advice; ``ca_setting``, when
    the provider has one, the key that names a CA to trust (said on a rejected certificate)."""
    problem = _problem(exc, url, timeout, setting, ca_setting)
    return TransientProviderError(f"{where(what, url)}: {problem}")


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
