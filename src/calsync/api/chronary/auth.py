"""Who is calling the Chronary dialect: an organization, by API key.

The organization is the deployment (one store, one configured client): its id
is derived from ``[api] client_id`` (`org_id_for`). It authenticates with

* an API key (``chr_sk_…``) from ``calsync token issue --api-key``, stored as a
  SHA-256 only and revoked one by one (``calsync token revoke KEY``); a key
  remembers the organization it was issued for, so a key of another
  deployment sharing the store (another client id) is refused; or
* the application's client secret itself (compared in constant time).

A Cronofy access token (``csa_…``) is an account's, not the organization's: 401.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from calsync.api.deps import ApiServices, Services, bearer_token
from calsync.config import Settings
from calsync.errors import AuthError
from calsync.store.repos.chronary import API_KEY_PREFIX

#: The organization of a deployment without a configured client id.
_NO_CLIENT = "calsync"


def org_id_for(settings: Settings) -> str:
    """``org_`` and 20 hex digits of the client id's SHA-256: stable, and no secret."""
    client = settings.api.client_id or _NO_CLIENT
    return "org_" + hashlib.sha256(client.encode()).hexdigest()[:20]


def resolve_org(services: ApiServices, token: str) -> str | None:
    """The organization a bearer token stands for, or None."""
    org_id = org_id_for(services.settings)
    if token.startswith(API_KEY_PREFIX) and len(token) <= 256:
        with services.store.read() as uow:
            found = uow.api_keys.resolve(token)
        return org_id if found is not None and hmac.compare_digest(found, org_id) else None
    secret = services.settings.api.client_secret_file
    if secret is not None and hmac.compare_digest(token.encode(), secret.reveal().encode()):
        return org_id
    return None


def identify_org_key(services: ApiServices, token: str) -> str | None:
    """The rate-limit key of an organization API key (``org:…``), None for anything else:
    all of an organization's keys share one budget, and unknown keys fall back to the
    address, so inventing keys buys no fresh budget."""
    if not token.startswith(API_KEY_PREFIX):
        return None
    org_id = resolve_org(services, token)
    return None if org_id is None else f"org:{org_id}"


@dataclass(frozen=True, slots=True)
class OrgContext:
    org_id: str


_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="chronary_api_key",
    description="An organization API key (`chr_sk_...`, `calsync token issue --api-key`) "
    "or the application's client secret.",
)


async def require_org(
    request: Request,
    services: Services,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)],
) -> OrgContext:
    token = bearer_token(request)
    if token is None:
        raise AuthError("missing API key: send Authorization: Bearer <key>")
    org_id = await run_in_threadpool(resolve_org, services, token)
    if org_id is None:
        raise AuthError("unknown or revoked API key")
    return OrgContext(org_id=org_id)


Org = Annotated[OrgContext, Depends(require_org)]
