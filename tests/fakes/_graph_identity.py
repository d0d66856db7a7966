"""The Microsoft identity platform endpoints of the fake (a mixin of `MicrosoftGraphFake`).

What msal's ``ConfidentialClientApplication(..., instance_discovery=False)`` calls, per
https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (tenant discovery; msal builds
  the URL from the authority);
- ``GET /{tenant}/oauth2/v2.0/authorize``: the fake signs the user in and consents at
  once, then redirects to ``redirect_uri`` with ``code`` and ``state`` (and ``client_info``
  when asked), or with ``error=access_denied`` when `deny_consent` is set;
- ``POST /{tenant}/oauth2/v2.0/token``: ``authorization_code`` (client secret,
  ``redirect_uri`` and the PKCE ``code_verifier`` checked) and ``refresh_token``;
  errors carry ``error_codes`` with AADSTS numbers and the documented body shape.
- ``GET /{tenant}/discovery/v2.0/keys``: the key that signs id and access tokens.

Strict readings: PKCE with ``S256`` is required (the platform also takes ``plain`` or
none); ``response_mode`` is ``query`` (the default for a code) or ``form_post`` (an HTML
form the browser posts to the redirect URI); refresh tokens
are returned only when ``offline_access`` was consented, as documented.

id_token claims follow https://learn.microsoft.com/en-us/entra/identity-platform/
id-token-claims-reference: ``aud`` is the client id, ``iss`` the discovery issuer,
``nonce`` echoes the authorize request (msal < 1.38 checks it), plus ``oid``, ``tid``,
``sub``, ``preferred_username``, ``name``, ``ver`` "2.0".
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes._graph_wire import Reply, new_guid

#: Names Microsoft Graph gives these delegated permissions (a "https://graph.microsoft.com/"
#: prefix is the same scope).
GRAPH_RESOURCE = "https://graph.microsoft.com/"
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
DEFAULT_SCOPES = frozenset({"Calendars.ReadWrite", "User.Read"})
#: https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
AADSTS_MESSAGES = {
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is "
    "needed. The user might have changed or reset their password.",
    70008: "The provided authorization code or refresh token has expired due to inactivity. "
    "Send a new interactive authorization request for this user and resource.",
    700082: "The refresh token has expired due to inactivity. The token was issued on "
    "2024-01-01T00:00:00.0000000Z and was inactive for 90.00:00:00.",
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid "
    "code or use an existing refresh token.",
    501481: "The Code_Verifier does not match the code_challenge supplied in the "
    "authorization request.",
    500112: "The reply address does not match the reply address provided when requesting "
    "Authorization code.",
    9002313: "Invalid request. Request is malformed or invalid.",
    900144: "The request body must contain the following parameter: '{param}'.",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is "
    "the client secret value, not the client secret ID, for a secret added to app.",
    7000218: "The request body must contain the following parameter: 'client_assertion' or "
    "'client_secret'.",
    700016: "Application with identifier '{param}' was not found in the directory.",
    70003: "The app requested an unsupported grant type '{param}'.",
    65001: "The user or administrator has not consented to use the application.",
    90002: "Tenant '{param}' not found. Check to make sure you have the correct tenant ID.",
    65004: "User declined to consent to access the app.",
}


_CLAIMS_TEXT = "sub iss aud exp iat auth_time acr nonce preferred_username name tid ver email"
_CLAIMS_SUPPORTED = _CLAIMS_TEXT.split()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def graph_scopes(scope_text: str) -> frozenset[str]:
    """The Graph permissions in a space-separated ``scope`` (OIDC scopes dropped)."""
    found: set[str] = set()
    for scope in scope_text.split():
        name = scope[len(GRAPH_RESOURCE) :] if scope.startswith(GRAPH_RESOURCE) else scope
        if name == ".default":
            found |= DEFAULT_SCOPES
        elif name not in OIDC_SCOPES:
            found.add(name)
    return frozenset(found)


@dataclass
class CodeGrant:
    redirect_uri: str
    challenge: str
    scopes: frozenset[str]
    offline: bool
    nonce: str | None
    issued: float
    used: bool = False


@dataclass
class RefreshGrant:
    scopes: frozenset[str]
    #: Set when revoked: the AADSTS code a refresh with it answers.
    revoked: int | None = None


@dataclass
class AccessGrant:
    scopes: frozenset[str]
    expires: float


class IdentityMixin:
    client_id: str
    client_secret: str
    tenant_id: str
    tenant_domain: str
    user_id: str
    user_principal_name: str
    user_display_name: str
    redirect_uris: tuple[str, ...] | None
    deny_consent: bool
    access_token_lifetime: int

    def _init_identity(self) -> None:
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = _b64url(secrets.token_bytes(20))
        self._codes: dict[str, CodeGrant] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.access_tokens: dict[str, AccessGrant] = {}
        self._token_faults: deque[tuple[int, str, int]] = deque()

    if TYPE_CHECKING:

        @property
        def base_url(self) -> str: ...

    @property
    def authority(self) -> str:
        """What to pass as msal's ``authority`` (with ``instance_discovery=False``)."""
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/v2.0"

    # -- test controls ------------------------------------------------------------------

    def issue_refresh_token(self, scopes: frozenset[str] = DEFAULT_SCOPES) -> str:
        """A refresh token as if the user had consented to ``scopes`` (a back door)."""
        token = "1.AXoA" + secrets.token_urlsafe(96)
        self.refresh_tokens[token] = RefreshGrant(frozenset(scopes))
        return token

    def issue_access_token(self, scopes: frozenset[str] = DEFAULT_SCOPES) -> str:
        return self._access_token(frozenset(scopes))

    def revoke_refresh_tokens(self, aadsts: int = 50173) -> None:
        """Every refresh token issued so far now fails with ``invalid_grant`` and this code.

        50173 (revoked, e.g. password reset), 70008 (expired by inactivity) and 700082
        (refresh token expired) are what a disconnected account sees. Access tokens stay
        valid until they expire, as with Entra ID; see `expire_access_tokens`.
        """
        for grant in self.refresh_tokens.values():
            grant.revoked = aadsts

    def expire_access_tokens(self) -> None:
        for grant in self.access_tokens.values():
            grant.expires = 0.0

    def fail_next_token_request(
        self, error: str = "invalid_grant", aadsts: int = 70008, *, status: int = 400
    ) -> None:
        self._token_faults.append((status, error, aadsts))

    # -- errors ---------------------------------------------------------------------------

    def _aad_error(self, status: int, error: str, aadsts: int, param: str = "") -> Reply:
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        trace, correlation = new_guid(), new_guid()
        message = AADSTS_MESSAGES.get(aadsts, "Error.").format(param=param)
        body = {
            "error": error,
            "error_description": f"AADSTS{aadsts}: {message}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [aadsts],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{self.base_url}/error?code={aadsts}",
        }
        payload = json.dumps(body).encode()
        return status, {"Content-Type": "application/json; charset=utf-8"}, payload

    @staticmethod
    def _error_page(status: int, text: str) -> Reply:
        """Errors the platform shows the user instead of redirecting (bad client or URI)."""
        return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode()

    # -- routing --------------------------------------------------------------------------

    def _identity(
        self, method: str, segments: list[str], query: dict[str, str], body: bytes, headers: Any
    ) -> Reply | None:
        """Serve an identity endpoint, or None when the path is not one."""
        if len(segments) != 4:
            return None
        tenant, rest = segments[0], segments[1:]
        if rest not in (
            ["v2.0", ".well-known", "openid-configuration"],
            ["oauth2", "v2.0", "authorize"],
            ["oauth2", "v2.0", "token"],
            ["discovery", "v2.0", "keys"],
        ):
            return None
        if tenant not in (self.tenant_id, self.tenant_domain, "common", "organizations"):
            return self._aad_error(400, "invalid_tenant", 90002, tenant)
        if rest[-1] == "openid-configuration" and method == "GET":
            return self._discovery(tenant)
        if rest[-1] == "keys" and method == "GET":
            return self._json(200, {"keys": [self._jwk()]})
        if rest[-1] == "authorize" and method == "GET":
            return self._authorize(query)
        if rest[-1] == "token" and method == "POST":
            return self._token(body, headers)
        return self._error_page(405, "Method not allowed")

    @staticmethod
    def _json(status: int, body: Any) -> Reply:
        return (
            status,
            {"Content-Type": "application/json; charset=utf-8"},
            json.dumps(body).encode(),
        )

    def _discovery(self, tenant: str) -> Reply:
        specific = tenant in (self.tenant_id, self.tenant_domain)
        issuer_tenant = self.tenant_id if specific else "{tenantid}"
        base = f"{self.base_url}/{tenant}"
        return self._json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.base_url}/{issuer_tenant}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": _CLAIMS_SUPPORTED,
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "msgraph_host": "graph.microsoft.com",
            },
        )

    def _jwk(self) -> dict[str, Any]:
        numbers = self._signing_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self._kid,
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes(3, "big")),
            "issuer": self.issuer,
        }

    def _jwt(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self._kid}
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self._signing_key.sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return signing_input + "." + _b64url(signature)

    # -- authorize --------------------------------------------------------------------------

    def _redirect_allowed(self, uri: str) -> bool:
        if self.redirect_uris is not None:
            return uri in self.redirect_uris
        # Loopback redirect URIs: "the port component is ignored" for localhost
        # (https://learn.microsoft.com/en-us/entra/identity-platform/reply-url#localhost-exceptions)
        parts = urlsplit(uri)
        return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")

    def _authorize(self, query: dict[str, str]) -> Reply:
        client_id, redirect = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id != self.client_id:
            return self._error_page(400, f"AADSTS700016: {client_id} not found in the directory.")
        if not self._redirect_allowed(redirect):
            return self._error_page(
                400,
                f"AADSTS50011: The redirect URI '{redirect}' specified in the request does not "
                "match the redirect URIs configured for the application.",
            )

        mode = query.get("response_mode", "query")

        def back(**params: str) -> Reply:
            params = {k: v for k, v in params.items() if v}
            if mode == "form_post":  # the page a browser auto-submits to the redirect URI
                fields = "".join(
                    f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>'
                    for k, v in params.items()
                )
                page = (
                    f'<html><body onload="document.forms[0].submit()"><form method="POST" '
                    f'action="{html.escape(redirect)}">{fields}</form></body></html>'
                )
                return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()
            separator = "&" if urlsplit(redirect).query else "?"
            return 302, {"Location": f"{redirect}{separator}{urlencode(params)}"}, b""

        state = query.get("state", "")
        if query.get("response_type") != "code":
            return back(error="unsupported_response_type", state=state)
        problems = []
        if not query.get("scope"):
            problems.append("scope is required")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            problems.append("PKCE with code_challenge_method=S256 is required (fake: strict)")
        if mode not in ("query", "form_post"):
            problems.append(
                "fake: response_mode query or form_post (a server never sees a fragment)"
            )
        if problems:
            return back(error="invalid_request", error_description="; ".join(problems), state=state)
        if self.deny_consent:
            return back(
                error="access_denied",
                error_description=f"AADSTS65004: {AADSTS_MESSAGES[65004]}",
                state=state,
            )
        code = "0.AXoA" + secrets.token_urlsafe(120)
        scope_text = query["scope"]
        self._codes[code] = CodeGrant(
            redirect,
            query["code_challenge"],
            graph_scopes(scope_text),
            "offline_access" in scope_text.split(),
            query.get("nonce"),
            time.time(),
        )
        client_info = self._client_info() if query.get("client_info") == "1" else ""
        return back(code=code, client_info=client_info, state=state, session_state=new_guid())

    def _client_info(self) -> str:
        return _b64url(json.dumps({"uid": self.user_id, "utid": self.tenant_id}).encode())

    # -- token ----------------------------------------------------------------------------------

    def _token(self, body: bytes, headers: Any) -> Reply:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic "):  # client_secret_basic is documented as supported
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", unquote(user))
            form.setdefault("client_secret", unquote(password))
        if self._token_faults:
            status, error, aadsts = self._token_faults.popleft()
            return self._aad_error(status, error, aadsts)
        if form.get("client_id") != self.client_id:
            return self._aad_error(400, "unauthorized_client", 700016, form.get("client_id", ""))
        if not form.get("client_secret"):
            return self._aad_error(401, "invalid_client", 7000218)
        if not secrets.compare_digest(form["client_secret"], self.client_secret):
            return self._aad_error(401, "invalid_client", 7000215)
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            return self._redeem_code(form)
        if grant == "refresh_token":
            return self._redeem_refresh_token(form)
        return self._aad_error(400, "unsupported_grant_type", 70003, grant)

    def _redeem_code(self, form: dict[str, str]) -> Reply:
        for name in ("code", "redirect_uri", "code_verifier"):
            if not form.get(name):
                return self._aad_error(400, "invalid_request", 900144, name)
        grant = self._codes.get(form["code"])
        if grant is None:
            return self._aad_error(400, "invalid_grant", 9002313)
        if grant.used:
            return self._aad_error(400, "invalid_grant", 54005)
        if time.time() - grant.issued > 600:  # "Typically, they expire after about 10 minutes"
            return self._aad_error(400, "invalid_grant", 70008)
        if form["redirect_uri"] != grant.redirect_uri:
            return self._aad_error(400, "invalid_grant", 500112)
        challenge = _b64url(hashlib.sha256(form["code_verifier"].encode()).digest())
        if not secrets.compare_digest(challenge, grant.challenge):
            return self._aad_error(400, "invalid_grant", 501481)
        grant.used = True
        requested = graph_scopes(form.get("scope", "")) or grant.scopes
        if not requested <= grant.scopes:
            return self._aad_error(400, "invalid_grant", 65001)
        return self._issue(requested, offline=grant.offline, nonce=grant.nonce, form=form)

    def _redeem_refresh_token(self, form: dict[str, str]) -> Reply:
        token = form.get("refresh_token", "")
        if not token:
            return self._aad_error(400, "invalid_request", 900144, "refresh_token")
        grant = self.refresh_tokens.get(token)
        if grant is None:
            return self._aad_error(400, "invalid_grant", 9002313)
        if grant.revoked is not None:
            return self._aad_error(400, "invalid_grant", grant.revoked)
        requested = graph_scopes(form.get("scope", "")) or grant.scopes
        if not requested <= grant.scopes:
            return self._aad_error(400, "invalid_grant", 65001)
        return self._issue(requested, offline=True, nonce=None, form=form, consented=grant.scopes)

    def _access_token(self, scopes: frozenset[str]) -> str:
        now = int(time.time())
        token = self._jwt(
            {
                "aud": "00000003-0000-0000-c000-000000000000",
                "iss": f"https://sts.windows.net/{self.tenant_id}/",
                "iat": now,
                "nbf": now,
                "exp": now + self.access_token_lifetime,
                "appid": self.client_id,
                "oid": self.user_id,
                "tid": self.tenant_id,
                "upn": self.user_principal_name,
                "scp": " ".join(sorted(scopes)),
                "uti": _b64url(secrets.token_bytes(16)),
                "ver": "1.0",
            }
        )
        self.access_tokens[token] = AccessGrant(scopes, now + self.access_token_lifetime)
        return token

    def _issue(
        self,
        scopes: frozenset[str],
        *,
        offline: bool,
        nonce: str | None,
        form: dict[str, str],
        consented: frozenset[str] | None = None,
    ) -> Reply:
        now = int(time.time())
        reply: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join([*sorted(scopes), "openid", "profile", "email"]),
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": self._access_token(scopes),
        }
        if offline:
            token = "1.AXoA" + secrets.token_urlsafe(96)
            self.refresh_tokens[token] = RefreshGrant(consented or scopes)
            reply["refresh_token"] = token
        claims: dict[str, Any] = {
            "aud": self.client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": self.user_display_name,
            "oid": self.user_id,
            "preferred_username": self.user_principal_name,
            "rh": "0.AXoA" + _b64url(secrets.token_bytes(12)),
            "sub": _b64url(hashlib.sha256(f"{self.user_id}|{self.client_id}".encode()).digest()),
            "tid": self.tenant_id,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        if nonce is not None:
            claims["nonce"] = nonce
        reply["id_token"] = self._jwt(claims)
        if form.get("client_info") == "1":
            reply["client_info"] = self._client_info()
        return self._json(200, reply)
