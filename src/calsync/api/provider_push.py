"""``POST /push/google`` and ``/push/microsoft``: change notifications from provider push channels.

No bearer token: the provider authenticates with the channel id and token it
was given at ``watch`` time (`ProviderPushManager.handle_notification`
checks them against the store). An unknown channel or a wrong token is a
plain 404 that says nothing more. The answer is immediate; the sync it asks
for runs after the response (the daemon's callback only schedules a job).

The daemon wires it with `install_provider_push` after building the app;
without that the route answers 404 (push channels are off, polling works).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, BackgroundTasks, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from calsync.errors import NotFound
from calsync.notify.graph_push import GRAPH_PUSH_PATH, graph_targets, validation_allowed
from calsync.notify.provider_push import PUSH_PATH, ProviderPushManager, PushTarget

router = APIRouter()


@dataclass(frozen=True, slots=True)
class ProviderPush:
    manager: ProviderPushManager
    #: Called after the response with the calendar to sync; must not block for long.
    on_change: Callable[[PushTarget], object]


def install_provider_push(
    app: FastAPI, manager: ProviderPushManager, on_change: Callable[[PushTarget], object]
) -> None:
    app.state.provider_push = ProviderPush(manager, on_change)


@router.post(PUSH_PATH, include_in_schema=False)
def provider_push_notification(request: Request, background: BackgroundTasks) -> Response:
    push: ProviderPush | None = getattr(request.app.state, "provider_push", None)
    if push is None:
        raise NotFound("push channels are not enabled")
    target = push.manager.handle_notification(request.headers)
    if target is not None:
        background.add_task(push.on_change, target)
    return Response(status_code=200)


@router.post(GRAPH_PUSH_PATH, include_in_schema=False)
async def graph_push_notification(request: Request, background: BackgroundTasks) -> Response:
    """Microsoft Graph: the validation handshake, change and lifecycle notifications."""
    push: ProviderPush | None = getattr(request.app.state, "provider_push", None)
    if push is None:
        raise NotFound("push channels are not enabled")
    channel_id = request.query_params.get("channel", "")
    token = request.query_params.get("validationToken")
    if token is not None:
        # Graph waits at most 10 s for the token, URL-decoded, as text/plain.
        if not await run_in_threadpool(validation_allowed, push.manager.store, channel_id):
            raise NotFound("unknown push channel")
        return Response(token, status_code=200, media_type="text/plain")
    try:
        body = await request.json()
    except ValueError:
        raise NotFound("unknown push channel") from None
    targets = await run_in_threadpool(graph_targets, push.manager.store, channel_id, body)
    for target in targets:
        background.add_task(push.on_change, target)
    return Response(status_code=202)
