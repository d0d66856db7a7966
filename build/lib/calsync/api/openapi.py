"""What the OpenAPI document says about answers other than success.

Each route lists the error statuses it can really give, with the body each
has, so generated clients and ``/docs`` see what the server does (and
schemathesis checks it: ``tests/integration/test_api_fuzz.py``). The
statuses every route shares come from the layers around it:

* 429 from the rate limiter, on every route it covers (all but the probes);
* 413 from the body size limit, and 415 from body parsing, where a body is read;
* 401 from the bearer check, on every route that takes a token;
* 503 when the store cannot be reached, on every route that reads it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    key: str = Field(description="What went wrong, e.g. `errors.required`.")
    description: str = Field(description="The same for a person.")


class CronofyErrors(BaseModel):
    """Cronofy's error body: every problem, under the field it concerns (`base` = the request)."""

    errors: dict[str, list[ErrorDetail]]


class OAuthErrorBody(BaseModel):
    """RFC 6749 §5.2."""

    error: str = Field(
        description="`invalid_request`, `invalid_client`, `invalid_grant` or "
        "`unsupported_grant_type`."
    )
    error_description: str | None = None


_DESCRIPTIONS = {
    400: "The request is malformed.",
    401: "No valid credentials: the bearer token (or the client credentials) is missing, "
    "unknown, expired or revoked.",
    403: "The token may not do this, e.g. write to a read-only calendar.",
    404: "No such object, or one of another account.",
    409: "The current state forbids the change.",
    413: "The request body is larger than `[api] max_body_bytes`.",
    415: "The request has a body that is not JSON.",
    422: "The input is invalid: every problem, each under its field.",
    429: "Rate limited; retry after the seconds in `Retry-After`.",
    503: "The store is unavailable.",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def responses(*statuses: int, model: type[BaseModel] = CronofyErrors) -> dict[int | str, Any]:
    """The ``responses=`` of a route: each status with its description and error body."""
    found: dict[int | str, Any] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": model, "description": _DESCRIPTIONS[status]}
        if status == 429:
            entry = {"model": CronofyErrors, "description": _DESCRIPTIONS[429]}
            entry["headers"] = _RETRY_AFTER
        elif status in (413, 503):
            entry["model"] = CronofyErrors  # answered before any OAuth handling
        found[status] = entry
    return found


#: A route that takes a bearer token and reads the store, without a body.
TOKEN_ROUTE = (401, 429, 503)
#: The same with a JSON body.
BODY_ROUTE = (401, 413, 415, 422, 429, 503)

#: ``POST /v1/application_calendars``: client credentials, JSON body.
ERROR_RESPONSES = responses(401, 413, 415, 422, 429, 503)
#: The OAuth endpoints: RFC 6749 error bodies.
OAUTH_ERROR_RESPONSES = responses(400, 401, 413, 429, 503, model=OAuthErrorBody)
