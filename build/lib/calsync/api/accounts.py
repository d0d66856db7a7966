"""``GET /v1/account``, ``/v1/profiles`` and ``/v1/userinfo``.

pycronofy reads ``["account"]`` and ``["profiles"]`` and returns userinfo
whole, so those keys are the contract; the rest follows Cronofy's documents.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from calsync.api.deps import Auth, Services
from calsync.api.openapi import TOKEN_ROUTE, responses
from calsync.api.response_schemas import AccountAnswer, ProfilesAnswer, UserinfoAnswer, ok
from calsync.store.profile_events import relink_url
from calsync.store.records import AccountRecord, CalendarRecord, ProfileRecord

router = APIRouter(prefix="/v1", tags=["accounts"])

DEFAULT_TZID = "Etc/UTC"


def account_name(account: AccountRecord) -> str:
    return account.display_name or account.name or account.application_calendar_id or account.sub


def default_tzid(calendars: list[CalendarRecord]) -> str:
    """The primary calendar's zone, else any calendar's, else UTC."""
    ordered = sorted(calendars, key=lambda c: (not c.primary, c.pk))
    for calendar in ordered:
        if calendar.timezone and not calendar.deleted:
            return calendar.timezone
    return DEFAULT_TZID


def profile_json(profile: ProfileRecord, relink: str | None = None) -> dict[str, Any]:
    """One profile in Cronofy's shape.

    ``profile_relink_url`` is given for a disconnected profile that came through
    the connect flow (`calsync.store.profile_events.relink_url`). A config
    account has no browser flow (its credentials are fixed in the config), so
    its disconnected profile has no such URL: Cronofy documents the field as
    conditional, which clients handle; a URL that cannot work would not be.
    """
    body: dict[str, Any] = {
        "provider_name": profile.provider_name,
        "profile_id": profile.profile_id,
        "profile_name": profile.profile_name,
        "profile_connected": profile.connected,
        "profile_initial_sync_required": False,
    }
    if not profile.connected and relink is not None:
        body["profile_relink_url"] = relink
    return body


@router.get(
    "/account", response_model=None, responses={**ok(AccountAnswer), **responses(*TOKEN_ROUTE)}
)
def get_account(auth: Auth, services: Services) -> dict[str, Any]:
    account = auth.account
    with services.store.read() as uow:
        calendars = uow.calendars.list(account.pk)
    body: dict[str, Any] = {
        "account_id": account.sub,
        "name": account_name(account),
        "default_tzid": default_tzid(calendars),
    }
    if account.email:
        body["email"] = account.email
    return {"account": body}


@router.get(
    "/profiles",
    response_model=None,
    responses={**ok(ProfilesAnswer), **responses(*TOKEN_ROUTE)},
)
def list_profiles(auth: Auth, services: Services) -> dict[str, Any]:
    base_url = services.settings.api.base_url
    with services.store.read() as uow:
        profiles = uow.profiles.list(auth.account.pk)
        relinks: dict[int, str] = {}
        for profile in profiles:
            connection = None if profile.connected else uow.connections.get_by_profile(profile.pk)
            if connection is not None:
                relinks[profile.pk] = relink_url(base_url, connection)
    return {"profiles": [profile_json(p, relinks.get(p.pk)) for p in profiles]}


@router.get(
    "/userinfo",
    response_model=None,
    responses={**ok(UserinfoAnswer), **responses(*TOKEN_ROUTE)},
)
def userinfo(auth: Auth, services: Services) -> dict[str, Any]:
    account = auth.account
    with services.store.read() as uow:
        profiles = uow.profiles.list(account.pk)
        calendars = uow.calendars.list(account.pk)
    by_profile: dict[int, list[dict[str, Any]]] = {p.pk: [] for p in profiles}
    for calendar in calendars:
        if not calendar.deleted:
            by_profile.setdefault(calendar.profile_pk, []).append(
                {
                    "calendar_id": calendar.calendar_id,
                    "calendar_name": calendar.name,
                    "calendar_readonly": calendar.readonly,
                    "calendar_deleted": calendar.deleted,
                    "calendar_primary": calendar.primary,
                }
            )
    body: dict[str, Any] = {
        "sub": account.sub,
        "name": account_name(account),
        "cronofy.type": "userinfo",
        "cronofy.data": {
            "authorization": {"scope": "read_write", "status": "active"},
            "profiles": [
                {
                    "provider_name": p.provider_name,
                    "profile_id": p.profile_id,
                    "profile_name": p.profile_name,
                    "profile_connected": p.connected,
                    "profile_calendars": by_profile.get(p.pk, []),
                }
                for p in profiles
            ],
        },
    }
    if account.email:
        body["email"] = account.email
    return body
