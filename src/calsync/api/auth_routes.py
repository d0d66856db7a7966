"""Client-credential endpoints: application calendars and OAuth tokens.

These three endpoints authenticate with ``client_id``/``client_secret`` in the
JSON body and ignore the ``Authorization`` header (pycronofy sends ``Bearer
None`` there). With no client secret configured they answer 401.

Token policy
------------
* Access tokens (``csa_…``) live ``[api] access_token_ttl`` (default 3600 s).
* Refresh tokens (``csr_…``) do not expire and **do not rotate**: a refresh
  answers with a new access token and the *same* refresh token. Cronofy keeps
  refresh tokens stable, and an app built on pycronofy may not persist a new
  one; rotating would lock such an app out after its next restart.
* Revoking any token of an account (``token``) revokes the whole
  authorization, i.e. every token of that account, as Cronofy does; ``sub``
  revokes all tokens of that account directly. Unknown tokens are accepted
  silently (RFC 7009 §2.2), so revocation cannot probe for valid tokens.
* Only SHA-256 hashes are stored; see `calsync.api.deps`.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from calsync.api.deps import REFRESH_TOKEN_PREFIX, ApiServices, Services
from calsync.api.errors import OAuthError
from calsync.errors import AuthError, NotFound, ValidationError
from calsync.store import UnitOfWork
from calsync.store.records import AccountRecord, ProfileRecord
from calsync.store.repos.tokens import ACCESS, REFRESH

router = APIRouter(tags=["authorization"])

SCOPE = "read_write"
MAX_APPLICATION_CALENDAR_ID = 255


class ClientCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore")

    client_id: str | None = Field(default=None, max_length=512)
    client_secret: str | None = Field(default=None, max_length=512)


class ApplicationCalendarRequest(ClientCredentials):
    application_calendar_id: str | None = Field(default=None, max_length=1024)


class TokenRequest(ClientCredentials):
    grant_type: str | None = Field(default=None, max_length=64)
    refresh_token: str | None = Field(default=None, max_length=512)
    code: str | None = Field(default=None, max_length=2048)
    redirect_uri: str | None = Field(default=None, max_length=2048)


class RevokeRequest(ClientCredentials):
    token: str | None = Field(default=None, max_length=512)
    sub: str | None = Field(default=None, max_length=256)


def _client_credentials_valid(services: ApiServices, body: ClientCredentials) -> bool:
    """Constant-time check of the body's client credentials against the config."""
    api = services.settings.api
    if api.client_id is None or api.client_secret_file is None:
        return False
    id_ok = hmac.compare_digest((body.client_id or "").encode(), api.client_id.encode())
    secret_ok = hmac.compare_digest(
        (body.client_secret or "").encode(), api.client_secret_file.reveal().encode()
    )
    return id_ok and secret_ok


def _not_configured_message() -> str:
    return (
        "client credentials are not configured on this server: "
        "set [api] client_id and client_secret_file"
    )


def require_client(services: ApiServices, body: ClientCredentials) -> None:
    """401 in Cronofy's error shape unless the body carries the configured credentials."""
    if not services.settings.api.client_credentials_enabled:
        raise AuthError(_not_configured_message())
    if not _client_credentials_valid(services, body):
        raise AuthError("invalid client_id or client_secret")


def require_oauth_client(services: ApiServices, body: ClientCredentials) -> None:
    """The same check, answered the OAuth way (``invalid_client``)."""
    if not services.settings.api.client_credentials_enabled:
        raise OAuthError("invalid_client", status_code=401, description=_not_configured_message())
    if not _client_credentials_valid(services, body):
        raise OAuthError("invalid_client", status_code=401)


def _ttl(services: ApiServices) -> timedelta:
    return services.settings.api.access_token_ttl


def issue_tokens(services: ApiServices, uow: UnitOfWork, account_pk: int) -> tuple[str, str]:
    """A new (access, refresh) pair for the account."""
    access: str = uow.tokens.issue(account_pk, ACCESS, _ttl(services))
    refresh: str = uow.tokens.issue(account_pk, REFRESH, None)
    return access, refresh


def token_response(
    services: ApiServices,
    account: AccountRecord,
    access_token: str,
    refresh_token: str,
    profile: ProfileRecord | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token_type": "bearer",
        "access_token": access_token,
        "expires_in": int(_ttl(services).total_seconds()),
        "refresh_token": refresh_token,
        "scope": SCOPE,
        "sub": account.sub,
    }
    if account.application_calendar_id is not None:
        body["application_calendar_id"] = account.application_calendar_id
    if profile is not None:
        body["linking_profile"] = {
            "provider_name": profile.provider_name,
            "profile_id": profile.profile_id,
            "profile_name": profile.profile_name,
        }
    return body


@router.post("/v1/application_calendars")
def upsert_application_calendar(
    body: ApplicationCalendarRequest, services: Services
) -> dict[str, Any]:
    require_client(services, body)
    app_calendar_id = (body.application_calendar_id or "").strip()
    if not app_calendar_id:
        raise ValidationError.single(
            "application_calendar_id", "errors.required", "application_calendar_id is required"
        )
    if len(app_calendar_id) > MAX_APPLICATION_CALENDAR_ID:
        raise ValidationError.single(
            "application_calendar_id",
            "errors.too_long",
            f"at most {MAX_APPLICATION_CALENDAR_ID} characters",
        )
    with services.store.write() as uow:
        account, profile, _calendar = uow.accounts.upsert_application(app_calendar_id)
        access, refresh = issue_tokens(services, uow, account.pk)
    return token_response(services, account, access, refresh, profile)


@router.post("/oauth/token")
def token(body: TokenRequest, services: Services) -> dict[str, Any]:
    require_oauth_client(services, body)
    if body.grant_type == "refresh_token":
        return _refresh(services, body.refresh_token or "")
    if body.grant_type == "authorization_code":
        if not body.code:
            raise OAuthError("invalid_request", description="code is required")
        # The connect flow issues codes in a later issue; until then none is valid.
        raise OAuthError("invalid_grant")
    raise OAuthError("unsupported_grant_type")


def _refresh(services: ApiServices, refresh_token: str) -> dict[str, Any]:
    if not refresh_token.startswith(REFRESH_TOKEN_PREFIX):
        raise OAuthError("invalid_grant")
    with services.store.write() as uow:
        record = uow.tokens.resolve(refresh_token, kind=REFRESH)
        if record is None:
            raise OAuthError("invalid_grant")
        try:
            account = uow.accounts.get(record.account_pk)
        except NotFound:
            raise OAuthError("invalid_grant") from None
        access = uow.tokens.issue(account.pk, ACCESS, _ttl(services))
    # No rotation: the caller keeps the refresh token it sent (module docstring).
    return token_response(services, account, access, refresh_token)


@router.post("/oauth/token/revoke")
def revoke(body: RevokeRequest, services: Services) -> dict[str, Any]:
    require_oauth_client(services, body)
    if not body.token and not body.sub:
        raise ValidationError.single("token", "errors.required", "give token or sub")
    with services.store.write() as uow:
        if body.sub:
            try:
                account = uow.accounts.get_by_sub(body.sub)
            except NotFound:
                account = None
            if account is not None:
                uow.tokens.revoke_all(account.pk)
        if body.token:
            record = uow.tokens.resolve(body.token)
            if record is not None:
                uow.tokens.revoke_all(record.account_pk)
            else:  # expired or unknown: still make sure it can never be used
                uow.tokens.revoke(body.token)
    return {}
