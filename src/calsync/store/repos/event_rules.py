"""The write path's per-change rules: what a change does to a stored state.

Split from `calsync.store.repos.events` (the batch machinery) by concern.
``state`` is a light row or an entity: anything with the compared attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calsync.model import EventContent
from calsync.store.records import WriteOutcome

API = "api"
SYNC = "sync"


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    content: EventContent | None  # None: delete (tombstone)
    source: str
    event_id: str | None = None
    managed: bool = False
    event_uid: str | None = None
    remote_id: str | None = None
    ical_uid: str | None = None
    etag: str | None = None
    remote_updated: datetime | None = None
    master_remote_id: str | None = None


def decide(state: Any, change: Change, fingerprint: str | None) -> WriteOutcome:
    """What a change does to a stored state (``None``: nothing stored)."""
    if change.content is None:
        if state is None:
            return WriteOutcome.MISSING
        return WriteOutcome.UNCHANGED if state.deleted else WriteOutcome.DELETED
    if state is None:
        return WriteOutcome.CREATED
    if state.fingerprint == fingerprint and not state.deleted:
        return WriteOutcome.UNCHANGED
    return WriteOutcome.UPDATED


def needs_row(state: Any, change: Change, fingerprint: str | None) -> bool:
    """Whether the full row must be loaded: to change it, or to store moved version tags."""
    decision = decide(state, change, fingerprint)
    if decision is WriteOutcome.UNCHANGED:
        if change.content is None:
            return False
        # A sync write also records the listed version as the base (rows
        # stored before that column existed, or whose last push was recorded
        # as the content sent: `Event.base_fingerprint`).
        rebased = change.source == SYNC and state.base_fingerprint != fingerprint
        return rebased or meta_differs(state, change)
    return decision is not WriteOutcome.MISSING


def meta_differs(state: Any, change: Change) -> bool:
    return any(
        value is not None and getattr(state, name) != value
        for name, value in (
            ("remote_id", change.remote_id),
            ("ical_uid", change.ical_uid),
            ("etag", change.etag),
            ("remote_updated", change.remote_updated),
        )
    )


def set_meta(row: Any, meta: dict[str, Any]) -> None:
    for name, value in meta.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)


def on_remote(row: Any) -> bool:
    """Whether, as far as calsync knows, the provider holds this stored event:
    it has a remote id, and is neither waiting to be created there (again)
    nor deleted with nothing left to push."""
    if row is None or row.remote_id is None:
        return False
    if row.push_state == "pending":
        return bool(row.pending_op != "create")
    return not row.deleted


def set_push_state(row: Any, change: Change, *, was_on_remote: bool) -> None:
    """``was_on_remote``: `on_remote` of the row before this change."""
    if change.source == API:
        if change.content is not None:
            # An event deleted there (by us or by the provider) and written
            # again here goes back as a new event, not as an update of a
            # remote event that no longer exists.
            row.push_state = "pending"
            row.pending_op = "update" if was_on_remote else "create"
        elif was_on_remote:
            row.push_state, row.pending_op = "pending", "delete"
        else:  # never reached the provider: nothing to undo there
            row.push_state, row.pending_op = "none", None
    elif change.content is None:  # the provider says it is gone: nothing left to push
        row.push_state, row.pending_op = "none", None
