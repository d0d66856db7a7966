"""Storing a listing pulled from scratch: one short write transaction per page.

A first sync (or a reconcile after an expired cursor) lists the whole calendar.
Holding one write transaction across that listing kept memory bounded but held
SQLite's only write lock for the whole pull (minutes for a large calendar), so
every API write waited and failed with 503 after 30 s. Here each page is
planned (`plan_page`) and committed in a transaction of its own, and then
dropped; only the sets of listed and deleted remote ids are kept for the end.

The cursor is still stored only with complete data: it is written by the last
transaction (`plan_listing_end`), after every page has committed, together with
the listing's deletions (what pages named deleted, and what a complete listing
omitted) and the mass-delete guard over all of them. A pull that fails midway
(a provider error, a crash, a lost lease) leaves the pages it committed and no
cursor: the next pass lists from scratch again and finds them unchanged (same
fingerprints: no writes, no notifications). Staging the pages and swapping them
in with the cursor was the other option; it writes every event twice and the
swap is again one long transaction, so it was not taken.

What a committed page holds is remote content the provider listed, so keeping
it is never wrong. Deletions are what the guard exists for: they are all
deferred to the last transaction, so a guard abort (`ListingAborted`) rolls
back every deletion of the pull and stores no cursor, while the listed events
stay stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from calsync.errors import TransientProviderError
from calsync.providers.base import PullPage
from calsync.store import UnitOfWork
from calsync.sync.actions import AbortMassDelete, TombstoneFromRemote
from calsync.sync.apply import ApplyResult, apply_plan, load_state
from calsync.sync.planner import plan_listing_end, plan_page
from calsync.sync.state import ListingEnd, Pulled, SyncPolicy

#: Opens one write transaction (the engine's: fenced by the calendar's lease).
WriteFn = Callable[[], AbstractContextManager[UnitOfWork]]
#: Runs in the last transaction, after the cursor is written (status, milestones).
FinishFn = Callable[[UnitOfWork, Pulled], None]


class ListingAborted(Exception):
    """The mass-delete guard refused the listing's deletions: nothing deleted, no cursor."""

    def __init__(self, abort: AbortMassDelete) -> None:
        super().__init__(abort.reason)
        self.abort = abort


def store_listing(
    write: WriteFn,
    calendar_pk: int,
    pages: Iterable[PullPage],
    policy: SyncPolicy,
    finish: FinishFn,
    *,
    live_before: int,
) -> tuple[ApplyResult, Pulled]:
    """Commit each page's upserts, then deletions, guard and cursor together.

    Returns what was applied and the pull's flags (a `Pulled` without its
    events). Raises `ListingAborted` (no deletion, no cursor) and
    `TransientProviderError` (no final page: no deletion, no cursor).
    ``live_before``: the calendar's live events before the pull (the guard's base).
    """
    listed: set[str] = set()
    deleted: set[str] = set()
    result = ApplyResult()
    flags = Pulled(from_scratch=True)
    for page in pages:
        flags = flags.add(
            PullPage(
                final=page.final,
                cursor=page.cursor,
                full_listing=page.full_listing,
                unchanged=page.unchanged,
                window=page.window,
            )
        )
        if page.changed:
            upserts = Pulled(changed=page.changed, from_scratch=True)
            with write() as uow:
                actions = plan_page(load_state(uow, calendar_pk, upserts), page_of(page), policy)
                _merge(result, apply_plan(uow, calendar_pk, actions))
        # The later word wins: listed after being named deleted, or the reverse.
        page_listed = {event.remote_id for event in page.changed}
        listed |= page_listed
        deleted = (deleted - page_listed) | set(page.deleted)
        if page.final:
            break
    if not flags.final:
        raise TransientProviderError("the provider's listing ended without its final page")
    with write() as uow:
        tombstoned = 0
        if deleted:
            gone = Pulled(deleted=tuple(sorted(deleted)), from_scratch=True)
            actions = plan_page(
                load_state(uow, calendar_pk, gone), PullPage(deleted=gone.deleted), policy
            )
            tombstoned = sum(isinstance(a, TombstoneFromRemote) for a in actions)
            _merge(result, apply_plan(uow, calendar_pk, actions))
        end = ListingEnd(
            listed=frozenset(listed),
            deleted=frozenset(deleted),
            full_listing=flags.full_listing,
            cursor=flags.cursor,
            live_before=live_before,
            tombstoned=tombstoned,
            window=flags.window,
        )
        # The absence rule needs the whole calendar; only a complete listing has one.
        state = load_state(uow, calendar_pk, None if flags.full_listing else flags)
        applied = apply_plan(uow, calendar_pk, plan_listing_end(state, end, policy))
        if applied.aborted is not None:
            raise ListingAborted(applied.aborted)  # rolls this transaction back
        _merge(result, applied)
        finish(uow, flags)
    return result, flags


def page_of(page: PullPage) -> PullPage:
    """The page's listed events only: its deletions wait for the last transaction."""
    return PullPage(changed=page.changed)


def _merge(into: ApplyResult, more: ApplyResult) -> None:
    into.upserted += more.upserted
    into.tombstoned += more.tombstoned
    into.conflicts.extend(more.conflicts)
    into.cursor_advanced |= more.cursor_advanced
