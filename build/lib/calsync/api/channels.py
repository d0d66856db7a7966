"""``/v1/channels``: push notification channels (Cronofy's shape).

Creating a channel sends its ``verification`` notification before answering,
waiting at most ``[notify] verification_timeout``; a callback that does not
answer 2xx in time still gets its channel, and the verification is retried by
the relay (see `calsync.notify.channels`). ``GET`` adds calsync's per-channel
``status`` (last success, failure count, next attempt, disabled).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from calsync.api.deps import ApiServices, Auth, Services
from calsync.api.openapi import BODY_ROUTE, TOKEN_ROUTE, responses
from calsync.api.response_schemas import NO_CONTENT_202, ChannelAnswer, ChannelsAnswer, ok
from calsync.errors import ValidationError
from calsync.notify.channels import close_channel, create_channel, list_channels
from calsync.notify.filters import MAX_FILTER_CALENDARS
from calsync.notify.payloads import channel_json
from calsync.notify.relay import OutboxRelay
from calsync.notify.ssrf import MAX_URL_LENGTH
from calsync.notify.status import channel_status_json

router = APIRouter(prefix="/v1", tags=["channels"])


class ChannelFilters(BaseModel):
    """Which notifications the channel wants (checked by `calsync.notify.filters`)."""

    model_config = ConfigDict(extra="ignore")

    calendar_ids: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None,
        max_length=MAX_FILTER_CALENDARS,
        description="Only changes in these calendars of the account (all when absent).",
    )
    only_managed: StrictBool | None = Field(
        default=None, description="Only changes to events this app manages."
    )


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    callback_url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        # RFC 3986: a URL is printable ASCII (an IRI's host goes in as punycode).
        pattern="^[Hh][Tt][Tt][Pp][Ss]?://[!-~]+$",
        description=(
            "Where notifications are POSTed: an http(s) URL whose host resolves, and not to a "
            "loopback, private or reserved address unless [notify] allow_private_callbacks."
        ),
    )
    filters: ChannelFilters | None = None


def api_relay(request: Request, services: ApiServices) -> OutboxRelay:
    """The relay the API uses for immediate verifications (one per app, made on first use)."""
    relay: OutboxRelay | None = getattr(request.app.state, "notify_relay", None)
    if relay is None:
        relay = OutboxRelay(services.store, services.settings)
        request.app.state.notify_relay = relay
    return relay


@router.post(
    "/channels", response_model=None, responses={**ok(ChannelAnswer), **responses(*BODY_ROUTE)}
)
def create(body: ChannelCreate, request: Request, auth: Auth, services: Services) -> Any:
    filters = body.filters.model_dump(exclude_none=True) if body.filters is not None else None
    try:
        channel, verification = create_channel(
            services.store, services.settings, auth.account, body.callback_url, filters
        )
    except UnicodeError:
        # The resolver's IDNA step refuses a host no DNS name can have ("a..b",
        # a label over 63 characters); notify.ssrf expects only OSError from it.
        raise ValidationError.single(
            "callback_url", "errors.invalid_callback_url", "the host is not a valid DNS name"
        ) from None
    if verification is not None:
        timeout = services.settings.notify.verification_timeout.total_seconds()
        api_relay(request, services).deliver_now(verification.webhook_id, timeout=timeout)
    return {"channel": channel_json(channel)}


@router.get(
    "/channels",
    response_model=None,
    responses={**ok(ChannelsAnswer), **responses(*TOKEN_ROUTE)},
)
def list_(auth: Auth, services: Services) -> Any:
    return {
        "channels": [channel_status_json(c) for c in list_channels(services.store, auth.account)]
    }


@router.delete(
    "/channels/{channel_id}",
    status_code=202,
    response_class=Response,
    responses={**NO_CONTENT_202, **responses(*TOKEN_ROUTE, 404)},
)
def close(channel_id: str, auth: Auth, services: Services) -> Response:
    close_channel(services.store, auth.account, channel_id)
    return Response(status_code=202)
