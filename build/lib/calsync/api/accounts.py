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


def profile_json(profile: ProfileRecord) -> dict[str, Any]:
    """One profile in Cronofy's shape.

    ``profile_relink_url`` is left out, also for a disconnected profile: Cronofy
    sends it only where a browser relink flow exists, and calsync has none yet
    (credentials are fixed through the config and `calsync sync`). Omitting a
    field Cronofy documents as conditional is what clients already handle; a
    URL that answers 404, or ``null`` where a string is promised, is not.
    """
    return {
        "provider_name": profile.provider_name,
        "profile_id": profile.profile_id,
        "profile_name": profile.profile_name,
        "profile_connected": profile.connected,
        "profile_initial_sync_required": False,
    }


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
    with services.store.read() as uow:
        profiles = uow.profiles.list(auth.account.pk)
    return {"profiles": [profile_json(p) for p in profiles]}


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
