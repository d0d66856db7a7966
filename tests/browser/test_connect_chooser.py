"""Issue #12 in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright through ``executable_path``) walks the chooser and the CalDAV form
against a real Radicale, and the app redeems the code through pycronofy.

Skipped, with the reason shown, when no Chromium is installed (``apt-get install
chromium``; ``make test`` does it where apt can run). Set ``CALSYNC_SCREENSHOTS=docs`` to refresh
``docs/connect-chooser.png``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.api import run_api_server
from tests.fixtures.radicale import RadicaleServer
from tests.integration.connect_world import APP_REDIRECT, connect_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()),
    None,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium: apt-get install chromium to run the browser tests"
    ),
]


@pytest.fixture
def chromium() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


def test_chooser_and_caldav_form_in_chromium(
    chromium: object,
    store_url: str,
    radicale_server: RadicaleServer,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, Page, Route, expect

    assert isinstance(chromium, Browser)
    radicale_server.new_calendar("Chosen in a browser")
    with (
        GoogleCalendarFake() as google,
        run_api_server(store_url, adjust=lambda s: connect_settings(s, google)) as server,
    ):
        from tests.fixtures.api import cronofy_client

        client = cronofy_client(server.base_url)
        page: Page = chromium.new_page(java_script_enabled=False)
        requests_seen: list[str] = []
        page.on("request", lambda request: requests_seen.append(request.url))
        arrived: list[str] = []

        def app(route: Route) -> None:  # the app's redirect URI: record it, answer a page
            arrived.append(route.request.url)
            route.fulfill(status=200, content_type="text/html", body="<p>connected</p>")

        page.route(f"{APP_REDIRECT}**", app)
        page.goto(client.user_auth_link(APP_REDIRECT, state="browser"))

        expect(page).to_have_title("Connect your calendar - calsync")
        expect(page.get_by_role("heading", level=1)).to_have_text("Connect your calendar")
        expect(page.get_by_role("link", name="Connect Google Calendar")).to_be_visible()
        # Everything on the page came from calsync itself: no external assets.
        assert all(url.startswith(server.base_url) for url in requests_seen), requests_seen
        shot = tmp_path / "connect-chooser.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("CALSYNC_SCREENSHOTS") == "docs":
            shutil.copyfile(shot, REPO_ROOT / "docs" / "connect-chooser.png")

        page.get_by_label("Server URL").fill(radicale_server.base_url + "/")
        page.get_by_label("User name").fill(radicale_server.username)
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Connect CalDAV calendar").click()
        expect(page.get_by_role("alert")).to_contain_text("refused that user name and password")
        expect(page.get_by_label("User name")).to_have_value(radicale_server.username)
        expect(page.get_by_label("Password")).to_have_value("")

        page.get_by_label("Password").fill(radicale_server.password)
        page.get_by_role("button", name="Connect CalDAV calendar").click()
        page.wait_for_url(f"{APP_REDIRECT}**")
        (landing,) = arrived
        assert "state=browser" in landing
        code = landing.split("code=", 1)[1].split("&", 1)[0]

        client.get_authorization_from_code(code, redirect_uri=APP_REDIRECT)
        names = {c["calendar_name"] for c in client.list_calendars()}
        assert "Chosen in a browser" in names
        (profile,) = client.list_profiles()
        assert profile["provider_name"] == "caldav" and profile["profile_connected"] is True
