"""Channel management: create (with its verification), list, close; profile events.

Decisions (see also docs in `calsync.notify`):

* **Verification.** Creating a channel commits it together with a pending
  ``verification`` delivery; the API then tries that delivery at once with
  ``[notify] verification_timeout``. If the callback does not answer 2xx in
  time, the channel is still created (as Cronofy does): the verification
  stays in the outbox and is retried on the normal schedule, and the
  channel's status (``failure_count``, ``next_attempt_at``) shows it.
* **No client secret.** Notifications are always signed. Without ``[api]
  client_secret_file`` there is no key a receiver could know, so channel
  creation is refused with 422 ``errors.signing_secret_missing``.
* **Identical channels.** Same callback URL and same (normalised) filters
  return the existing channel (a disabled one is enabled again and verified).
* **Limits.** At most `MAX_CHANNELS` per account (422).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from calsync.config import Settings
from calsync.errors import NotFound, ValidationError
from calsync.notify.filters import channel_fingerprint, normalize_filters
from calsync.notify.payloads import VERIFICATION
from calsync.notify.signing import signing_secrets
from calsync.notify.ssrf import Resolver, check_callback_url, system_resolver
from calsync.store import AccountRecord, Store, UnitOfWork
from calsync.store.channel_records import ChannelRecord, DeliveryRecord
from calsync.store.profile_events import enqueue_profile_event

__all__ = [
    "MAX_CHANNELS",
    "close_channel",
    "create_channel",
    "enqueue_profile_event",
    "list_channels",
]

MAX_CHANNELS = 128


def create_channel(
    store: Store,
    settings: Settings,
    account: AccountRecord,
    callback_url: Any,
    raw_filters: Any,
    *,
    resolve: Resolver = system_resolver,
    secrets: Sequence[str] | None = None,
) -> tuple[ChannelRecord, DeliveryRecord | None]:
    """The channel, and its queued verification when it was (re)created."""
    if not isinstance(callback_url, str) or not callback_url:
        raise ValidationError.single("callback_url", "errors.required", "required")
    active_secrets = signing_secrets(settings) if secrets is None else tuple(secrets)
    if not active_secrets:
        raise ValidationError.single(
            "base",
            "errors.signing_secret_missing",
            "notifications are signed with [api] client_secret_file, which is not configured",
        )
    check_callback_url(
        callback_url, allow_private=settings.notify.allow_private_callbacks, resolve=resolve
    )
    filters = normalize_filters(raw_filters)
    with store.write() as uow:
        _check_calendars(uow, account, filters.get("calendar_ids", []))
        channel, created = uow.channels.create(
            account.pk,
            callback_url,
            filters,
            fingerprint=channel_fingerprint(callback_url, filters),
            max_channels=MAX_CHANNELS,
        )
        verification = uow.channels.add_delivery(channel.pk, VERIFICATION) if created else None
    return channel, verification


def _check_calendars(uow: UnitOfWork, account: AccountRecord, calendar_ids: list[str]) -> None:
    """Every filtered calendar must be the account's; others look exactly like unknown ones."""
    for calendar_id in calendar_ids:
        try:
            uow.calendars.get(account.pk, calendar_id)
        except NotFound:
            raise ValidationError.single(
                "filters.calendar_ids", "errors.not_found", "unknown calendar id"
            ) from None


def list_channels(store: Store, account: AccountRecord) -> list[ChannelRecord]:
    with store.read() as uow:
        return uow.channels.list(account.pk)


def close_channel(store: Store, account: AccountRecord, channel_id: str) -> None:
    """Delete the channel (404 for unknown or another account's)."""
    with store.write() as uow:
        uow.channels.delete(account.pk, channel_id)
