"""Google OAuth: the refresh-token credentials and the installed-app flow.

`authorize_installed_app` runs the "installed application" flow with a
loopback redirect and PKCE (S256), as Google recommends for desktop and CLI
clients: a one-shot HTTP listener on 127.0.0.1 receives the redirect, and the
code is exchanged at ``token_uri`` together with the PKCE verifier.

oauthlib refuses plain-http endpoints unless ``OAUTHLIB_INSECURE_TRANSPORT``
is set; only tests against a loopback fake set it.

`account_credentials` keeps one `Credentials` per account for the life of the
process: the engine builds a provider per pass (and per push-triggered sync),
and each would otherwise POST to ``token_uri`` before its first request. The
shared object keeps its access token until it nears expiry (google-auth
refreshes a few minutes early) or a request meets 401, then refreshes in place.
"""

from __future__ import annotations

import hashlib
import threading
import webbrowser
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow

from calsync.errors import CredentialsInvalid, UserError
from calsync.providers._failures import request_failure
from calsync.providers._google_config import GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI

CALENDAR_SCOPES = ("https://www.googleapis.com/auth/calendar",)


#: Per process: (token uri, client id, sha256 of secret and refresh token) -> credentials.
_shared: dict[tuple[str, str, str], Credentials] = {}
_shared_lock = threading.Lock()
#: Accounts come and go rarely; a bound keeps a process that sees many refresh
#: tokens over its life (reconnections) from growing without end.
_MAX_SHARED = 1024


def account_credentials(
    *,
    client_id: str,
    client_secret: str | None,
    refresh_token: str,
    token_uri: str = GOOGLE_TOKEN_URI,
) -> Credentials:
    """The account's credentials, shared by every provider built for it in this process.

    Keyed by a hash of the secrets (never the secrets themselves), so a new
    refresh token or client secret gets fresh credentials.
    """
    digest = hashlib.sha256(f"{client_secret or ''}\0{refresh_token}".encode()).hexdigest()
    key = (token_uri, client_id, digest)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            if len(_shared) >= _MAX_SHARED:
                _shared.clear()
            found = _shared[key] = refresh_credentials(
                client_id=client_id,
                client_secret=client_secret,
                refresh_token=refresh_token,
                token_uri=token_uri,
            )
        return found


def refresh_credentials(
    *,
    client_id: str,
    client_secret: str | None,
    refresh_token: str,
    token_uri: str = GOOGLE_TOKEN_URI,
    access_token: str | None = None,
) -> Credentials:
    """Credentials that fetch (and re-fetch on 401) access tokens with the refresh token."""
    return Credentials(  # type: ignore[no-untyped-call]
        access_token,
        refresh_token=refresh_token,
        token_uri=token_uri,
        client_id=client_id,
        client_secret=client_secret,
    )


class _RedirectCatcher(BaseHTTPRequestHandler):
    server: _OneShotServer

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        self.server.result = {k: v[0] for k, v in query.items()}
        body = b"calsync: authorization received, you can close this window.\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (it would print the code)."""


class _OneShotServer(HTTPServer):
    result: dict[str, str] | None = None


def authorize_installed_app(
    client_id: str,
    client_secret: str | None,
    *,
    scopes: Sequence[str] = CALENDAR_SCOPES,
    auth_uri: str = GOOGLE_AUTH_URI,
    token_uri: str = GOOGLE_TOKEN_URI,
    open_url: Callable[[str], object] = webbrowser.open,
    timeout: float = 300.0,
    ca_file: str | None = None,
) -> str:
    """Run the consent flow in the user's browser and return the refresh token.

    ``open_url`` receives the consent URL (the CLI prints it as well, for
    machines without a browser). ``ca_file``: the CA bundle the code exchange at
    ``token_uri`` trusts instead of the default one. Raises `UserError` when the user denies
    access or does not answer within ``timeout`` seconds, and
    `CredentialsInvalid` when the token endpoint refuses the code.
    """
    server = _OneShotServer(("127.0.0.1", 0), _RedirectCatcher)
    server.timeout = timeout
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    config = {
        "installed": {
            "client_id": client_id,
            "client_secret": client_secret or "",
            "auth_uri": auth_uri,
            "token_uri": token_uri,
            "redirect_uris": [redirect_uri],
        }
    }
    flow = Flow.from_client_config(
        config, scopes=list(scopes), redirect_uri=redirect_uri, autogenerate_code_verifier=True
    )
    if ca_file is not None:
        # trust_env off: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        flow.oauth2session.verify = ca_file
        flow.oauth2session.trust_env = False
    # offline + consent: Google only returns a refresh token on a fresh consent.
    url, state = flow.authorization_url(access_type="offline", prompt="consent")
    waiter = threading.Thread(target=server.handle_request, daemon=True)
    try:
        waiter.start()
        open_url(url)
        waiter.join(timeout)
    finally:
        server.server_close()
    result = server.result
    if result is None:
        raise UserError("no answer from the browser in time", hint="Run the command again.")
    if result.get("state") != state:
        raise UserError("the authorization answer does not match this request (state)")
    if "error" in result or "code" not in result:
        raise UserError(f"authorization refused: {result.get('error', 'no code')}")
    try:
        token = flow.fetch_token(code=result["code"])
    except requests.RequestException as exc:  # no answer: DNS, refused, TLS (ca_file)
        raise request_failure(
            exc, "code exchange at", token_uri, setting="token_uri", ca_setting="ca_file"
        ) from exc
    except Exception as exc:  # oauthlib raises a family of its own errors
        raise CredentialsInvalid(f"the token endpoint refused the code: {exc}") from exc
    refresh_token = token.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise CredentialsInvalid("the token endpoint returned no refresh token")
    return refresh_token
