"""The fake's identity platform, driven by the real msal over real TLS.

These tests pin down that an unmodified msal ``ConfidentialClientApplication`` can sign
in against the fake (auth code + PKCE), refresh silently and by refresh token, and
sees Entra ID's errors (AADSTS codes) where it would.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import msal
import pytest
import requests

from tests.fakes.graph_testing import (
    REDIRECT_URI,
    SCOPES,
    authorize,
    graph_client,
    graph_fake,
    msal_app,
    sign_in,
)
from tests.fakes.microsoft_graph import MicrosoftGraphFake

__all__ = ["graph_fake"]


def test_auth_code_flow_signs_in_with_pkce_and_names_the_account(
    graph_fake: MicrosoftGraphFake,
) -> None:
    app = msal_app(graph_fake)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    response = authorize(graph_fake, flow["auth_uri"])
    assert response["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, response)

    assert "error" not in result, result
    assert result["refresh_token"] and result["token_type"] == "Bearer"
    claims = result["id_token_claims"]
    assert claims["aud"] == graph_fake.client_id
    assert claims["iss"] == graph_fake.issuer
    assert claims["tid"] == graph_fake.tenant_id and claims["oid"] == graph_fake.user_id
    assert claims["preferred_username"] == graph_fake.user_principal_name
    # msal sends the SHA-256 of its nonce and (before 1.38) checked the echo.
    assert claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == [graph_fake.user_principal_name]
    with graph_client(graph_fake, result["access_token"]) as client:
        assert client.get("/me").json()["id"] == graph_fake.user_id


def test_form_post_response_mode_is_served(graph_fake: MicrosoftGraphFake) -> None:
    app = msal_app(graph_fake)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI, response_mode="form_post")
    page = httpx.get(flow["auth_uri"], verify=graph_fake.ssl_context())
    assert page.status_code == 200 and f'action="{REDIRECT_URI}"' in page.text
    result = app.acquire_token_by_auth_code_flow(flow, authorize(graph_fake, flow["auth_uri"]))
    assert "access_token" in result, result


def test_without_the_throwaway_ca_tls_fails(graph_fake: MicrosoftGraphFake) -> None:
    untrusting = requests.Session()
    untrusting.trust_env = False  # system CAs only
    with pytest.raises(requests.exceptions.SSLError):
        msal_app(graph_fake, http_client=untrusting)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{graph_fake.graph_endpoint}/me")


def test_silent_refresh_goes_through_the_token_endpoint(graph_fake: MicrosoftGraphFake) -> None:
    app = msal_app(graph_fake)
    first = sign_in(graph_fake, app)
    graph_fake.expire_access_tokens()
    before = graph_fake.count("POST", "/oauth2/v2.0/token")
    account = app.get_accounts()[0]

    refreshed = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)

    assert refreshed is not None and "access_token" in refreshed, refreshed
    assert graph_fake.count("POST", "/oauth2/v2.0/token") == before + 1
    with graph_client(graph_fake, first["access_token"]) as old:
        expired = old.get("/me")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "Bearer" in expired.headers["www-authenticate"]
    with graph_client(graph_fake, refreshed["access_token"]) as new:
        assert new.get("/me/calendars").status_code == 200


def test_acquire_token_by_refresh_token(graph_fake: MicrosoftGraphFake) -> None:
    app = msal_app(graph_fake)
    result = app.acquire_token_by_refresh_token(graph_fake.issue_refresh_token(), SCOPES)
    assert "access_token" in result, result
    with graph_client(graph_fake, result["access_token"]) as client:
        assert client.get("/me/calendars").status_code == 200


@pytest.mark.parametrize("aadsts", [50173, 70008, 700082])
def test_revoked_refresh_tokens_answer_invalid_grant_with_the_aadsts_code(
    graph_fake: MicrosoftGraphFake, aadsts: int
) -> None:
    token = graph_fake.issue_refresh_token()
    graph_fake.revoke_refresh_tokens(aadsts)
    result = msal_app(graph_fake).acquire_token_by_refresh_token(token, SCOPES)
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [aadsts]
    assert result["error_description"].startswith(f"AADSTS{aadsts}: ")
    assert "Trace ID: " in result["error_description"] and result["correlation_id"]


def test_a_scheduled_token_fault_answers_the_next_request_only(
    graph_fake: MicrosoftGraphFake,
) -> None:
    token = graph_fake.issue_refresh_token()
    graph_fake.fail_next_token_request("invalid_grant", 700082)
    failed = msal_app(graph_fake).acquire_token_by_refresh_token(token, SCOPES)
    assert failed["error_codes"] == [700082]
    # A new app: msal itself remembers a 400 for the same request for a minute.
    assert "access_token" in msal_app(graph_fake).acquire_token_by_refresh_token(token, SCOPES)


def test_denied_consent_redirects_with_access_denied(graph_fake: MicrosoftGraphFake) -> None:
    graph_fake.deny_consent = True
    app = msal_app(graph_fake)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    response = authorize(graph_fake, flow["auth_uri"])
    assert response["error"] == "access_denied" and "code" not in response
    assert response["state"] == flow["state"]
    assert app.acquire_token_by_auth_code_flow(flow, response)["error"] == "access_denied"


def _flow_and_response(fake: MicrosoftGraphFake, app: Any) -> tuple[dict[str, Any], dict[str, str]]:
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI)
    return flow, authorize(fake, flow["auth_uri"])


def test_a_wrong_pkce_verifier_is_refused(graph_fake: MicrosoftGraphFake) -> None:
    app = msal_app(graph_fake)
    flow, response = _flow_and_response(graph_fake, app)
    flow["code_verifier"] = flow["code_verifier"][::-1]
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [501481]


def test_a_code_is_redeemed_once(graph_fake: MicrosoftGraphFake) -> None:
    app = msal_app(graph_fake)
    flow, response = _flow_and_response(graph_fake, app)
    assert "access_token" in app.acquire_token_by_auth_code_flow(dict(flow), response)
    again = msal_app(graph_fake).acquire_token_by_auth_code_flow(dict(flow), response)
    assert again["error"] == "invalid_grant" and again["error_codes"] == [54005]


def test_the_redirect_uri_must_match_at_redemption(graph_fake: MicrosoftGraphFake) -> None:
    app = msal_app(graph_fake)
    flow, response = _flow_and_response(graph_fake, app)
    flow["redirect_uri"] = "http://localhost:1/elsewhere"
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [500112]


def test_a_wrong_client_secret_is_invalid_client(graph_fake: MicrosoftGraphFake) -> None:
    result = msal_app(
        graph_fake, client_credential="not-the-secret"
    ).acquire_token_by_refresh_token(graph_fake.issue_refresh_token(), SCOPES)
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]


def test_authorize_refuses_unregistered_redirects_and_missing_pkce() -> None:
    with MicrosoftGraphFake(redirect_uris=("http://localhost:8400/cb",)) as fake:
        base = f"{fake.authority}/oauth2/v2.0/authorize"
        common = {"client_id": fake.client_id, "response_type": "code", "scope": "openid"}
        unregistered = httpx.get(
            base,
            params={**common, "redirect_uri": "http://localhost:9/other"},
            verify=fake.ssl_context(),
        )
        assert unregistered.status_code == 400 and "AADSTS50011" in unregistered.text
        assert "location" not in unregistered.headers
        no_pkce = httpx.get(
            base,
            params={**common, "redirect_uri": "http://localhost:8400/cb", "state": "s1"},
            verify=fake.ssl_context(),
        )
        assert no_pkce.status_code == 302
        assert "error=invalid_request" in no_pkce.headers["location"]
        assert "state=s1" in no_pkce.headers["location"]


def test_an_unknown_tenant_fails_discovery(graph_fake: MicrosoftGraphFake) -> None:
    discovery = httpx.get(
        f"{graph_fake.base_url}/no-such-tenant.example/v2.0/.well-known/openid-configuration",
        verify=graph_fake.ssl_context(),
    )
    assert discovery.status_code == 400 and discovery.json()["error_codes"] == [90002]
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            graph_fake.client_id,
            client_credential=graph_fake.client_secret,
            authority=f"{graph_fake.base_url}/no-such-tenant.example",
            instance_discovery=False,
            http_client=msal_app(graph_fake).http_client.http_client,
        )


def test_graph_checks_permissions_per_endpoint(graph_fake: MicrosoftGraphFake) -> None:
    user_only = graph_fake.issue_access_token(frozenset({"User.Read"}))
    read_only = graph_fake.issue_access_token(frozenset({"Calendars.Read"}))
    with graph_client(graph_fake, user_only) as client:
        assert client.get("/me").status_code == 200
        denied = client.get("/me/calendars")
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "ErrorAccessDenied"
    with graph_client(graph_fake, read_only) as client:
        assert client.get("/me/calendars").status_code == 200
        assert client.get("/me").status_code == 403
        body = {
            "subject": "x",
            "start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-01T11:00:00", "timeZone": "UTC"},
        }
        assert client.post("/me/events", json=body).status_code == 403
    anonymous = httpx.get(f"{graph_fake.graph_endpoint}/me", verify=graph_fake.ssl_context())
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"] == "Access token is empty."
