"""Profile notifications queued in the outbox (no SQLAlchemy here: repositories only).

This lives below ``sync`` and ``notify`` (siblings that must not import each
other's machinery): the sync engine queues these in the transaction that
records the state they report, and the relay (``calsync.notify``) delivers
them. ``calsync.notify.channels`` re-exports `enqueue_profile_event`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from calsync.store.records import AccountRecord, ProfileRecord
from calsync.store.repos.connect import ConnectionRecord
from calsync.store.unit_of_work import UnitOfWork

PROFILE_DISCONNECTED = "profile_disconnected"
PROFILE_INITIAL_SYNC_COMPLETED = "profile_initial_sync_completed"
PROFILE_KINDS = frozenset({PROFILE_DISCONNECTED, PROFILE_INITIAL_SYNC_COMPLETED})


def profile_payload(profile: ProfileRecord) -> dict[str, str]:
    """The ``profile`` object of a profile notification (Cronofy's shape)."""
    return {
        "profile_id": profile.profile_id,
        "provider_name": profile.provider_name,
        "profile_name": profile.profile_name,
    }


def relink_url(base_url: str, connection: ConnectionRecord) -> str:
    """Where a user reconnects a profile: the connect flow again, for the app that
    connected it, straight to its provider (`/oauth/authorize`, issue #12). A
    connection of the same provider profile relinks the same ``profile_id``."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": connection.client_id,
            "redirect_uri": connection.redirect_uri,
            "scope": connection.scope,
            "provider_name": connection.provider_name,
        }
    )
    return f"{base_url}/oauth/authorize?{query}"


def enqueue_profile_event(
    uow: UnitOfWork,
    account: AccountRecord,
    profile: ProfileRecord,
    kind: str,
    *,
    relink_base_url: str | None = None,
) -> int:
    """Queue ``profile_disconnected`` / ``profile_initial_sync_completed`` for every
    channel of the account, in the caller's transaction (so it commits with the
    state change it reports). Returns the outbox row's pk."""
    if kind not in PROFILE_KINDS:
        raise ValueError(f"not a profile notification kind: {kind!r}")
    payload: dict[str, str] = profile_payload(profile)
    if kind == PROFILE_DISCONNECTED and relink_base_url is not None:
        connection = uow.connections.get_by_profile(profile.pk)
        if connection is not None:
            payload["profile_relink_url"] = relink_url(relink_base_url, connection)
    return uow.outbox.add(account.pk, kind, payload)
