"""``/v1/channels``: push notification channels (Cronofy's shape).

Creating a channel sends its ``verification`` notification before answering,
waiting at most ``[notify] verification_timeout``; a callback that does not
answer 2xx in time still gets its channel, and the verification is retried by
the relay (see `calsync.notify.channels`). ``GET`` adds calsync's per-channel
``status`` (last success, failure count, next attempt, disabled).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from calsync.api.deps import ApiServices, Auth, Services
from calsync.notify.channels import close_channel, create_channel, list_channels
from calsync.notify.payloads import channel_json
from calsync.notify.relay import OutboxRelay
from calsync.notify.status import channel_status_json

router = APIRouter(prefix="/v1", tags=["channels"])


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    callback_url: str | None = None
    filters: dict[str, Any] | None = None


def api_relay(request: Request, services: ApiServices) -> OutboxRelay:
    """The relay the API uses for immediate verifications (one per app, made on first use)."""
    relay: OutboxRelay | None = getattr(request.app.state, "notify_relay", None)
    if relay is None:
        relay = OutboxRelay(services.store, services.settings)
        request.app.state.notify_relay = relay
    return relay


@router.post("/channels")
def create(body: ChannelCreate, request: Request, auth: Auth, services: Services) -> Any:
    channel, verification = create_channel(
        services.store, services.settings, auth.account, body.callback_url, body.filters
    )
    if verification is not None:
        timeout = services.settings.notify.verification_timeout.total_seconds()
        api_relay(request, services).deliver_now(verification.webhook_id, timeout=timeout)
    return {"channel": channel_json(channel)}


@router.get("/channels")
def list_(auth: Auth, services: Services) -> Any:
    return {
        "channels": [channel_status_json(c) for c in list_channels(services.store, auth.account)]
    }


@router.delete("/channels/{channel_id}", status_code=202)
def close(channel_id: str, auth: Auth, services: Services) -> Response:
    close_channel(services.store, auth.account, channel_id)
    return Response(status_code=202)
