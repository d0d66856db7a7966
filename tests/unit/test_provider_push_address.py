"""Which ``[api] base_url`` can receive provider push notifications."""

from __future__ import annotations

from dataclasses import replace

import pytest

from calsync.notify.provider_push import PUSH_PATH, push_address
from tests.fixtures.api import make_settings


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://calsync.example.org", "https://calsync.example.org/push/google"),
        ("https://calsync.example.org/api/", "https://calsync.example.org/api/push/google"),
        ("https://203.0.113.9:8443", None),  # documentation range: not global
        ("https://8.8.8.8", "https://8.8.8.8/push/google"),
        ("http://calsync.example.org", None),  # Google requires https
        ("https://127.0.0.1:8000", None),
        ("https://[::1]:8000", None),
        ("https://10.1.2.3", None),
        ("https://localhost", None),
        ("https://calsync.localhost", None),
        ("https://intranet", None),
        ("ftp://calsync.example.org", None),
    ],
)
def test_public_base_urls_only(base_url: str, expected: str | None) -> None:
    settings = make_settings("sqlite:///x.db", base_url, 8000)
    settings = replace(settings, notify=replace(settings.notify, allow_private_callbacks=False))
    assert push_address(settings) == expected


def test_private_callbacks_allow_loopback_http() -> None:
    settings = make_settings("sqlite:///x.db", "http://127.0.0.1:8000", 8000)
    assert settings.notify.allow_private_callbacks
    assert push_address(settings) == "http://127.0.0.1:8000" + PUSH_PATH
    broken = replace(settings, api=replace(settings.api, base_url="not a url"))
    assert push_address(broken) is None
