"""Which callback URLs calsync may POST to (server-side request forgery guard).

A callback must not reach the machine itself or its networks: loopback,
private (RFC 1918, ULA), link-local (incl. cloud metadata at 169.254.169.254),
CGNAT, multicast, reserved and unspecified addresses are refused, in IPv4 and
IPv6, including IPv4-mapped/-compatible, NAT64 and 6to4 forms that embed an
IPv4 address. Host names are resolved and *every* address must be public; the
relay then connects to the address that was checked (`PinnedTarget`), so a
DNS answer that changes between check and connect (DNS rebinding) gains
nothing.

Host spellings that `getaddrinfo` (inet_aton) accepts as IPv4 are parsed the
same way here, so ``http://2130706433/``, ``http://0x7f.1/`` and
``http://0177.0.0.1/`` are recognised as 127.0.0.1 before any lookup.

``allow_private`` (``[notify] allow_private_callbacks``) lifts the address
rules for tests and local development; the URL must still be http(s).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from calsync.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

MAX_URL_LENGTH = 2048

_EXTRA_FORBIDDEN_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved, incl. broadcast
    )
)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class CallbackRefused(ValidationError):
    """The callback URL is not allowed; reported on ``callback_url``."""

    def __init__(self, description: str) -> None:
        super().__init__(
            {"callback_url": [{"key": "errors.invalid_callback_url", "description": description}]}
        )
        self.description = description


def is_forbidden_address(address: IPAddress) -> bool:
    """True for every address a callback must not reach (see the module doc)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_forbidden_address(embedded)
        return not address.is_global or address.is_multicast or address.is_site_local
    if any(address in net for net in _EXTRA_FORBIDDEN_V4):
        return True
    return not address.is_global or address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = address.packed
    if packed[:12] == bytes(12) and address != ipaddress.IPv6Address("::"):
        if address == ipaddress.IPv6Address("::1"):
            return None  # loopback itself, not an embedded 0.0.0.1
        return ipaddress.IPv4Address(packed[12:])  # deprecated IPv4-compatible form
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(packed[12:])
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host spelling denotes when it is a literal, as the C resolver reads it.

    Accepts bracketless IPv6, dotted quads and inet_aton's shorter forms with
    decimal, octal (leading 0) and hex (0x) parts: ``2130706433``, ``0x7f.1``.
    """
    host = host.strip().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    try:
        numbers = [_inet_aton_part(p) for p in parts]
    except ValueError:
        return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = 0
    for n in leading:
        value = value * 256 + n
    value = value * 256 ** (5 - len(parts)) + last
    return ipaddress.IPv4Address(value)


def _inet_aton_part(part: str) -> int:
    if not part:
        raise ValueError("empty")
    lower = part.lower()
    if lower.startswith("0x"):
        return int(lower[2:], 16)  # "0x" alone is not a number (inet_aton agrees)
    if len(part) > 1 and part.startswith("0"):
        if not part.isdigit():
            raise ValueError(part)
        return int(part[1:], 8)
    if not part.isdigit():
        raise ValueError(part)
    return int(part, 10)


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """A checked callback: connect to ``address`` while speaking to ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def system_resolver(host: str, port: int) -> Sequence[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_callback_url(
    url: str, *, allow_private: bool, resolve: Resolver = system_resolver
) -> PinnedTarget:
    """Validate ``url`` and pick the address to connect to; `CallbackRefused` otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise CallbackRefused("must be an http or https URL")
    host = parts.hostname
    if not host:
        raise CallbackRefused("has no host")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("must not contain credentials")
    port = port or (443 if scheme == "https" else 80)
    literal = parse_ip_literal(host)
    if literal is not None:
        candidates: list[IPAddress] = [literal]
    else:
        try:
            candidates = [_parse_resolved(a) for a in resolve(host, port)]
        except OSError as exc:
            raise CallbackRefused(f"host {host!r} does not resolve: {exc}") from None
        if not candidates:
            raise CallbackRefused(f"host {host!r} does not resolve")
    if not allow_private:
        for address in candidates:
            if is_forbidden_address(address):
                raise CallbackRefused("must not point to a loopback, private or reserved address")
    return PinnedTarget(url=url, scheme=scheme, host=host, port=port, address=str(candidates[0]))


def _parse_resolved(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])
