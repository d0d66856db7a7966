"""The dialect's error answers in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ChronaryErrorDetail(BaseModel):
    type: str = Field(
        description="validation_error, authentication_error, forbidden, not_found, conflict, "
        "rate_limit_error or internal_error."
    )
    code: str = Field(description="e.g. calendar_not_found, invalid_timezone.")
    message: str
    param: str | None = Field(description="The field the error concerns, if one.")
    request_id: str = Field(description="Equal to the X-Request-Id header.")


class ChronaryErrorBody(BaseModel):
    error: ChronaryErrorDetail


_DESCRIPTIONS = {
    400: "The input is invalid.",
    401: "No valid API key.",
    403: "Not allowed, e.g. a read-only calendar.",
    404: "No such object in this organization.",
    409: "The current state forbids it (or the Idempotency-Key was used otherwise).",
}


def responses(*statuses: int) -> dict[int | str, Any]:
    """Each status with the dialect's error body; 429 and 503 are on every route."""
    found: dict[int | str, Any] = {}
    for status in (*statuses, 429, 503):
        found[status] = {
            "model": ChronaryErrorBody,
            "description": _DESCRIPTIONS.get(status, "Rate limited or the store is unavailable."),
        }
    return found
