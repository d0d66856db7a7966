"""The connect flow's endpoints (Cronofy's authorization-code flow, issue #12).

``GET /oauth/authorize`` -> chooser page (or straight on with ``provider_name``)
-> ``GET /oauth/connect/{google|microsoft}`` (302 to the provider's consent) or
``POST /oauth/connect/caldav`` (the form, checked by a PROPFIND) -> the
provider's ``GET /oauth/callback/{provider}`` -> the account stored -> 302 to
``redirect_uri?code=…&state=…``, and the app trades the code at ``/oauth/token``.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from calsync.api.connect import consent, pages
from calsync.api.connect.flow import (
    KNOWN_SCOPES,
    PROVIDER_ALIASES,
    REQUEST_TTL,
    FlowError,
    app_error,
    back_to_app,
    browser_cookie,
    callback_url,
    client_known,
    load_request,
    new_browser_value,
    redirect_allowed,
    set_browser_cookie,
)
from calsync.api.connect.linking import link
from calsync.api.deps import ApiServices, Services
from calsync.errors import CalsyncError, CredentialsInvalid, UserError
from calsync.notify.ssrf import CallbackRefused, check_callback_url
from calsync.providers.connections import CALDAV, GOOGLE, MICROSOFT, seal, unseal, vault
from calsync.store.repos.connect import AuthRequestRecord

log = logging.getLogger(__name__)

router = APIRouter(tags=["authorization"], include_in_schema=False)

_MAX_FIELD = 2048


def offered(services: ApiServices) -> tuple[str, ...]:
    """The OAuth providers on the chooser, in order (CalDAV is the form below them)."""
    return services.settings.providers.configured


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _error(exc: FlowError) -> HTMLResponse:
    return pages.error_page(exc.title, exc.message, exc.status)


@router.get("/oauth/authorize", response_model=None)
def authorize(request: Request, services: Services) -> Response:
    query = request.query_params
    client_id = query.get("client_id")
    redirect_uri = query.get("redirect_uri") or ""
    if not client_known(services, client_id):
        return pages.error_page("Unknown application", "The application is not known here.")
    if len(redirect_uri) > _MAX_FIELD or not redirect_allowed(services, redirect_uri):
        return pages.error_page(
            "Redirect address not allowed",
            "The application asked to send you to an address this server does not allow.",
        )
    state = query.get("state")
    fail: dict[str, str | None] = {"state": state}
    if query.get("response_type") != "code":
        return back_to_app(redirect_uri, {"error": "unsupported_response_type", **fail})
    scope = " ".join((query.get("scope") or "").split())
    if not scope or len(scope) > _MAX_FIELD or not set(scope.split()) <= KNOWN_SCOPES:
        return back_to_app(redirect_uri, {"error": "invalid_scope", **fail})
    if state is not None and len(state) > _MAX_FIELD:
        return back_to_app(redirect_uri, {"error": "invalid_request", **fail})
    wanted = query.get("provider_name")
    provider = PROVIDER_ALIASES.get(wanted or "")
    if wanted and (provider is None or (provider != CALDAV and provider not in offered(services))):
        return back_to_app(redirect_uri, {"error": "invalid_request", **fail})
    try:
        vault(services.settings)
    except UserError:
        log.error("/oauth/authorize: no vault key ([store] vault_key_file) to keep credentials")
        return back_to_app(redirect_uri, {"error": "temporarily_unavailable", **fail})
    browser = browser_cookie(request) or new_browser_value()
    with services.store.write() as uow:
        handle = uow.auth_requests.create(
            browser=browser,
            client_id=str(client_id),
            redirect_uri=redirect_uri,
            scope=scope,
            app_state=state,
            avoid_linking=(query.get("avoid_linking") or "").lower() == "true",
            ttl=REQUEST_TTL,
        )
    response: Response
    if provider in (GOOGLE, MICROSOFT):
        response = _start_provider(services, provider, handle, browser)
    else:
        response = pages.chooser_page(handle, offered(services), app_origin=origin_of(redirect_uri))
    set_browser_cookie(services, response, browser)
    return response


def _start_provider(services: ApiServices, provider: str, handle: str, browser: str) -> Response:
    try:
        found = load_request(services, handle, browser)
    except FlowError as exc:
        return _error(exc)
    settings = services.settings.providers
    redirect_uri = callback_url(services, provider)
    try:
        if provider == GOOGLE and settings.google is not None:
            started = consent.google_start(settings.google, redirect_uri, handle)
        elif provider == MICROSOFT and settings.microsoft is not None:
            started = consent.microsoft_start(settings.microsoft, redirect_uri, handle)
        else:
            return pages.error_page("Not available", "This provider is not offered here.", 404)
    except CalsyncError as exc:
        log.warning("%s consent could not start: %s", provider, exc.message)
        return app_error(found, "temporarily_unavailable")
    with services.store.write() as uow:
        uow.auth_requests.set_provider(
            found.pk, provider, seal(services.settings, {"flow": json.dumps(started.data)})
        )
    return RedirectResponse(started.url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/oauth/connect/{provider}", response_model=None)
def connect_provider(provider: str, request: Request, services: Services) -> Response:
    browser = browser_cookie(request)
    if provider not in (GOOGLE, MICROSOFT):
        return pages.error_page("Not available", "This provider is not offered here.", 404)
    return _start_provider(
        services, provider, request.query_params.get("request") or "", browser or ""
    )


@router.post("/oauth/connect/caldav", response_model=None)
async def connect_caldav(request: Request, services: Services) -> Response:
    body = await request.body()
    if len(body) > 4 * _MAX_FIELD:
        return pages.error_page("Invalid request", "The form is too large.", 413)
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return await run_in_threadpool(_connect_caldav, services, form, browser_cookie(request))


def _connect_caldav(services: ApiServices, form: dict[str, str], browser: str | None) -> Response:
    handle = form.get("request", "")
    try:
        found = load_request(services, handle, browser)
    except FlowError as exc:
        return _error(exc)
    url = form.get("url", "").strip()
    username = form.get("username", "").strip()
    password = form.get("password", "")

    def again(message: str) -> Response:
        return pages.chooser_page(
            handle,
            offered(services),
            caldav_error=message,
            caldav_url=url,
            caldav_username=username,
            status=400,
            app_origin=origin_of(found.redirect_uri),
        )

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        return again("Enter the server's address, starting with https://.")
    if not username or not password or max(len(url), len(username), len(password)) > _MAX_FIELD:
        return again("Enter your user name and password.")
    try:
        # The server fetches a URL a user typed: the rule of notification callbacks holds
        # (no loopback, private or reserved address unless [notify] allows private ones).
        check_callback_url(url, allow_private=services.settings.notify.allow_private_callbacks)
    except CallbackRefused:
        return again("That server address cannot be used from here. Check the server URL.")
    granted = consent.Granted({"url": url, "username": username, "password": password})
    try:
        linked = link(services, found, CALDAV, granted)
    except CredentialsInvalid:
        return again("The server refused that user name and password. Check them and try again.")
    except CalsyncError as exc:
        log.info("CalDAV connect to %s failed: %s", parts.hostname, exc.message)
        return again(
            "No CalDAV calendars were found at that address. Check the server URL "
            "(your provider's CalDAV address, not its web page)."
        )
    with services.store.write() as uow:
        if not uow.auth_requests.consume(found.pk):
            return _error(FlowError("Link already used", "This sign-in has already finished."))
    return back_to_app(found.redirect_uri, {"code": linked.code, "state": found.app_state})


@router.get("/oauth/callback/{provider}", response_model=None)
def callback(provider: str, request: Request, services: Services) -> Response:
    if provider not in (GOOGLE, MICROSOFT):
        return pages.error_page("Not available", "This provider is not offered here.", 404)
    answer = {k: v for k, v in request.query_params.items()}
    try:
        found = load_request(services, answer.get("state"), browser_cookie(request))
    except FlowError as exc:
        return _error(exc)
    if found.provider_name != provider or found.provider_data is None:
        return _error(FlowError("Invalid request", "This answer does not match the sign-in."))
    with services.store.write() as uow:
        # Single use, before anything else: a replayed answer finds it consumed.
        if not uow.auth_requests.consume(found.pk):
            return _error(FlowError("Link already used", "This sign-in has already finished."))
    if "error" in answer:
        denied = answer["error"] in ("access_denied", "consent_required", "interaction_required")
        return app_error(found, "access_denied" if denied else "server_error")
    try:
        granted = _finish(services, provider, found, answer)
        linked = link(services, found, provider, granted)
    except CredentialsInvalid as exc:
        log.warning("%s connect refused: %s", provider, exc.message)
        return app_error(found, "access_denied")
    except CalsyncError as exc:
        log.warning("%s connect failed: %s", provider, exc.message)
        return app_error(found, "server_error")
    return back_to_app(found.redirect_uri, {"code": linked.code, "state": found.app_state})


def _finish(
    services: ApiServices, provider: str, found: AuthRequestRecord, answer: dict[str, str]
) -> consent.Granted:
    assert found.provider_data is not None
    data: dict[str, Any] = json.loads(unseal(services.settings, found.provider_data)["flow"])
    settings = services.settings.providers
    if provider == GOOGLE:
        if settings.google is None or not answer.get("code"):
            raise CredentialsInvalid("no Google authorization code")
        return consent.google_finish(
            settings.google,
            callback_url(services, GOOGLE),
            answer["state"],
            data,
            answer["code"],
        )
    if settings.microsoft is None:
        raise CredentialsInvalid("[providers.microsoft] is not configured")
    return consent.microsoft_finish(settings.microsoft, data, answer)
