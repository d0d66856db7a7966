"""Application calendars, tokens and account endpoints, through pycronofy and raw HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pycronofy
import pytest
from pycronofy.exceptions import PyCronofyRequestError

from calsync.api.deps import utc_now
from calsync.store.repos.tokens import ACCESS
from tests.fixtures.api import (
    CLIENT_ID,
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    bearer,
    create_app_calendar,
    cronofy_client,
    get,
    run_api_server,
)


def _creds(**extra: str) -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra}


# -- application calendars -------------------------------------------------------------


def test_application_calendar_through_pycronofy(api_server: ApiServer) -> None:
    client = cronofy_client(api_server.base_url)
    result = client.application_calendar("my-app-cal")
    assert result["sub"].startswith("apc_")
    assert result["application_calendar_id"] == "my-app-cal"
    assert result["access_token"].startswith("csa_")
    assert result["refresh_token"].startswith("csr_")
    # The client now holds the token and can use it.
    calendars = client.list_calendars()
    assert [c["calendar_name"] for c in calendars] == ["my-app-cal"]
    assert calendars[0]["calendar_primary"] is True
    assert client.account()["account_id"] == result["sub"]


def test_application_calendar_response_shape_and_upsert(
    http: httpx.Client, api_server: ApiServer
) -> None:
    body = _creds(application_calendar_id="shape")
    # A real-looking bearer header must be ignored on client-credential endpoints.
    first = http.post("/v1/application_calendars", json=body, headers=bearer("csa_garbage"))
    assert first.status_code == 200, first.text
    data = first.json()
    assert data["token_type"] == "bearer"
    assert data["expires_in"] == 3600
    assert data["scope"] == "read_write"
    assert data["application_calendar_id"] == "shape"
    assert data["linking_profile"]["provider_name"] == "cronofy"
    assert data["linking_profile"]["profile_id"].startswith("pro_")
    assert data["linking_profile"]["profile_name"] == "shape"

    second = http.post("/v1/application_calendars", json=body).json()
    assert second["sub"] == data["sub"]
    assert second["linking_profile"] == data["linking_profile"]
    assert second["access_token"] != data["access_token"]
    calendars = get(http, "/v1/calendars", second["access_token"]).json()["calendars"]
    assert len(calendars) == 1  # upsert: still one calendar
    # Both access tokens are valid for the same account.
    assert (
        get(http, "/v1/account", data["access_token"]).json()["account"]["account_id"]
        == (data["sub"])
    )


BAD_CLIENTS = [{"client_secret": "wrong"}, {"client_id": "someone-else"}, {"client_secret": ""}]


def test_application_calendar_rejects_bad_client_credentials(http: httpx.Client) -> None:
    for override in BAD_CLIENTS:
        body = {**_creds(application_calendar_id="x"), **override}
        response = http.post("/v1/application_calendars", json=body)
        assert response.status_code == 401, override
        assert response.json()["errors"]["base"][0]["key"] == "errors.unauthorized"
        assert CLIENT_SECRET not in response.text


def test_application_calendar_requires_an_id(http: httpx.Client) -> None:
    for body in (_creds(), _creds(application_calendar_id="   ")):
        response = http.post("/v1/application_calendars", json=body)
        assert response.status_code == 422
        assert response.json() == {
            "errors": {
                "application_calendar_id": [
                    {"key": "errors.required", "description": "application_calendar_id is required"}
                ]
            }
        }


def test_client_credential_endpoints_disabled_without_secret(store_url: str) -> None:
    with (
        run_api_server(store_url, client_id=None, client_secret_file=None) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        response = http.post("/v1/application_calendars", json=_creds(application_calendar_id="x"))
        assert response.status_code == 401
        description = response.json()["errors"]["base"][0]["description"]
        assert "client_secret_file" in description
        token = http.post("/oauth/token", json=_creds(grant_type="refresh_token"))
        assert token.status_code == 401
        assert token.json()["error"] == "invalid_client"


# -- tokens ----------------------------------------------------------------------------


def test_refresh_through_pycronofy_keeps_the_refresh_token(
    cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    result = cronofy.refresh_authorization()
    assert result["access_token"] != app_calendar.access_token
    assert result["access_token"].startswith("csa_")
    # Refresh tokens do not rotate.
    assert result["refresh_token"] == app_calendar.refresh_token
    assert cronofy.account()["account_id"] == app_calendar.sub
    # A second refresh with the same refresh token works too.
    assert cronofy.refresh_authorization()["refresh_token"] == app_calendar.refresh_token


def test_refresh_response_shape(http: httpx.Client, app_calendar: AppCalendar) -> None:
    response = http.post(
        "/oauth/token",
        json=_creds(grant_type="refresh_token", refresh_token=app_calendar.refresh_token),
    )
    assert response.status_code == 200
    data = response.json()
    assert data["token_type"] == "bearer"
    assert data["expires_in"] == 3600
    assert data["scope"] == "read_write"
    assert data["sub"] == app_calendar.sub


def test_invalid_refresh_token_is_invalid_grant(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    for refresh_token in ["csr_unknown", "", "not-a-token", "csa_" + "x" * 40]:
        response = http.post(
            "/oauth/token", json=_creds(grant_type="refresh_token", refresh_token=refresh_token)
        )
        assert response.status_code == 400, refresh_token
        assert response.json() == {"error": "invalid_grant"}


def test_an_access_token_is_not_a_refresh_token(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    response = http.post(
        "/oauth/token",
        json=_creds(grant_type="refresh_token", refresh_token=app_calendar.access_token),
    )
    assert response.json() == {"error": "invalid_grant"}


def test_authorization_code_and_unknown_grants(http: httpx.Client) -> None:
    code = http.post(
        "/oauth/token", json=_creds(grant_type="authorization_code", code="abc", redirect_uri="x")
    )
    assert (code.status_code, code.json()) == (400, {"error": "invalid_grant"})
    missing = http.post("/oauth/token", json=_creds(grant_type="authorization_code"))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    other = http.post("/oauth/token", json=_creds(grant_type="password"))
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"


def test_token_endpoint_rejects_bad_client(http: httpx.Client, app_calendar: AppCalendar) -> None:
    body = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": "nope",
        "refresh_token": app_calendar.refresh_token,
    }
    response = http.post("/oauth/token", json=body)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_revoke_through_pycronofy(
    cronofy: pycronofy.Client, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    cronofy.revoke_authorization()
    assert cronofy.auth.access_token is None
    # The whole authorization is gone: the access token and the refresh token.
    response = get(http, "/v1/account", app_calendar.access_token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["errors"]["base"][0]["key"] == "errors.unauthorized"
    refresh = http.post(
        "/oauth/token",
        json=_creds(grant_type="refresh_token", refresh_token=app_calendar.refresh_token),
    )
    assert refresh.json() == {"error": "invalid_grant"}


def test_revoke_by_sub_revokes_only_that_account(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    other = create_app_calendar(http, "other")
    response = http.post("/oauth/token/revoke", json=_creds(sub=app_calendar.sub))
    assert response.status_code == 200
    assert get(http, "/v1/account", app_calendar.access_token).status_code == 401
    assert get(http, "/v1/account", other.access_token).status_code == 200


def test_revoke_unknown_token_is_silent_and_needs_token_or_sub(http: httpx.Client) -> None:
    assert http.post("/oauth/token/revoke", json=_creds(token="csa_nope")).status_code == 200
    missing = http.post("/oauth/token/revoke", json=_creds())
    # Answered the OAuth way, like every other problem at the OAuth endpoints.
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert "token or sub" in missing.json()["error_description"]
    bad_client = http.post(
        "/oauth/token/revoke", json={"client_id": CLIENT_ID, "client_secret": "x", "token": "y"}
    )
    assert bad_client.status_code == 401


BAD_HEADERS = [
    "",
    "Bearer None",
    "Bearer",
    "Basic abc",
    "Bearer csa_unknown",
    "Bearer " + "a" * 5000,
]


def test_missing_or_unknown_token_is_401(http: httpx.Client) -> None:
    for header in BAD_HEADERS:
        response = http.request("GET", "/v1/calendars", json={}, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["errors"]["base"][0]["key"] == "errors.unauthorized"


def test_expired_token_in_the_store_is_401(api_server: ApiServer, http: httpx.Client) -> None:
    app = create_app_calendar(http, "expiring")
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app.sub)
        expired = uow.tokens.issue(account.pk, ACCESS, timedelta(seconds=-1))
    assert get(http, "/v1/account", expired).status_code == 401
    assert get(http, "/v1/account", app.access_token).status_code == 200


def test_access_tokens_expire_by_the_injected_clock(store_url: str) -> None:
    offset = timedelta(0)

    def clock() -> datetime:
        return utc_now() + offset

    with (
        run_api_server(store_url, now=clock) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        app = create_app_calendar(http, "clocked")
        offset = timedelta(seconds=3599)
        assert get(http, "/v1/account", app.access_token).status_code == 200
        offset = timedelta(seconds=3601)
        assert get(http, "/v1/account", app.access_token).status_code == 401


# -- account, profiles, userinfo -------------------------------------------------------


def test_account_profiles_userinfo_through_pycronofy(
    cronofy: pycronofy.Client, app_calendar: AppCalendar
) -> None:
    account = cronofy.account()
    assert account["account_id"] == app_calendar.sub
    assert account["name"] == "test-app-calendar"
    assert account["default_tzid"] == "Etc/UTC"

    (profile,) = cronofy.list_profiles()
    assert profile == {
        "provider_name": "cronofy",
        "profile_id": app_calendar.profile_id,
        "profile_name": "test-app-calendar",
        "profile_connected": True,
        "profile_initial_sync_required": False,
    }

    info = cronofy.userinfo()
    assert info["sub"] == app_calendar.sub
    assert info["cronofy.type"] == "userinfo"
    (info_profile,) = info["cronofy.data"]["profiles"]
    assert info_profile["profile_id"] == app_calendar.profile_id
    assert [c["calendar_id"] for c in info_profile["profile_calendars"]] == [
        app_calendar.calendar_id
    ]


def test_account_default_tzid_follows_the_primary_calendar(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    patched = http.patch(
        f"/v1/calendars/{app_calendar.calendar_id}",
        json={"timezone": "Europe/London"},
        headers=app_calendar.headers,
    )
    assert patched.status_code == 200, patched.text
    account = get(http, "/v1/account", app_calendar.access_token).json()["account"]
    assert account["default_tzid"] == "Europe/London"


def test_disconnected_profile_shows_disconnected_without_a_dead_relink_url(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        (profile,) = uow.profiles.list(account.pk)
        uow.profiles.set_connected(profile.pk, False, reason="token revoked")
    (listed,) = get(http, "/v1/profiles", app_calendar.access_token).json()["profiles"]
    assert listed["profile_connected"] is False
    # No connect flow exists yet, so there is no relink page to point at; Cronofy
    # documents the field as optional and pycronofy does not require it.
    assert "profile_relink_url" not in listed


def test_pycronofy_raises_on_401(api_server: ApiServer) -> None:
    client = cronofy_client(api_server.base_url, access_token="csa_nope")
    with pytest.raises(PyCronofyRequestError) as info:
        client.account()
    assert info.value.response.status_code == 401


def test_token_expiry_reported_by_pycronofy(cronofy: pycronofy.Client) -> None:
    asked_at = datetime.now(UTC)
    result = cronofy.refresh_authorization()
    answered_at = datetime.now(UTC)
    expires = datetime.strptime(result["token_expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )
    # An hour from when the token was issued, in whole seconds.
    lifetime = timedelta(hours=1)
    assert asked_at + lifetime - timedelta(seconds=1) <= expires <= answered_at + lifetime
