"""Storing a listing pulled from scratch page by page, inside one write transaction.

A first sync (or a reconcile after an expired cursor) lists the whole calendar.
Accumulating it before planning kept every `RemoteEvent`, every written row and
its record alive at once (~200 MiB at 10k events). Here each page is planned
(`plan_page`) and applied as it arrives and then dropped; only the set of listed
remote ids is kept, for the end (`plan_listing_end`): a complete listing's
absences, the mass-delete guard over the whole pull, and the cursor, all in the
same transaction as the data. If the guard aborts, `ListingAborted` is raised
so the caller's unit of work rolls every page back: nothing is stored.

Rules that relate events across pages still hold at the end: a complete
listing's absence rule sees everything stored and not listed. Only their
bookkeeping can differ from planning the listing whole (e.g. an event one page
lists and a later page names deleted is stored, then tombstoned).
"""

from __future__ import annotations

from collections.abc import Iterable

from calsync.errors import TransientProviderError
from calsync.providers.base import PullPage
from calsync.store import UnitOfWork
from calsync.sync.actions import AbortMassDelete, TombstoneFromRemote
from calsync.sync.apply import ApplyResult, apply_plan, load_state
from calsync.sync.planner import plan_listing_end, plan_page
from calsync.sync.state import ListingEnd, Pulled, SyncPolicy


class ListingAborted(Exception):
    """The mass-delete guard refused the listing: roll the transaction back."""

    def __init__(self, abort: AbortMassDelete) -> None:
        super().__init__(abort.reason)
        self.abort = abort


def store_listing(
    uow: UnitOfWork, calendar_pk: int, pages: Iterable[PullPage], policy: SyncPolicy
) -> tuple[ApplyResult, Pulled]:
    """Plan and apply each page, then the listing's end. Returns what was applied
    and the pull's flags (a `Pulled` without its events). Raises `ListingAborted`
    (store nothing) and `TransientProviderError` (no final page)."""
    live_before = uow.events.count_live(calendar_pk)
    listed: set[str] = set()
    deleted: set[str] = set()
    tombstoned = 0
    result = ApplyResult()
    flags = Pulled(from_scratch=True)
    for page in pages:
        flags = flags.add(
            PullPage(
                final=page.final,
                cursor=page.cursor,
                full_listing=page.full_listing,
                unchanged=page.unchanged,
            )
        )
        narrow = Pulled(changed=page.changed, deleted=page.deleted, from_scratch=True)
        actions = plan_page(load_state(uow, calendar_pk, narrow), page, policy)
        tombstoned += sum(isinstance(a, TombstoneFromRemote) for a in actions)
        _merge(result, apply_plan(uow, calendar_pk, actions))
        listed.update(event.remote_id for event in page.changed)
        deleted.update(page.deleted)
        if page.final:
            break
    if not flags.final:
        raise TransientProviderError("the provider's listing ended without its final page")
    end = ListingEnd(
        listed=frozenset(listed),
        deleted=frozenset(deleted),
        full_listing=flags.full_listing,
        cursor=flags.cursor,
        live_before=live_before,
        tombstoned=tombstoned,
    )
    # The absence rule needs the whole calendar; only a complete listing has one.
    state = load_state(uow, calendar_pk, None if flags.full_listing else flags)
    applied = apply_plan(uow, calendar_pk, plan_listing_end(state, end, policy))
    if applied.aborted is not None:
        raise ListingAborted(applied.aborted)
    _merge(result, applied)
    return result, flags


def _merge(into: ApplyResult, more: ApplyResult) -> None:
    into.upserted += more.upserted
    into.tombstoned += more.tombstoned
    into.conflicts.extend(more.conflicts)
    into.cursor_advanced |= more.cursor_advanced
