"""The callback URL classifier: every forbidden range, every spelling of it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.notify.ssrf import (
    CallbackRefused,
    check_callback_url,
    is_forbidden_address,
    parse_ip_literal,
)

FORBIDDEN_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
FORBIDDEN_V6 = ["::1/128", "::/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32"]


def _in(network: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda i: net[i])


forbidden_v4 = st.one_of([_in(n) for n in FORBIDDEN_V4])
public_v4 = (
    st.integers(0, 2**32 - 1)
    .map(ipaddress.IPv4Address)
    .filter(lambda a: not any(a in ipaddress.ip_network(n) for n in FORBIDDEN_V4))
)


@given(forbidden_v4)
def test_every_forbidden_v4_range_is_refused(address: ipaddress.IPv4Address) -> None:
    assert is_forbidden_address(address)


@given(st.one_of([_in(n) for n in FORBIDDEN_V6]))
def test_every_forbidden_v6_range_is_refused(address: ipaddress.IPv6Address) -> None:
    assert is_forbidden_address(address)


@given(public_v4)
def test_public_v4_is_allowed(address: ipaddress.IPv4Address) -> None:
    assert not is_forbidden_address(address)


@given(forbidden_v4)
def test_ipv6_forms_embedding_a_forbidden_v4_are_refused(address: ipaddress.IPv4Address) -> None:
    n = int(address)
    for embedded in (
        ipaddress.IPv6Address((0xFFFF << 32) | n),  # ::ffff:a.b.c.d (mapped)
        ipaddress.IPv6Address(n) if n > 1 else ipaddress.IPv6Address("::ffff:127.0.0.1"),
        ipaddress.IPv6Address((0x64FF9B << 96) | n),  # NAT64
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80)),  # 6to4
    ):
        assert is_forbidden_address(embedded), embedded


@given(public_v4)
def test_mapped_public_v4_is_allowed(address: ipaddress.IPv4Address) -> None:
    assert not is_forbidden_address(ipaddress.IPv6Address((0xFFFF << 32) | int(address)))


@given(st.integers(0, 2**32 - 1))
def test_integer_spellings_parse_like_inet_aton(n: int) -> None:
    a, b, c, d = ipaddress.IPv4Address(n).packed
    expected = ipaddress.IPv4Address(n)
    assert parse_ip_literal(str(n)) == expected
    assert parse_ip_literal(hex(n)) == expected
    assert parse_ip_literal(f"0{n:o}") == expected
    assert parse_ip_literal(f"{a}.{(b << 16) | (c << 8) | d}") == expected
    assert parse_ip_literal(f"{a:#x}.{b:#o}.{c}.{d}".replace("0o", "0")) == expected


@given(st.text("0123456789abcdefxX.", min_size=1, max_size=20))
def test_literal_parsing_agrees_with_the_c_resolver(host: str) -> None:
    try:
        expected: ipaddress.IPv4Address | None = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        expected = None
    if host.endswith(".") and expected is None:
        return  # a trailing dot: we read "1.2.3." as "1.2.3", stricter than inet_aton
    assert parse_ip_literal(host) == expected


@pytest.mark.parametrize(
    "host",
    ["example.org", "1.2.3.4.5", "256.1.1.1", "0x", "1..2", "4294967296", "09.1.1.1", ""],
)
def test_non_literals(host: str) -> None:
    assert parse_ip_literal(host) is None


def resolver(answers: dict[str, Sequence[str]]) -> object:
    def resolve(host: str, _port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::1]:8080/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1%25eth0]/",
        "http://10.1.2.3/",
        "http://0.0.0.0/",
        "https://inside.example/",  # resolves to a private address
        "https://mixed.example/",  # one public, one private answer: refused
        "ftp://1.1.1.1/",
        "http://user:pw@1.1.1.1/",
        "http:///nohost",
        "https://nxdomain.example/",
        "http://1.1.1.1:99999/",
    ],
)
def test_refused_urls(url: str) -> None:
    resolve = resolver(
        {"inside.example": ["192.168.1.20"], "mixed.example": ["93.184.216.34", "10.0.0.1"]}
    )
    with pytest.raises(CallbackRefused):
        check_callback_url(url, allow_private=False, resolve=resolve)  # type: ignore[arg-type]


def test_public_host_is_pinned_to_its_checked_address() -> None:
    resolve = resolver({"hooks.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    target = check_callback_url(
        "https://hooks.example/cb?x=1",
        allow_private=False,
        resolve=resolve,  # type: ignore[arg-type]
    )
    assert (target.host, target.port, target.address) == ("hooks.example", 443, "93.184.216.34")


def test_allow_private_lifts_the_address_rules_only() -> None:
    target = check_callback_url("http://127.0.0.1:8123/hook", allow_private=True)
    assert (target.address, target.port) == ("127.0.0.1", 8123)
    with pytest.raises(CallbackRefused):
        check_callback_url("gopher://127.0.0.1/", allow_private=True)
