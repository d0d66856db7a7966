"""What the planner decides, as frozen data; `calsync.sync.apply` carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from calsync.model import RemoteEvent


@dataclass(frozen=True, slots=True)
class UpsertFromRemote:
    """Store the remote version (new event, remote edit, or just a new etag)."""

    event: RemoteEvent
    #: The remote version supersedes a pending local change (conflict lost by
    #: local, or both sides already agree): the push is dropped.
    drop_pending: bool = False
    #: With ``drop_pending``: the stored event and its change sequence (the
    #: write path reports no record when the write turns out to be a no-op).
    local_event_uid: str | None = None
    local_change_seq: int | None = None


@dataclass(frozen=True, slots=True)
class TombstoneFromRemote:
    """The provider says (or a complete listing proves) the event is gone."""

    remote_id: str
    event_uid: str


@dataclass(frozen=True, slots=True)
class RecordConflict:
    """Both sides changed the event since the last sync; ``winner`` is the policy's pick.

    ``remote`` is the remote version (None: the remote side deleted it). The
    loser is kept: a remote win writes through the store's write path, which
    logs the local version as ``previous``; a local win adds a ``conflict``
    change-log row holding the remote version.
    """

    event_uid: str
    winner: Literal["remote", "local"]
    remote: RemoteEvent | None


@dataclass(frozen=True, slots=True)
class KeepLocal:
    """The local version wins: adopt the remote's current etag so the push is
    not refused as stale, and keep the push pending. ``base``: the listed
    version's base (`calsync.sync.bases.listed`), now what the provider holds."""

    event_uid: str
    remote_id: str
    etag: str | None
    base: str | None


@dataclass(frozen=True, slots=True)
class RecreateRemote:
    """The remote side deleted an event whose local edit wins: push it as a create."""

    event_uid: str


@dataclass(frozen=True, slots=True)
class DropPendingPush:
    """Nothing left to push (e.g. both sides deleted the event)."""

    event_uid: str
    change_seq: int


@dataclass(frozen=True, slots=True)
class ForgetPushes:
    """A pull has seen the provider's version of the event: its recorded pushes
    up to ``up_to_seq`` (None: all of them) can no longer come back unseen."""

    event_uid: str
    up_to_seq: int | None = None


@dataclass(frozen=True, slots=True)
class AbortMassDelete:
    """The pull would delete too much: keep local data, store nothing, record why."""

    would_delete: int
    live: int
    reason: str


@dataclass(frozen=True, slots=True)
class AdvanceCursor:
    """Store the pull's cursor, in the same transaction as the data it covers."""

    cursor: str
    full_sync_completed: bool = False


Action = (
    UpsertFromRemote
    | TombstoneFromRemote
    | RecordConflict
    | KeepLocal
    | RecreateRemote
    | DropPendingPush
    | ForgetPushes
    | AbortMassDelete
    | AdvanceCursor
)
