"""The OAuth endpoints as standard OAuth 2 clients use them: forms and HTTP Basic.

RFC 6749 §4.1.3/§6 send token requests as ``application/x-www-form-urlencoded``
and §2.3.1 lets the client authenticate with HTTP Basic; RFC 7009 does the
same for revocation. requests-oauthlib (installed with google-auth-oauthlib)
is such a client, unmodified; pycronofy's JSON keeps working beside it
(tests/integration/test_api_auth.py).
"""

from __future__ import annotations

import base64

import httpx
import pytest
from oauthlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from tests.fixtures.api import CLIENT_ID, CLIENT_SECRET, ApiServer, AppCalendar, get

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(autouse=True)
def _plain_http_is_fine_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// token URLs unless told this is a test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def session_for(app_calendar: AppCalendar) -> OAuth2Session:
    return OAuth2Session(
        client_id=CLIENT_ID,
        token={
            "access_token": app_calendar.access_token,
            "refresh_token": app_calendar.refresh_token,
            "token_type": "Bearer",
        },
    )


def test_requests_oauthlib_refreshes_with_credentials_in_the_form(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    session = session_for(app_calendar)
    token = session.refresh_token(
        f"{api_server.base_url}/oauth/token", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert token["access_token"].startswith("csa_")
    assert token["access_token"] != app_calendar.access_token
    assert token["refresh_token"] == app_calendar.refresh_token  # refresh tokens do not rotate
    account = get(http, "/v1/account", token["access_token"])
    assert account.status_code == 200 and account.json()["account"]["account_id"] == (
        app_calendar.sub
    )


def test_requests_oauthlib_refreshes_with_http_basic(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    session = session_for(app_calendar)
    token = session.refresh_token(
        f"{api_server.base_url}/oauth/token", auth=HTTPBasicAuth(CLIENT_ID, CLIENT_SECRET)
    )
    assert get(http, "/v1/account", token["access_token"]).status_code == 200
    with pytest.raises(InvalidClientError):
        session.refresh_token(
            f"{api_server.base_url}/oauth/token", auth=HTTPBasicAuth(CLIENT_ID, "wrong")
        )


def test_requests_oauthlib_reads_our_errors(api_server: ApiServer) -> None:
    """An unknown authorization code is ``invalid_grant``, which oauthlib raises as such."""
    session = OAuth2Session(client_id=CLIENT_ID, redirect_uri="http://127.0.0.1/cb")
    with pytest.raises(InvalidGrantError):
        session.fetch_token(
            f"{api_server.base_url}/oauth/token",
            code="no-such-code",
            client_secret=CLIENT_SECRET,
            include_client_id=True,
        )


def test_raw_form_refresh_and_revoke(http: httpx.Client, app_calendar: AppCalendar) -> None:
    refreshed = http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": app_calendar.refresh_token},
        headers=basic(),
    )
    assert refreshed.status_code == 200, refreshed.text
    access = refreshed.json()["access_token"]
    assert get(http, "/v1/account", access).status_code == 200
    # RFC 7009: a form naming the token, the client by Basic; the whole grant goes.
    revoked = http.post(
        "/oauth/token/revoke",
        data={"token": access, "token_type_hint": "access_token"},
        headers=basic(),
    )
    assert revoked.status_code == 200, revoked.text
    assert get(http, "/v1/account", access).status_code == 401
    assert get(http, "/v1/account", app_calendar.access_token).status_code == 401


def test_revoke_form_with_credentials_in_the_body(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    revoked = http.post(
        "/oauth/token/revoke",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "sub": app_calendar.sub},
    )
    assert revoked.status_code == 200, revoked.text
    assert get(http, "/v1/account", app_calendar.access_token).status_code == 401


def test_form_errors_are_oauth_errors(http: httpx.Client, app_calendar: AppCalendar) -> None:
    refresh = {"grant_type": "refresh_token", "refresh_token": app_calendar.refresh_token}
    wrong = http.post("/oauth/token", data=refresh, headers=basic(secret="wrong"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    # RFC 6749 §3.2: a parameter may not be repeated.
    repeated = http.post(
        "/oauth/token",
        content=f"grant_type=refresh_token&refresh_token=a&refresh_token={app_calendar.refresh_token}",
        headers={**FORM, **basic()},
    )
    assert (repeated.status_code, repeated.json()["error"]) == (400, "invalid_request")
    assert "refresh_token" in repeated.json()["error_description"]
    # RFC 6749 §2.3: one client authentication method per request.
    both = http.post(
        "/oauth/token", data={**refresh, "client_secret": CLIENT_SECRET}, headers=basic()
    )
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")
    # Neither a form nor JSON: say which media types are read.
    text = http.post(
        "/oauth/token",
        content=b"grant_type=refresh_token",
        headers={**basic(), "Content-Type": "text/plain"},
    )
    assert (text.status_code, text.json()["error"]) == (400, "invalid_request")
    assert "application/x-www-form-urlencoded" in text.json()["error_description"]
    missing = http.post("/oauth/token", data={"grant_type": "refresh_token"}, headers=basic())
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    assert "refresh_token: required" in missing.json()["error_description"]
    other = http.post("/oauth/token", data={"grant_type": "password"}, headers=basic())
    assert (other.status_code, other.json()["error"]) == (400, "unsupported_grant_type")


def test_pycronofy_bearer_header_is_still_ignored(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    """pycronofy sends ``Bearer None`` (or a stale token) with JSON credentials."""
    for header in ("Bearer None", f"Bearer {app_calendar.access_token}"):
        response = http.post(
            "/oauth/token",
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "grant_type": "refresh_token",
                "refresh_token": app_calendar.refresh_token,
            },
            headers={"Authorization": header},
        )
        assert response.status_code == 200, response.text
