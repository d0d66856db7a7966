"""``calendarView/delta`` of the fake Graph server (a mixin of `MicrosoftGraphFake`).

Behaviour, per https://learn.microsoft.com/en-us/graph/api/event-delta and
https://learn.microsoft.com/en-us/graph/delta-query-events:

- The first request of a round carries ``startDateTime``/``endDateTime``; the state
  tokens in ``@odata.nextLink`` (``$skiptoken``) and ``@odata.deltaLink``
  (``$deltatoken``) encode them, so later requests are the links verbatim. Strict
  reading: a link request that adds parameters gets 400.
- ``$select``, ``$expand``, ``$filter``, ``$orderby``, ``$search`` are not supported
  ("You cannot use $select ... doesn't support: $expand, $filter, $orderby, and
  $search"); ``$top`` neither (``Prefer: odata.maxpagesize`` sets the page size).
- "Each token reflects the state and represents a snapshot of the resource in that round"
  (https://learn.microsoft.com/en-us/graph/delta-query-overview#state-tokens): a round's
  pages are computed when the round starts; changes made meanwhile show up next round.
- "If an @odata.nextLink URL is returned, there are additional pages ... This is true even
  if the current response may contain an empty result": pages may be empty
  (`shape_pages`), and the first page of a full round is empty by default, as observed
  (https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/7790).
- Deletions come as ``{"id", "@removed": {"reason": "deleted"}}``; so do events
  *outside* the window that were added, changed or deleted since the previous call
  ("Filter the events under @removed for the date range that your scenario requires").
  Occurrences of a series only ever appear inside the window.
- "It's possible that a single entity will be contained multiple times in the response"
  (`repeat_items`).
- An expired token answers 410 with ``SyncStateNotFound`` as Outlook sends it
  (https://github.com/microsoftgraph/microsoft-graph-docs/issues/2350), or with another
  code such as ``resyncRequired`` (https://learn.microsoft.com/en-us/graph/errors).
"""

from __future__ import annotations

import gc
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.fakes._graph_render import RenderCache, RenderOptions, removed, render_instance_json
from tests.fakes._graph_store import FakeCalendar, Instance, item_instances, own_instances
from tests.fakes._graph_wire import (
    GRAPH_PREFIX,
    JSON_TYPE,
    GraphError,
    Reply,
    bad_request,
    parse_query_instant,
)

_RESET_MESSAGES = {
    "syncstatenotfound": "The sync state generation is not found; generation={n};[highest={m}].",
    "resyncrequired": "The delta token is no longer valid, and the app must reset the sync state.",
}


@dataclass
class DeltaState:
    """What a deltaLink remembers: the window, and what the client has been told."""

    calendar_id: str
    window: tuple[datetime, datetime]
    seq: int
    #: Top-level item id -> instance id -> the version the client has.
    seen: dict[str, dict[str, int]]


@dataclass
class Round:
    calendar_id: str
    path: str
    #: (instance, None) for an event, (None, id) for a removal.
    entries: list[tuple[Instance | None, str]]
    next_state: DeltaState
    full: bool


