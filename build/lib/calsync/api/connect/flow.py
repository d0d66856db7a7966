"""What every step of the connect flow checks: the app's request, the browser, the state.

RFC 6749 §4.1.2.1: while the client or the redirect URI is in doubt the user
sees an error page and is *not* redirected (an open redirector would otherwise
hand codes or errors to anyone). Once both are known good, errors go back to
the app as ``redirect_uri?error=…&state=…``.

The browser is bound by a random cookie (HttpOnly, SameSite=Lax, Secure on an
https ``base_url``) whose hash the request row keeps: a state (the request's
handle) carried to another browser, or replayed after use, is refused.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from calsync.api.deps import ApiServices
from calsync.store.repos.connect import AuthRequestRecord

COOKIE = "calsync_connect"
#: RFC 6749 §10.12 wants the state bound to the user agent; 10 minutes to choose and sign in.
REQUEST_TTL = timedelta(minutes=10)

#: Cronofy's scopes (https://docs.cronofy.com/developers/api/authorization/request-authorization/).
KNOWN_SCOPES = frozenset(
    {
        "read_account",
        "list_calendars",
        "read_events",
        "create_event",
        "delete_event",
        "read_free_busy",
        "create_calendar",
        "change_participation_status",
        "read_write",
        "read_only",
        "free_busy_read",
    }
)

#: provider_name values the flow takes (Cronofy's own names for Microsoft map to it).
PROVIDER_ALIASES = {
    "google": "google",
    "microsoft": "microsoft",
    "office365": "microsoft",
    "live_connect": "microsoft",
    "caldav": "caldav",
}


class FlowError(Exception):
    """A step refused; the page says ``message`` (never the request's secrets)."""

    def __init__(self, title: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


def is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname is None:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def redirect_allowed(services: ApiServices, uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc:
        return False
    return uri in services.settings.api.redirect_uris or is_loopback_http(uri)


def client_known(services: ApiServices, client_id: str | None) -> bool:
    api = services.settings.api
    return (
        client_id is not None
        and api.client_credentials_enabled
        and secrets.compare_digest(client_id.encode(), (api.client_id or "").encode())
    )


def back_to_app(redirect_uri: str, params: dict[str, str | None]) -> RedirectResponse:
    """302 to the app's redirect URI with ``params`` added to its query."""
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


def app_error(request: AuthRequestRecord, error: str) -> RedirectResponse:
    return back_to_app(request.redirect_uri, {"error": error, "state": request.app_state})


def browser_cookie(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and len(value) <= 128 else None


def new_browser_value() -> str:
    return secrets.token_urlsafe(32)


def set_browser_cookie(services: ApiServices, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(REQUEST_TTL.total_seconds()),
        path="/oauth",
        secure=services.settings.api.base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def callback_url(services: ApiServices, provider_name: str) -> str:
    return f"{services.settings.api.base_url}/oauth/callback/{provider_name}"


def load_request(
    services: ApiServices, handle: str | None, browser: str | None
) -> AuthRequestRecord:
    """The open request ``handle`` names, started in this browser; `FlowError` otherwise."""
    if not handle or len(handle) > 128:
        raise FlowError("Invalid request", "This link is incomplete.")
    with services.store.read() as uow:
        found = uow.auth_requests.get(handle)
    if found is None:
        raise FlowError(
            "Link expired or invalid",
            "This sign-in link is not valid or has expired.",
        )
    if not found.bound_to(browser):
        raise FlowError(
            "Wrong browser",
            "This sign-in was started in another browser (or its cookie was removed).",
            status=403,
        )
    if found.consumed:
        raise FlowError("Link already used", "This sign-in link has already been used.")
    return found
