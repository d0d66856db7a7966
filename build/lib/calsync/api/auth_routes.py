"""Client-credential endpoints: application calendars and OAuth tokens.

These three endpoints authenticate with ``client_id``/``client_secret`` in the
body and ignore a ``Bearer`` header (pycronofy sends ``Bearer None`` there).
The two OAuth endpoints also take their parameters as a form and the client
by HTTP Basic, as RFC 6749 and RFC 7009 say (`calsync.api.oauth_requests`).
With no client secret configured they answer 401.

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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from calsync.api.chronary.auth import org_id_for
from calsync.api.deps import REFRESH_TOKEN_PREFIX, ApiServices, Services
from calsync.api.errors import OAuthError
from calsync.api.formats import NOT_BLANK, strip_blank
from calsync.api.oauth_requests import (
    BasicCredentials,
    basic_credentials,
    form_and_json_body,
    oauth_parameters,
    parse_parameters,
)
from calsync.api.openapi import ERROR_RESPONSES, OAUTH_ERROR_RESPONSES, responses
from calsync.api.response_schemas import Empty, TokenAnswer, ok
from calsync.errors import AuthError, NotFound
from calsync.store import UnitOfWork
from calsync.store.records import AccountRecord, ProfileRecord
from calsync.store.repos.tokens import ACCESS, REFRESH

router = APIRouter(tags=["authorization"])

SCOPE = "read_write"
#: An ``application_calendar_id`` of this form names a Chronary agent (`_agent_account`).
AGENT_PREFIX = "agt_"
MAX_APPLICATION_CALENDAR_ID = 255


class ClientCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore")

    client_id: str | None = Field(default=None, max_length=512)
    client_secret: str | None = Field(default=None, max_length=512)


class ApplicationCalendarRequest(ClientCredentials):
    application_calendar_id: str = Field(
        max_length=MAX_APPLICATION_CALENDAR_ID,
        description="The app's own id for the calendar; surrounding spaces are dropped.",
        json_schema_extra={"pattern": NOT_BLANK},
    )

    @field_validator("application_calendar_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        stripped = strip_blank(value)
        if not stripped:
            raise PydanticCustomError("required", "application_calendar_id is required")
        return stripped


class RefreshGrant(ClientCredentials):
    """RFC 6749 §6: a new access token for a refresh token."""

    grant_type: Literal["refresh_token"]
    refresh_token: str = Field(max_length=512)


class AuthorizationCodeGrant(ClientCredentials):
    """RFC 6749 §4.1.3: the connect flow's code for tokens."""

    grant_type: Literal["authorization_code"]
    code: str = Field(min_length=1, max_length=2048)
    redirect_uri: str | None = Field(default=None, max_length=2048)


class TokenRequest(RootModel[RefreshGrant | AuthorizationCodeGrant]):
    root: Annotated[RefreshGrant | AuthorizationCodeGrant, Field(discriminator="grant_type")]


