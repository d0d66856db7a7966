"""The end of a complete listing planned page by page, as the planner tests build it."""

from __future__ import annotations

from collections.abc import Iterable

from calsync.providers.base import SyncWindow
from calsync.sync import CalendarState
from calsync.sync.state import ListingEnd


def complete_end(
    state: CalendarState,
    listed: Iterable[str],
    *,
    live_before: int | None = None,
    window: SyncWindow | None = None,
) -> ListingEnd:
    """What `calsync.sync.paged` hands `plan_listing_end` after a complete listing of
    ``listed`` (remote ids) that tombstoned nothing on its way, cursor ``"c"``."""
    return ListingEnd(
        listed=frozenset(listed),
        deleted=frozenset(),
        full_listing=True,
        cursor="c",
        live_before=state.live_count() if live_before is None else live_before,
        tombstoned=0,
        window=window,
    )
