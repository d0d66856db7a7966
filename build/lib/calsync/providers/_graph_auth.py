"""Microsoft identity platform: access tokens through msal, and the sign-in flow.

`GraphAuth` wraps one msal ``ConfidentialClientApplication`` per account and
process (`account_auth`, keyed by a hash of the secrets): the engine builds a
provider per pass, and each would otherwise redeem the refresh token again.
msal's token cache (``SerializableTokenCache``) holds the access token and the
refresh token msal was last given (Entra ID rotates them); with ``token_cache``
set it is written to that file encrypted with the vault key (Fernet), so a
restart reuses both. The refresh token from the config is the fallback when
the cache has none or its own is refused.

msal asks for ``offline_access openid profile`` itself (it refuses them in its
scope list), so `SCOPES` names only the Graph permissions; the consent covers
``offline_access Calendars.ReadWrite User.Read``.

msal refuses non-https authorities, and its default ``requests`` session lets
``REQUESTS_CA_BUNDLE`` override ``verify``; with ``ca_file`` msal gets a session
of its own that trusts exactly that file and ignores the environment.

Failures: an OAuth error answer ``invalid_grant``, or AADSTS 50173 (revoked),
70008 (expired by inactivity), 700082 (refresh token expired) and the like,
is `CredentialsInvalid` (the engine disconnects the profile); a network fault
is transient (`request_failure`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msal
import requests

from calsync.errors import CredentialsInvalid, ProviderError, TransientProviderError, UserError
from calsync.providers import secrets_vault
from calsync.providers._failures import request_failure, where

log = logging.getLogger(__name__)

SCOPES = ("Calendars.ReadWrite", "User.Read")
#: What a disconnected account's refresh answers carry (reference-error-codes).
DISCONNECTED_CODES = frozenset({50173, 70008, 700082, 70000, 50078, 50079, 65001})
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def _session(ca_file: str | None) -> requests.Session:
    session = requests.Session()
    if ca_file:
        session.trust_env = False
        session.verify = ca_file
    return session


def _msal_app(
    client_id: str, client_secret: str | None, authority: str, ca_file: str | None, **extra: Any
) -> Any:
    """A confidential client with a secret, else a public one (a native app registration).

    Instance discovery is off: the authority is used as configured (national clouds,
    proxies and test servers cannot answer login.microsoftonline.com's discovery).
    """
    options: dict[str, Any] = {
        "authority": authority,
        "instance_discovery": False,
        "http_client": _session(ca_file),
        **extra,
    }
    if client_secret:
        return msal.ConfidentialClientApplication(
            client_id, client_credential=client_secret, **options
        )
    return msal.PublicClientApplication(client_id, **options)


def _first_line(text: object) -> str:
    return str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""


class GraphAuth:
    """Access tokens for one account (thread-safe)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None,
        authority: str,
        refresh_token: str,
        ca_file: str | None = None,
        token_cache: Path | None = None,
        vault_keys: list[bytes] | None = None,
    ) -> None:
        self.authority = authority.rstrip("/")
        self._client_id, self._client_secret = client_id, client_secret
        self._refresh_token = refresh_token
        self._ca_file = ca_file
        self._cache_path = token_cache
        self._vault = secrets_vault.TokenVault(vault_keys) if vault_keys else None
        self._cache = msal.SerializableTokenCache()
        self._load_cache()
        self._app: Any = None
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        #: Token requests sent (tests and benchmarks count them).
        self.redemptions = 0

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    def _load_cache(self) -> None:
        if self._cache_path is None or self._vault is None or not self._cache_path.exists():
            return
        try:
            self._cache.deserialize(self._vault.decrypt(self._cache_path.read_text("ascii")))
        except (CredentialsInvalid, OSError, ValueError) as exc:
            # A cache we cannot read costs one token request, never the account.
            log.warning("token cache %s unreadable (%s); starting empty", self._cache_path, exc)

    def _save_cache(self) -> None:
        if self._cache_path is None or self._vault is None or not self._cache.has_state_changed:
            return
        text = self._vault.encrypt(self._cache.serialize())
        temporary = self._cache_path.with_name(self._cache_path.name + ".tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
            os.replace(temporary, self._cache_path)
            self._cache.has_state_changed = False
        except OSError as exc:
            log.warning("token cache %s not written: %s", self._cache_path, exc)

    def _application(self) -> Any:
        if self._app is None:
            try:
                self._app = _msal_app(
                    self._client_id,
                    self._client_secret,
                    self.authority,
                    self._ca_file,
                    token_cache=self._cache,
                )
            except requests.RequestException as exc:
                raise request_failure(
                    exc, "tenant discovery at", self.authority, setting="authority"
                ) from exc
            except ValueError as exc:
                raise ProviderError(
                    f"{where('tenant discovery at', self.authority)}: {exc}; check authority"
                ) from exc
        return self._app

    def access_token(self, *, refresh: bool = False) -> str:
        """A valid access token; ``refresh`` after Graph refused the current one (401)."""
        with self._lock:
            if not refresh and self._token is not None and self._expires > time.time() + 60:
                return self._token
            result = self._acquire(refresh)
            token = result.get("access_token")
            if not isinstance(token, str):
                raise ProviderError(f"{where('token refresh at', self.token_endpoint)}: no token")
            self._token = token
            self._expires = time.time() + float(result.get("expires_in") or 300)
            self._save_cache()
            return token

    def _acquire(self, refresh: bool) -> dict[str, Any]:
        app = self._application()
        try:
            result: dict[str, Any] | None = None
            accounts = app.get_accounts()
            if accounts:
                result = app.acquire_token_silent_with_error(
                    list(SCOPES), accounts[0], force_refresh=refresh
                )
            if not result or "access_token" not in result:
                self.redemptions += 1
                result = app.acquire_token_by_refresh_token(self._refresh_token, list(SCOPES))
        except requests.RequestException as exc:
            raise request_failure(
                exc, "token refresh at", self.token_endpoint, setting="authority"
            ) from exc
        if result and "access_token" in result:
            return result
        raise self._refused(result or {})

    def _refused(self, result: dict[str, Any]) -> ProviderError:
        error = str(result.get("error") or "no answer")
        codes = {int(c) for c in result.get("error_codes") or () if str(c).isdigit()}
        detail = _first_line(result.get("error_description")) or error
        text = f"{where('token refresh at', self.token_endpoint)}: refused ({error}: {detail})"
        if error in _TRANSIENT_ERRORS and not codes & DISCONNECTED_CODES:
            return TransientProviderError(text)
        return CredentialsInvalid(text)


#: Per process: (authority, client id, sha256 of secret and refresh token) -> auth.
_shared: dict[tuple[str, str, str], GraphAuth] = {}
_shared_lock = threading.Lock()
_MAX_SHARED = 1024


def account_auth(
    *,
    client_id: str,
    client_secret: str | None,
    authority: str,
    refresh_token: str,
    ca_file: str | None = None,
    token_cache: Path | None = None,
    vault_keys: list[bytes] | None = None,
) -> GraphAuth:
    """The account's `GraphAuth`, shared by every provider built for it in this process."""
    digest = hashlib.sha256(
        f"{client_secret or ''}\0{refresh_token}\0{ca_file or ''}\0{token_cache or ''}".encode()
    ).hexdigest()
    key = (authority, client_id, digest)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            if len(_shared) >= _MAX_SHARED:
                _shared.clear()
            found = _shared[key] = GraphAuth(
                client_id=client_id,
                client_secret=client_secret,
                authority=authority,
                refresh_token=refresh_token,
                ca_file=ca_file,
                token_cache=token_cache,
                vault_keys=vault_keys,
            )
        return found


# -- the sign-in flow (calsync account add microsoft) ------------------------------------


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
        """Silence the access log (it would print the code)."""


class _OneShotServer(HTTPServer):
    result: dict[str, str] | None = None


def authorize_auth_code(
    client_id: str,
    client_secret: str | None,
    *,
    authority: str,
    ca_file: str | None = None,
    open_url: Callable[[str], object] = webbrowser.open,
    timeout: float = 300.0,
) -> str:
    """Run the authorization-code flow (PKCE) on a loopback redirect; the refresh token."""
    app = _msal_app(client_id, client_secret, authority.rstrip("/"), ca_file)
    server = _OneShotServer(("127.0.0.1", 0), _RedirectCatcher)
    server.timeout = timeout
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    flow = app.initiate_auth_code_flow(list(SCOPES), redirect_uri=redirect_uri)
    waiter = threading.Thread(target=server.handle_request, daemon=True)
    try:
        waiter.start()
        open_url(flow["auth_uri"])
        waiter.join(timeout)
    finally:
        server.server_close()
    answer = server.result
    if answer is None:
        raise UserError("no answer from the browser in time", hint="Run the command again.")
    if "error" in answer:
        detail = _first_line(answer.get("error_description")) or answer["error"]
        raise UserError(f"authorization refused: {answer['error']} ({detail})")
    try:
        result = app.acquire_token_by_auth_code_flow(flow, answer)
    except ValueError as exc:  # msal: state mismatch and the like
        raise UserError(f"the authorization answer does not match this request: {exc}") from exc
    if "error" in result:
        detail = _first_line(result.get("error_description")) or result["error"]
        raise CredentialsInvalid(f"the token endpoint refused the code: {detail}")
    refresh_token = result.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise CredentialsInvalid("the token endpoint returned no refresh token (offline_access)")
    return refresh_token