@dataclass
class Cursor:
    round: Round
    offset: int
    page: int


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic GC off while a round is worked out or a page rendered: a full round
    makes an `Instance` per occurrence (17,000 in the bench), whose allocation set off
    collections of everything the fake stores, ~0.1 s of the fake's CPU at times, on the
    cores the sync runs on (bench/graph_sync.py). Nothing here makes cycles."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class DeltaMixin:
    lock: threading.RLock
    calendars: dict[str, FakeCalendar]
    default_page_size: int
    empty_first_page: bool
    repeat_items: bool
    sync_reset_code: str
    _page_sizes: list[int] | None
    _last_seq: int
    _generation: int
    _render_cache: RenderCache

    if TYPE_CHECKING:

        @property
        def graph_endpoint(self) -> str: ...

        def _organizer(self) -> dict[str, Any]: ...

    def _init_delta(self) -> None:
        self._delta_states: dict[str, DeltaState] = {}
        self._cursors: dict[str, Cursor] = {}

    # -- test controls --------------------------------------------------------------------

    def shape_pages(self, sizes: list[int] | None) -> None:
        """Page sizes to cycle through within a round (capped by maxpagesize); 0 = empty page."""
        if sizes is not None and not any(n > 0 for n in sizes):
            raise ValueError("at least one page size must be positive")
        self._page_sizes = list(sizes) if sizes else None

    def expire_delta_tokens(self, code: str | None = None) -> None:
        """Every deltaLink and nextLink issued so far now answers 410 (``code`` as given)."""
        with self.lock:
            self._delta_states.clear()
            self._cursors.clear()
            self._generation += 7
            if code is not None:
                self.sync_reset_code = code

    # -- the endpoint ----------------------------------------------------------------------

    def _reset_error(self) -> GraphError:
        template = _RESET_MESSAGES.get(self.sync_reset_code.lower(), "The sync state is gone.")
        message = template.format(n=self._generation - 7, m=self._generation)
        return GraphError(410, self.sync_reset_code, message)

    def _delta(
        self, cal: FakeCalendar, path: str, query: dict[str, str], options: RenderOptions,
        prefer: dict[str, str],
    ) -> Reply:  # fmt: skip
        tokens = {
            k.lower(): v for k, v in query.items() if k.lower() in ("$skiptoken", "$deltatoken")
        }
        others = sorted(k for k in query if k.lower() not in ("$skiptoken", "$deltatoken"))
        if len(tokens) > 1:
            raise bad_request("Only one of $skiptoken and $deltatoken may be given.")
        if tokens and others:
            raise bad_request(
                f"fake (strict): {others} must not be sent with a state token; follow "
                "@odata.nextLink / @odata.deltaLink verbatim."
            )
        unsupported = [k for k in others if k not in ("startDateTime", "endDateTime")]
        if unsupported:
            raise bad_request(
                f"The query parameter {unsupported[0]} is not supported with change tracking "
                "over the 'CalendarView' resource.",
                "ErrorInvalidUrlQuery",
            )
        if "$skiptoken" in tokens:
            cursor = self._cursors.get(tokens["$skiptoken"])
            if cursor is None:
                raise self._reset_error()
        elif "$deltatoken" in tokens:
            state = self._delta_states.get(tokens["$deltatoken"])
            if state is None:
                raise self._reset_error()
            if state.calendar_id != cal.id:
                raise bad_request("The delta token was issued for another calendar.")
            with _collector_paused():
                cursor = Cursor(self._incremental_round(cal, state, path), 0, 0)
        else:
            start = parse_query_instant(query.get("startDateTime"), "StartDateTime")
            end = parse_query_instant(query.get("endDateTime"), "EndDateTime")
            if end <= start:
                raise bad_request(
                    "The parameter 'EndDateTime' must be later than 'StartDateTime'.",
                    "ErrorInvalidParameter",
                )
            with _collector_paused():
                cursor = Cursor(self._full_round(cal, (start, end), path), 0, 0)
        if cursor.round.calendar_id != cal.id:
            raise bad_request("The skip token was issued for another calendar.")
        with _collector_paused():
            return self._page(cursor, options, prefer)

    def _page_size(self, cursor: Cursor, prefer: dict[str, str]) -> int:
        limit = self.default_page_size
        if "odata.maxpagesize" in prefer:
            try:
                limit = int(prefer["odata.maxpagesize"])
            except ValueError:
                limit = 0
            if limit < 1:
                raise bad_request("Invalid odata.maxpagesize preference.")
        if cursor.round.full and cursor.page == 0 and self.empty_first_page:
            return 0
        if self._page_sizes:
            return min(limit, self._page_sizes[cursor.page % len(self._page_sizes)])
        return limit

    def _page(self, cursor: Cursor, options: RenderOptions, prefer: dict[str, str]) -> Reply:
        size = self._page_size(cursor, prefer)
        entries = cursor.round.entries
        batch = entries[cursor.offset : cursor.offset + size]
        organizer = self._organizer()
        # Serialised item by item (`render_instance_json`): a page is ~2 MB of JSON.
        value = [
            render_instance_json(instance, options, organizer, self._render_cache)
            if instance
            else json.dumps(removed(removed_id)).encode()
            for instance, removed_id in batch
        ]
        link = self.graph_endpoint + cursor.round.path.removeprefix(GRAPH_PREFIX)
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_endpoint}/$metadata#Collection(event)"
        }
        key = f"{secrets.token_urlsafe(48)}.{secrets.token_urlsafe(24)}"
        if cursor.offset + size < len(entries):
            self._cursors[key] = Cursor(cursor.round, cursor.offset + size, cursor.page + 1)
            body["@odata.nextLink"] = f"{link}?$skiptoken={key}"
        else:
            self._delta_states[key] = cursor.round.next_state
            body["@odata.deltaLink"] = f"{link}?$deltatoken={key}"
        # What json_reply would send with ``body["value"] = value``, spliced as bytes.
        payload = b"".join(
            (json.dumps(body)[:-1].encode(), b', "value": [', b", ".join(value), b"]}")
        )
        headers = {"Content-Type": JSON_TYPE, **self._preference_applied(prefer)}
        return 200, headers, payload

    @staticmethod
    def _preference_applied(prefer: dict[str, str]) -> dict[str, str]:
        applied = []
        if "odata.maxpagesize" in prefer:
            applied.append(f"odata.maxpagesize={prefer['odata.maxpagesize']}")
        if "outlook.timezone" in prefer:
            applied.append(f'outlook.timezone="{prefer["outlook.timezone"]}"')
        if "outlook.body-content-type" in prefer:
            applied.append(f'outlook.body-content-type="{prefer["outlook.body-content-type"]}"')
        return {"Preference-Applied": ", ".join(applied)} if applied else {}

    # -- rounds ------------------------------------------------------------------------------------

    def _with_repeats(
        self, entries: list[tuple[Instance | None, str]]
    ) -> list[tuple[Instance | None, str]]:
        return entries + [e for e in entries if e[0] is not None] if self.repeat_items else entries

    def _full_round(self, cal: FakeCalendar, window: tuple[datetime, datetime], path: str) -> Round:
        seen: dict[str, dict[str, int]] = {}
        instances: list[Instance] = []
        for item in cal.items.values():
            found = item_instances(item, *window)
            if found:
                seen[item.id] = {i.id: i.version for i in found}
                instances.extend(found)
        instances.sort(key=lambda i: (i.start, i.id))
        state = DeltaState(cal.id, window, self._last_seq, seen)
        entries: list[tuple[Instance | None, str]] = [(i, i.id) for i in instances]
        return Round(cal.id, path, self._with_repeats(entries), state, full=True)

    def _incremental_round(self, cal: FakeCalendar, state: DeltaState, path: str) -> Round:
        window_start, window_end = state.window
        seen = dict(state.seen)
        entries: list[tuple[Instance | None, str]] = []
        for top_id, seq in cal.touched.items():
            if seq <= state.seq:
                continue
            item = cal.items.get(top_id)
            current = item_instances(item, window_start, window_end) if item else []
            old = state.seen.get(top_id, {})
            current_ids = {i.id for i in current}
            entries.extend((i, i.id) for i in current if old.get(i.id) != i.version)
            entries.extend((None, gone) for gone in old if gone not in current_ids)
            if item is not None:
                owned = [i for i in own_instances(item) if i.version > state.seq]
            else:
                owned = list(cal.tombstones[top_id].instances)
            entries.extend(
                (None, i.id) for i in owned if i.id not in current_ids and i.id not in old
            )
            if current:
                seen[top_id] = {i.id: i.version for i in current}
            else:
                seen.pop(top_id, None)
        next_state = DeltaState(cal.id, state.window, self._last_seq, seen)
        return Round(cal.id, path, self._with_repeats(entries), next_state, full=False)
