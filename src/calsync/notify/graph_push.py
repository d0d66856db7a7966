"""Microsoft Graph change notifications (``POST /push/microsoft``): checks and lifecycle.

A Graph subscription is a push channel (`calsync.notify.provider_push`): the row
is keyed by calsync's channel id, which the notification URL carries in its query
(``?channel=...``); ``resource_id`` is Graph's subscription id and the token hash
is that of ``clientState``
(https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks).

- The validation request (``?validationToken=...``) is answered by echoing the
  token as ``text/plain`` for a channel calsync is opening or holds.
- A notification must name the channel's subscription and carry its clientState
  (compared in constant time), else the whole POST is `NotFound`. A change names
  the calendar to sync at once.
- Lifecycle notifications (https://learn.microsoft.com/en-us/graph/
  change-notifications-lifecycle-events): ``missed`` syncs the calendar;
  ``subscriptionRemoved`` forgets the channel (the renewal job opens a new one)
  and syncs; ``reauthorizationRequired`` marks the channel expired, so the renewal
  job replaces it on its next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from calsync.errors import NotFound
from calsync.notify.provider_push import MAX_CHANNEL_ID_LENGTH, PushTarget, _same, token_hash
from calsync.store import Store

#: Below ``[api] base_url``; the provider derives it from the push address.
GRAPH_PUSH_PATH = "/push/microsoft"
_DUMMY_HASH = "0" * 64


def validation_allowed(store: Store, channel_id: str) -> bool:
    """Whether a validation request names a channel calsync is opening or holds."""
    if not channel_id or len(channel_id) > MAX_CHANNEL_ID_LENGTH:
        return False
    with store.read() as uow:
        return uow.provider_channels.get(channel_id) is not None


def graph_targets(store: Store, channel_id: str, body: Any) -> list[PushTarget]:
    """The calendars a Graph notification POST asks to sync now (deduplicated).

    Raises `NotFound` when the channel is unknown, or any item names another
    subscription or carries a wrong clientState (without saying which).
    """
    items = body.get("value") if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not channel_id or len(channel_id) > MAX_CHANNEL_ID_LENGTH:
        raise NotFound("unknown push channel")
    with store.read() as uow:
        row = uow.provider_channels.get(channel_id)
        calendar = uow.calendars.get_by_pk(row.calendar_pk) if row is not None else None
    for item in items:
        if not isinstance(item, Mapping):
            raise NotFound("unknown push channel")
        state = str(item.get("clientState") or "")
        token_ok = _same(token_hash(state), row.token_hash if row else _DUMMY_HASH)
        subscription = str(item.get("subscriptionId") or "")
        if row is None or calendar is None or not token_ok:
            raise NotFound("unknown push channel")
        if row.resource_id is not None and not _same(subscription, row.resource_id):
            raise NotFound("unknown push channel")
    assert row is not None and calendar is not None
    targets: list[PushTarget] = []
    for item in items:
        event = item.get("lifecycleEvent")
        if event == "subscriptionRemoved":
            with store.write() as uow:
                uow.provider_channels.delete(channel_id)
        elif event == "reauthorizationRequired":
            with store.write() as uow:
                uow.provider_channels.activate(
                    channel_id, str(row.resource_id or ""), datetime.now(UTC)
                )
            continue
        if not calendar.deleted:
            targets.append(PushTarget(calendar.profile_name, calendar.pk, calendar.calendar_id))
    return list(dict.fromkeys(targets))