class RevokeRequest(ClientCredentials):
    """RFC 7009 §2.1 (``token``, ``token_type_hint``), plus Cronofy's ``sub``: one is required."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"anyOf": [{"required": ["token"]}, {"required": ["sub"]}]},
    )

    token: str | None = Field(default=None, min_length=1, max_length=512)
    token_type_hint: str | None = Field(default=None, max_length=64)
    sub: str | None = Field(default=None, min_length=1, max_length=256)


def _credentials_match(services: ApiServices, client_id: str, client_secret: str) -> bool:
    """Constant-time check of a client id and secret against the config."""
    api = services.settings.api
    if api.client_id is None or api.client_secret_file is None:
        return False
    id_ok = hmac.compare_digest(client_id.encode(), api.client_id.encode())
    secret_ok = hmac.compare_digest(
        client_secret.encode(), api.client_secret_file.reveal().encode()
    )
    return id_ok and secret_ok


def _client_credentials_valid(services: ApiServices, body: ClientCredentials) -> bool:
    return _credentials_match(services, body.client_id or "", body.client_secret or "")


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


def require_oauth_client(
    services: ApiServices, body: ClientCredentials, basic: BasicCredentials | None = None
) -> None:
    """The same check, answered the OAuth way (``invalid_client``), by Basic or body credentials.

    RFC 6749 §2.3: a client uses one authentication method per request, so a
    secret in both places is refused; a ``client_id`` beside Basic must agree.
    """
    if basic is not None and body.client_secret is not None:
        raise OAuthError(
            "invalid_request",
            description="give the client secret in the Authorization header or the body, not both",
        )
    if not services.settings.api.client_credentials_enabled:
        raise OAuthError("invalid_client", status_code=401, description=_not_configured_message())
    if basic is None:
        if not _client_credentials_valid(services, body):
            raise OAuthError("invalid_client", status_code=401)
        return
    candidates = basic.candidates()
    if body.client_id is not None and all(body.client_id != cid for cid, _ in candidates):
        raise OAuthError("invalid_request", description="client_id differs from the Basic one")
    if not any(_credentials_match(services, cid, secret) for cid, secret in candidates):
        raise OAuthError(
            "invalid_client",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="calsync"'},
        )


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
    *,
    scope: str = SCOPE,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token_type": "bearer",
        "access_token": access_token,
        "expires_in": int(_ttl(services).total_seconds()),
        "refresh_token": refresh_token,
        "scope": scope,
        "account_id": account.sub,
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


@router.post(
    "/v1/application_calendars",
    response_model=None,
    responses={**ok(TokenAnswer), **ERROR_RESPONSES, **responses(404)},
)
def upsert_application_calendar(
    body: ApplicationCalendarRequest, services: Services
) -> dict[str, Any]:
    require_client(services, body)
    with services.store.write() as uow:
        if body.application_calendar_id.startswith(AGENT_PREFIX):
            org_id = org_id_for(services.settings)
            account, profile = _agent_account(uow, org_id, body.application_calendar_id)
        else:
            account, profile, _calendar = uow.accounts.upsert_application(
                body.application_calendar_id
            )
        access, refresh = issue_tokens(services, uow, account.pk)
    return token_response(services, account, access, refresh, profile)


def _agent_account(
    uow: UnitOfWork, org_id: str, agent_id: str
) -> tuple[AccountRecord, ProfileRecord | None]:
    """The account a Chronary agent stands for (every agent is an account): 404 if none.

    An agent made through the Chronary dialect is an application account whose
    application calendar id is the agent id, and gets its calendar as any
    application calendar does; any other agent (a connected account's, say)
    just gets a token for its account, which is then left as it is.
    """
    uow.agents.backfill(org_id)
    try:
        agent = uow.agents.get(agent_id, org_id)
    except NotFound:
        raise NotFound(f"no agent {agent_id}") from None
    if agent.account.application_calendar_id == agent_id:
        account, profile, _calendar = uow.accounts.upsert_application(agent_id)
        return account, profile
    profiles = uow.profiles.list(agent.account.pk)
    return agent.account, profiles[0] if profiles else None


@router.post(
    "/oauth/token",
    response_model=None,
    responses={**ok(TokenAnswer), **OAUTH_ERROR_RESPONSES},
    openapi_extra=form_and_json_body(TokenRequest.model_json_schema()),
)
async def token(request: Request, services: Services) -> dict[str, Any]:
    """RFC 6749 token endpoint: a form (or pycronofy's JSON), client by Basic or body."""
    parameters = await oauth_parameters(request)
    basic = basic_credentials(request)
    credentials = parse_parameters(ClientCredentials, parameters)
    require_oauth_client(services, credentials, basic)
    grant_type = parameters.get("grant_type")
    if isinstance(grant_type, str) and grant_type not in {"refresh_token", "authorization_code"}:
        raise OAuthError("unsupported_grant_type")
    grant = parse_parameters(TokenRequest, parameters).root
    if isinstance(grant, RefreshGrant):
        return await run_in_threadpool(_refresh, services, grant.refresh_token)
    # The client has authenticated above, so it is the configured one.
    client_id = services.settings.api.client_id or ""
    return await run_in_threadpool(
        _authorization_code, services, grant.code, client_id, grant.redirect_uri
    )


def _authorization_code(
    services: ApiServices, code: str, client_id: str, redirect_uri: str | None
) -> dict[str, Any]:
    """RFC 6749 §4.1.3: a code from the connect flow, once, for the client and redirect
    URI it was issued to; anything else is ``invalid_grant``."""
    with services.store.write() as uow:
        # No raise inside: a refused presentation must commit the code's use.
        redeemed = uow.auth_codes.redeem(code, client_id=client_id, redirect_uri=redirect_uri)
        if redeemed is not None:
            account = uow.accounts.get(redeemed.account_pk)
            profile = uow.profiles.get_by_pk(redeemed.profile_pk)
            access, refresh = issue_tokens(services, uow, account.pk)
    if redeemed is None:
        raise OAuthError("invalid_grant")
    return token_response(services, account, access, refresh, profile, scope=redeemed.scope)


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


@router.post(
    "/oauth/token/revoke",
    response_model=None,
    responses={**ok(Empty), **OAUTH_ERROR_RESPONSES},
    openapi_extra=form_and_json_body(RevokeRequest.model_json_schema()),
)
async def revoke(request: Request, services: Services) -> dict[str, Any]:
    """RFC 7009 revocation (form or JSON): a token, or every token of a ``sub``."""
    parameters = await oauth_parameters(request)
    basic = basic_credentials(request)
    require_oauth_client(services, parse_parameters(ClientCredentials, parameters), basic)
    body = parse_parameters(RevokeRequest, parameters)
    if body.token is None and body.sub is None:
        raise OAuthError("invalid_request", description="token or sub is required")
    await run_in_threadpool(_revoke, services, body)
    return {}


def _revoke(services: ApiServices, body: RevokeRequest) -> None:
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
