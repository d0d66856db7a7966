"""Pure parts of the connect flow (issue #12): where a user may be sent back to, how the
app's redirect URI gets its parameters, and the pages' escaping."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from calsync.api.connect.flow import back_to_app, is_loopback_http
from calsync.api.connect.pages import chooser_page, error_page

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


@given(
    existing=st.lists(st.tuples(names, text), max_size=3),
    added=st.dictionaries(st.sampled_from(["code", "state", "error"]), text, max_size=3),
)
def test_back_to_app_keeps_the_apps_query_and_adds_ours(
    existing: list[tuple[str, str]], added: dict[str, str]
) -> None:
    from urllib.parse import urlencode

    base = "https://app.example.org/cb" + (f"?{urlencode(existing)}" if existing else "")
    location = back_to_app(base, dict(added)).headers["location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example.org", "/cb")
    assert parts.fragment == ""
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    assert pairs == [*existing, *added.items()]


@given(port=st.integers(1, 65535), path=st.sampled_from(["", "/", "/cb?x=1"]))
def test_loopback_http_is_any_port_of_the_three_loopback_names(port: int, path: str) -> None:
    for host in ("127.0.0.1", "localhost", "[::1]", "127.5.6.7"):
        assert is_loopback_http(f"http://{host}:{port}{path}")
    for uri in (
        f"https://127.0.0.1:{port}{path}",  # not http: only the exact list allows https
        f"http://127.0.0.1.example.org:{port}{path}",
        f"http://localhost.example.org:{port}{path}",
        f"http://10.0.0.1:{port}{path}",
    ):
        assert not is_loopback_http(uri)


def test_pages_escape_everything_they_show() -> None:
    evil = '"><script>alert(1)</script>'
    page = chooser_page(
        evil, ["google"], caldav_error=evil, caldav_url=evil, caldav_username=evil
    ).body
    assert isinstance(page, bytes)
    assert b"<script>" not in page
    assert b"&lt;script&gt;" in page
    error = error_page(evil, evil).body
    assert isinstance(error, bytes) and b"<script>" not in error


def test_pages_forbid_scripts_frames_and_foreign_form_targets() -> None:
    page = chooser_page("h", [], app_origin="https://app.example.org")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "form-action 'self' https://app.example.org" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"


def test_a_reload_that_changes_a_provider_table_asks_for_a_restart() -> None:
    from dataclasses import replace
    from pathlib import Path

    from calsync.config import GoogleAppSettings, ProvidersSettings, settings_from_tables
    from calsync.daemon.live_api import restart_needed

    old = settings_from_tables({}, Path("calsync.toml"))
    google = GoogleAppSettings("id", None, "https://a/auth", "https://a/token", "https://a/api/")
    new = replace(old, providers=ProvidersSettings(google=google))
    assert restart_needed(old, new) == ["providers.google (for /oauth/authorize)"]
    assert restart_needed(new, new) == []
