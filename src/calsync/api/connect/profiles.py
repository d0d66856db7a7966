"""``POST /v1/profiles/{profile_id}/revoke`` (pycronofy's ``revoke_profile``).

For a profile from the connect flow: the grant is revoked at the provider
where it has an endpoint for it (Google's ``/revoke``; Microsoft's v2
platform has none for a refresh token, CalDAV has no grant), the credentials
are forgotten (so nothing syncs it any more), the profile shows disconnected
with its relink URL, and its calendars are removed from the account. Linking
it again brings the same ``profile_id`` and the same ``calendar_id``s back.

A profile of a ``[[accounts]]`` table is the operator's: it is removed from
the config, not through the API (409).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import Response

from calsync.api.deps import ApiServices, Auth, Services
from calsync.api.openapi import TOKEN_ROUTE, responses
from calsync.errors import Conflict, CredentialsInvalid
from calsync.providers.connections import GOOGLE, unseal
from calsync.store.profile_events import PROFILE_DISCONNECTED, enqueue_profile_event

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["accounts"])

REVOKED = "revoked through the API"


def google_revoke_uri(token_uri: str) -> str:
    """Google's revocation endpoint beside its token endpoint (``…/token`` -> ``…/revoke``)."""
    return token_uri.rsplit("/", 1)[0] + "/revoke"


def _revoke_at_provider(services: ApiServices, provider: str, credentials: dict[str, str]) -> None:
    google = services.settings.providers.google
    if provider != GOOGLE or google is None:
        return
    verify: Any = str(google.ca_file) if google.ca_file is not None else True
    try:
        with httpx.Client(timeout=10, verify=verify, trust_env=google.ca_file is None) as client:
            reply = client.post(
                google_revoke_uri(google.token_uri),
                data={"token": credentials["refresh_token"]},
            )
        if reply.status_code >= 400:
            log.warning("Google answered %d to the revocation", reply.status_code)
    except httpx.HTTPError as exc:
        # The credentials are forgotten here regardless: calsync never uses them again.
        log.warning("the revocation could not reach Google (%s)", type(exc).__name__)


@router.post(
    "/profiles/{profile_id}/revoke",
    status_code=202,
    response_class=Response,
    responses={202: {"description": "Revoked (no body)."}, **responses(*TOKEN_ROUTE, 404, 409)},
)
def revoke_profile(profile_id: str, auth: Auth, services: Services) -> Response:
    with services.store.read() as uow:
        profile = uow.profiles.get(auth.account.pk, profile_id)
        connection = uow.connections.get_by_profile(profile.pk)
    if connection is None:
        raise Conflict(
            "this profile comes from the config file: remove it there",
            key="errors.configured_profile",
        )
    if connection.credentials is not None:
        try:
            credentials = unseal(services.settings, connection.credentials)
        except CredentialsInvalid:
            log.warning("profile %s: credentials unreadable; forgetting them", profile_id)
        else:
            _revoke_at_provider(services, connection.provider_name, credentials)
    with services.store.write() as uow:
        uow.connections.drop_credentials(profile.pk)
        current = uow.profiles.get_by_pk(profile.pk)
        uow.profiles.set_connected(profile.pk, False, reason=REVOKED)
        if current.connected:
            enqueue_profile_event(
                uow,
                auth.account,
                current,
                PROFILE_DISCONNECTED,
                relink_base_url=services.settings.api.base_url,
            )
        for calendar in uow.calendars.list_by_profile(profile.pk):
            if not calendar.deleted:
                uow.calendars.soft_delete(calendar.pk)
    log.info("profile %s revoked", profile_id)
    services.account_changes.changed()
    return Response(status_code=202)
