"""POSTing one notification to a pinned address with httpx.

The URL was checked by `calsync.notify.ssrf.check_callback_url`, which also
chose the address. The request goes to that address while the ``Host``
header and TLS SNI/certificate checks use the URL's host name, so a DNS
answer cannot change between the check and the connection. Redirects are
never followed (a redirect could point anywhere).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from calsync.notify.ssrf import PinnedTarget

HttpClientFactory = Callable[[], httpx.Client]
DEFAULT_TIMEOUT = 10.0
USER_AGENT = "calsync-notify/1"


def default_http_client() -> httpx.Client:
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: it would bypass the pin
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True, slots=True)
class PostResult:
    status_code: int | None
    retry_after: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def pinned_url(target: PinnedTarget) -> httpx.URL:
    """The callback URL with its host replaced by the checked address."""
    return httpx.URL(target.url).copy_with(host=target.address, port=target.port)


def host_header(target: PinnedTarget) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def post(
    client: httpx.Client,
    target: PinnedTarget,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
) -> PostResult:
    request_headers = {
        **headers,
        "Content-Type": "application/json",
        "Host": host_header(target),
    }
    try:
        response = client.post(
            pinned_url(target),
            content=body,
            headers=request_headers,
            timeout=timeout,
            extensions={"sni_hostname": target.host},
        )
    except httpx.HTTPError as exc:
        return PostResult(None, error=f"{type(exc).__name__}: {exc}"[:500])
    response.close()
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return PostResult(response.status_code, response.headers.get("retry-after"), error)
