"""The planner's inputs: a snapshot of one calendar's stored state and what a pull brought.

Both are plain frozen data, so `calsync.sync.planner.plan` stays a pure function
that hypothesis can drive without a store or a provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from calsync.model import RemoteEvent
from calsync.providers.base import PullPage, SyncWindow

ConflictPolicy = Literal["remote", "local"]
PendingOp = Literal["create", "update", "delete"]

#: Below this many live events the fraction guard does not apply: deleting 2 of
#: 3 events is an ordinary edit, not a sign of a broken listing.
MASS_DELETE_MIN_EVENTS = 4


@dataclass(frozen=True, slots=True)
class PushedVersion:
    """A push calsync recorded before making it (the push journal): the
    version's change sequence, the operation, and for a create or update the
    `calsync.model.round_trip_key` of the content sent."""

    seq: int
    op: PendingOp
    content_key: str | None = None


@dataclass(frozen=True, slots=True)
class EventState:
    """What the store knows about one event of the calendar (tombstones included)."""

    event_uid: str
    remote_id: str | None
    fingerprint: str
    etag: str | None = None
    managed: bool = False
    deleted: bool = False
    #: Set while a local (API) change waits to be pushed to the provider.
    pending_op: PendingOp | None = None
    #: The store's change sequence of this version (what `mark_pushed` compares).
    change_seq: int = 0
    #: For an override or instance of a series: its master's remote id.
    master_remote_id: str | None = None
    #: Pushed as a create whose echo no pull has listed yet (`calsync.sync.etags`);
    #: ``etag`` is then the one the create returned, if any.
    unconfirmed: bool = False
    #: The last version known to be on the provider, the one a pending local
    #: change was made on (`calsync.sync.bases`); None: unknown.
    base: str | None = None
    #: Our recorded pushes of this event that no pull has seen the outcome of
    #: yet, oldest first: what tells our own write coming back (whose answer
    #: may have been lost) from somebody else's edit.
    pushes: tuple[PushedVersion, ...] = ()
    #: Its stored UTC range (a master: its first occurrence), zone and rule lines:
    #: what tells whether a windowed listing covers it (`calsync.sync.spans`).
    #: None: unknown, so any complete listing covers it.
    start_at: datetime | None = None
    end_at: datetime | None = None
    all_day: bool = False
    tzid: str = "UTC"
    rules: tuple[str, ...] = ()

    @property
    def live(self) -> bool:
        return not self.deleted


@dataclass(frozen=True, slots=True)
class CalendarState:
    """The stored events the planner may need.

    ``complete``: every event of the calendar. An incremental pull is planned
    against a narrower state (`mentioned` says which events), since its rules
    only ever look at events the pull names, their series, pending pushes and
    unconfirmed creates; ``live`` then carries the calendar's live count for
    the mass-delete guard. A full listing needs the complete state.
    """

    events: tuple[EventState, ...] = ()
    complete: bool = True
    live: int | None = None

    def live_count(self) -> int:
        if self.live is not None:
            return self.live
        return sum(1 for e in self.events if e.live)


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    """The per-account knobs the planner obeys."""

    conflict: ConflictPolicy = "remote"
    max_delete_fraction: float = 0.5
    mass_delete_min_events: int = MASS_DELETE_MIN_EVENTS
    #: An operator's explicit "yes, delete them" (``calsync sync --once --allow-mass-delete``).
    allow_mass_delete: bool = False
    #: Incremental pulls report every event created after their cursor that
    #: still exists (Google, Graph, CalDAV sync-collection, memory all do),
    #: but may omit one created *and* deleted since. So an event we created
    #: (marked unconfirmed until its echo is pulled, see `etags`) that the next
    #: incremental pull does not mention is gone. Set for writable,
    #: incremental providers.
    expect_echoes: bool = False
    #: The provider lists a changed master together with all its overrides
    #: (`Capabilities.series_as_unit`, e.g. a CalDAV resource): a stored
    #: override of a listed master that the pull does not list was removed.
    series_as_unit: bool = False


def mentioned(pulled: Pulled) -> tuple[set[str], set[str]]:
    """``(remote_ids, event_uids)`` a pull names: what a narrow state must hold,
    besides pending pushes, unconfirmed creates and the series of all these."""
    remote_ids = {e.remote_id for e in pulled.changed} | set(pulled.deleted)
    remote_ids |= {e.master_remote_id for e in pulled.changed if e.master_remote_id is not None}
    event_uids = {e.origin_event_uid for e in pulled.changed if e.origin_event_uid is not None}
    return remote_ids, event_uids


@dataclass(frozen=True, slots=True)
class Pulled:
    """Every page of one pull, accumulated. Only a pull that reached its final page
    is planned: a pull that failed midway raised before that."""

    changed: tuple[RemoteEvent, ...] = ()
    deleted: tuple[str, ...] = ()
    cursor: str | None = None
    full_listing: bool = False
    unchanged: bool = False
    #: True when the pull ran without a cursor (a first sync or a reconcile).
    from_scratch: bool = False
    final: bool = False
    #: The final page's `PullPage.window`.
    window: SyncWindow | None = None
    #: Pages seen, for logs.
    pages: int = field(default=0, compare=False)

    @classmethod
    def from_pages(cls, pages: Iterable[PullPage], *, from_scratch: bool = False) -> Pulled:
        pulled = cls(from_scratch=from_scratch)
        for page in pages:
            pulled = pulled.add(page)
        return pulled

    def add(self, page: PullPage) -> Pulled:
        """This pull with one more page; the final page's flags and cursor win."""
        return Pulled(
            changed=self.changed + page.changed,
            deleted=self.deleted + page.deleted,
            cursor=page.cursor if page.final else None,
            full_listing=page.full_listing if page.final else False,
            unchanged=page.unchanged if page.final else False,
            from_scratch=self.from_scratch,
            final=page.final,
            window=page.window if page.final else None,
            pages=self.pages + 1,
        )


@dataclass(frozen=True, slots=True)
class ListingEnd:
    """What the pages of a listing planned one by one added up to
    (`calsync.sync.planner.plan_listing_end`)."""

    #: Every remote id the pages listed, and every one they named deleted.
    listed: frozenset[str]
    deleted: frozenset[str]
    #: The final page's flags and cursor.
    full_listing: bool
    cursor: str | None
    #: The calendar's live events before the first page was applied.
    live_before: int
    #: Tombstones the pages' plans asked for.
    tombstoned: int
    #: The final page's `PullPage.window`.
    window: SyncWindow | None = None
