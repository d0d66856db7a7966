"""Provider consent: the URL a browser is sent to, and the code it brings back.

* Google through google-auth-oauthlib: a web-application client, PKCE S256,
  ``access_type=offline`` and ``prompt=consent`` (Google returns a refresh
  token only on a fresh consent).
* Microsoft through msal's auth-code flow (PKCE and nonce are msal's); the flow
  object between the two steps is kept sealed in the authorization request.

Both take the request's handle as the OAuth ``state``. ``ca_file`` goes in
through a `requests.Session` with ``trust_env`` off: with it on,
``REQUESTS_CA_BUNDLE`` would override ``verify``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from calsync.config import GoogleAppSettings, MicrosoftAppSettings
from calsync.errors import CredentialsInvalid, UserError

GOOGLE_SCOPES = ("https://www.googleapis.com/auth/calendar",)
#: msal adds openid, profile and offline_access itself (and refuses them here).
MICROSOFT_SCOPES = ("Calendars.ReadWrite", "User.Read")


@dataclass(frozen=True, slots=True)
class Started:
    """Where to send the browser, and what the callback will need (kept sealed)."""

    url: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Granted:
    """What a provider gave for a consent: secrets to keep, and who the user is there."""

    credentials: dict[str, str]
    #: The provider's stable id of the profile (relinking finds the account by it).
    identity: str | None = None
    #: What to call the profile (an e-mail address, mostly).
    display: str | None = None


def http_session(ca_file: Path | None) -> requests.Session:
    session = requests.Session()
    if ca_file is not None:
        session.verify = str(ca_file)
        session.trust_env = False
    return session


# -- Google ----------------------------------------------------------------------------


def _google_flow(google: GoogleAppSettings, redirect_uri: str, **kwargs: Any) -> Any:
    from google_auth_oauthlib.flow import Flow

    config = {
        "web": {
            "client_id": google.client_id,
            "client_secret": google.client_secret_file.reveal()
            if google.client_secret_file is not None
            else "",
            "auth_uri": google.auth_uri,
            "token_uri": google.token_uri,
            "redirect_uris": [redirect_uri],
        }
    }
    flow = Flow.from_client_config(
        config, scopes=list(GOOGLE_SCOPES), redirect_uri=redirect_uri, **kwargs
    )
    if google.ca_file is not None:
        flow.oauth2session.verify = str(google.ca_file)
        flow.oauth2session.trust_env = False
    return flow


def google_start(google: GoogleAppSettings, redirect_uri: str, state: str) -> Started:
    flow = _google_flow(google, redirect_uri, autogenerate_code_verifier=True)
    url, _state = flow.authorization_url(access_type="offline", prompt="consent", state=state)
    return Started(url, {"code_verifier": flow.code_verifier})


def google_finish(
    google: GoogleAppSettings, redirect_uri: str, state: str, data: dict[str, Any], code: str
) -> Granted:
    flow = _google_flow(google, redirect_uri, state=state, code_verifier=data["code_verifier"])
    try:
        token = flow.fetch_token(code=code)
    except Exception as exc:  # oauthlib raises a family of its own; never show its text
        raise CredentialsInvalid("Google refused the authorization code") from exc
    refresh_token = token.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise CredentialsInvalid("Google returned no refresh token")
    # Who the user is comes from the calendar list (the primary calendar's id).
    return Granted({"refresh_token": refresh_token})


# -- Microsoft -------------------------------------------------------------------------


def _msal_app(microsoft: MicrosoftAppSettings) -> Any:
    import msal

    options: dict[str, Any] = {
        "authority": microsoft.authority,
        "http_client": http_session(microsoft.ca_file),
    }
    if not microsoft.authority.startswith("https://login.microsoftonline.com/"):
        # A national cloud, a proxy or a test server: msal's instance discovery asks
        # login.microsoftonline.com about it, which such a setup cannot answer.
        options["instance_discovery"] = False
    if microsoft.client_secret_file is not None:
        return msal.ConfidentialClientApplication(
            microsoft.client_id, client_credential=microsoft.client_secret_file.reveal(), **options
        )
    return msal.PublicClientApplication(microsoft.client_id, **options)


def microsoft_start(microsoft: MicrosoftAppSettings, redirect_uri: str, state: str) -> Started:
    try:
        with warnings.catch_warnings():
            # msal recommends form_post; but the browser-binding cookie is SameSite=Lax,
            # which a cross-site POST does not carry, so the answer comes as a GET
            # (query). The code in the URL is single use and useless without the PKCE
            # verifier, which never leaves calsync.
            warnings.simplefilter("ignore", UserWarning)
            flow = _msal_app(microsoft).initiate_auth_code_flow(
                list(MICROSOFT_SCOPES),
                redirect_uri=redirect_uri,
                state=state,
                prompt="consent",
                response_mode="query",
            )
    except Exception as exc:
        raise UserError("the Microsoft authority cannot be reached") from exc
    return Started(str(flow["auth_uri"]), dict(flow))


def microsoft_finish(
    microsoft: MicrosoftAppSettings, data: dict[str, Any], answer: dict[str, str]
) -> Granted:
    try:
        result = _msal_app(microsoft).acquire_token_by_auth_code_flow(data, answer)
    except Exception as exc:  # msal raises ValueError on a state mismatch
        raise CredentialsInvalid("Microsoft refused the authorization answer") from exc
    if not isinstance(result, dict) or "error" in result:
        raise CredentialsInvalid("Microsoft refused the authorization code")
    refresh_token = result.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise CredentialsInvalid("Microsoft returned no refresh token")
    claims = result.get("id_token_claims") or {}
    identity = claims.get("oid") or claims.get("sub")
    if not identity:
        raise CredentialsInvalid("Microsoft returned no user id")
    tenant = claims.get("tid")
    display = claims.get("preferred_username") or claims.get("email") or claims.get("name")
    return Granted(
        {"refresh_token": refresh_token},
        identity=f"{tenant}/{identity}" if tenant else str(identity),
        display=str(display) if display else None,
    )
