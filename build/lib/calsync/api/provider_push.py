"""``POST /push/google``: change notifications from provider push channels.

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

from calsync.errors import NotFound
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
