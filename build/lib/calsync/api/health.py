"""``GET /healthz``: 200 when the store answers a query, else 503."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from calsync.api.deps import Services

log = logging.getLogger(__name__)

router = APIRouter()


class Health(BaseModel):
    status: str = Field(description="`ok` or `unavailable`.")
    store: str | None = Field(default=None, description="`unreachable` when unavailable.")
    replicas: dict[str, Any] | None = Field(
        default=None,
        description="PostgreSQL replicas: this replica's id, the live replicas and "
        "`warnings` (e.g. `[[accounts]]` that differ between replicas).",
    )


@router.get(
    "/healthz",
    tags=["health"],
    response_model=Health,
    responses={503: {"model": Health, "description": "The store does not answer."}},
)
def healthz(services: Services) -> JSONResponse:
    try:
        # One indexed lookup: proves the database answers and is migrated.
        with services.store.read() as uow:
            uow.accounts.find_by_name("")
    except Exception as exc:  # any failure to answer means unhealthy, never a 500
        log.warning("health check failed: %s", exc)
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    body: dict[str, Any] = {"status": "ok"}
    replicas = services.replica_status()
    if replicas is not None:
        body["replicas"] = replicas
    return JSONResponse(body)
