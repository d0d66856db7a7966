"""`calsync.redaction`: URL secrets (query, fragment, userinfo, capability paths) in any text."""

from __future__ import annotations

import base64
import random
import secrets
import string
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.redaction import REDACTED, is_capability, redact, redact_url, register_url_secrets

EXAMPLE = "https://host/private-abc/basic.ics?token=SECRET"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (EXAMPLE, "https://host/***/basic.ics?token=***"),
        (
            "https://calendar.google.com/calendar/ical/me%40example.com/"
            "private-0123456789abcdef0123456789abcdef/basic.ics",
            "https://calendar.google.com/calendar/ical/me%40example.com/***/basic.ics",
        ),
        (
            "https://cloud.example.org/remote.php/dav/public-calendars/CpSR7g8Z3oXPoDS?export",
            "https://cloud.example.org/remote.php/dav/public-calendars/***?***",
        ),
        ("https://bob:hunter22@dav.example.org/", "https://bob:***@dav.example.org/"),
        (
            "webcal://example.org/team-holidays-2025.ics",
            "webcal://example.org/team-holidays-2025.ics",
        ),
        ("https://example.org/cb#frag=tok", "https://example.org/cb#frag=***"),
        (
            "https://example.org/cal/v1-0f3a9c1e77b2/Work.ics",
            "https://example.org/cal/***/Work.ics",
        ),
        ("http://127.0.0.1:8080/v1/calendars", "http://127.0.0.1:8080/v1/calendars"),
    ],
)
def test_redact_url_keeps_where_and_hides_the_credential(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_urls_inside_text_are_redacted_and_the_sentence_survives() -> None:
    text = f'GET {EXAMPLE}: refused (see "{EXAMPLE}") and ({EXAMPLE}).'
    assert redact(text) == (
        'GET https://host/***/basic.ics?token=***: refused (see "https://host/***/basic.ics'
        '?token=***") and (https://host/***/basic.ics?token=***).'
    )


def test_natural_path_segments_are_not_capabilities() -> None:
    for segment in ("basic.ics", "team-holidays-2025.ics", "calendar", "v3", "remote.php", ""):
        assert not is_capability(segment), segment


_TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


def test_random_tokens_are_capabilities() -> None:
    """Tokens as services mint them (base64url, hex, UUIDs, Google's private- marker),
    drawn from a seeded generator so the run is reproducible."""
    rng = random.Random(20260301)
    for _ in range(2000):
        raw = rng.randbytes(16)
        for candidate in (
            base64.urlsafe_b64encode(raw + rng.randbytes(2)).decode().rstrip("="),
            raw.hex(),
            str(uuid.UUID(bytes=raw, version=4)),
            f"private-{raw.hex()[:6]}",
        ):
            assert is_capability(candidate), candidate


@given(
    path=st.lists(st.text(alphabet=_TOKEN_ALPHABET + ".", min_size=1, max_size=20), max_size=4),
    query=st.dictionaries(
        st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8),
        st.text(alphabet=_TOKEN_ALPHABET, min_size=1, max_size=30),
        max_size=4,
    ),
)
def test_no_query_value_survives_and_redaction_is_idempotent(
    path: list[str], query: dict[str, str]
) -> None:
    url = "https://example.org/" + "/".join(path)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    shown = redact_url(url)
    assert shown.startswith("https://example.org/")
    for name in query:
        assert f"{name}={REDACTED}" in shown
    assert redact_url(shown) == shown
    assert redact(f"x {url} y") == f"x {shown} y"


def test_registered_url_secrets_are_hidden_outside_urls_too() -> None:
    token = "Tk" + secrets.token_hex(10)
    register_url_secrets(f"https://example.org/feeds/{token}/cal.ics?key=longvalue77")
    assert redact(f"path /feeds/{token}/cal.ics failed") == "path /feeds/***/cal.ics failed"
    assert redact("with url: /cal.ics?key=longvalue77") == "with url: /cal.ics?key=***"
