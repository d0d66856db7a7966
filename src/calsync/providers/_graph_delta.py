"""Pulling one calendar through ``calendarView/delta`` (https://learn.microsoft.com/en-us/graph/delta-query-events).

The cursor (`_graph_cursor`) is JSON: the whole ``@odata.deltaLink`` (followed
verbatim, as are ``@odata.nextLink``s), the window the round was started with, in
whole UTC days, and the series membership of the instances listed. A delta round
is bound to its window, so when the engine's window has moved on by a day, the
pull starts a new round for the new window and reports what it lists as changes
(nothing that merely left the window is deleted), then drains the old link for
the deletions it still owes.

calendarView lists instances, never series masters: single events, occurrences
and exceptions. A series becomes the store's master (fetched once per pull, in
bulk by `_graph_masters`, cached per process by etag, which its occurrences
share) plus its exceptions as overrides; occurrences themselves are not stored.
Which master an instance id belongs to is kept in the cursor (and
`CalendarMemory` while a pull runs), because a removed occurrence comes as a bare id:

- ``@removed`` of a known occurrence or exception: its master is fetched; gone
  -> the series is deleted; else the instance is fetched: gone -> a cancelled
  override (EXDATE equivalent), else it moved out of the window (listed as is).
- ``@removed`` of another id: fetched; 404 -> deleted; found -> it moved out of
  the window (Graph reports changes outside the window as removals), listed as is.
- An unknown id that is gone, with a cursor that carries no membership (written
  by an older calsync) in a process that has not listed the calendar in full
  yet, may be an occurrence of a series it cannot name: the pull answers
  `CursorExpired`, and the engine reconciles with a full listing (through the
  mass-delete guard). The same happens on 410 ``syncStateNotFound`` or
  ``resyncRequired`` (codes compared case-insensitively).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.errors import CursorExpired, ProviderError
from calsync.model import RemoteEvent
from calsync.providers._graph_convert import (
    cancelled_override,
    parse_offset_time,
    to_remote_event,
)
from calsync.providers._graph_cursor import Membership, dump_cursor, instance_key, load_cursor
from calsync.providers._graph_http import GraphApiError, GraphClient
from calsync.providers._graph_masters import MASTER_QUERY, etag_of, fetch_masters, list_masters
from calsync.providers._graph_recurrence import starts_between
from calsync.providers.base import PullPage, SyncWindow

RESET_CODES = frozenset({"syncstatenotfound", "resyncrequired"})


@dataclass
class CalendarMemory:
    """What one process knows about one calendar's series (see the module docstring)."""

    #: `instance_key` of an occurrence or exception -> (master id, original start).
    #: Written into every cursor and read back from it (`_graph_cursor`).
    instances: Membership = field(default_factory=dict)
    #: Master id -> (etag, the master as listed).
    masters: dict[str, tuple[str | None, RemoteEvent]] = field(default_factory=dict)
    #: ``instances`` covers every instance listed since a full round (one ran in this
    #: process, or the cursor carried its membership).
    complete: bool = False


_memories: dict[tuple[str, str], CalendarMemory] = {}
_memories_lock = threading.Lock()


def memory_for(account_key: str, calendar_id: str) -> CalendarMemory:
    with _memories_lock:
        return _memories.setdefault((account_key, calendar_id), CalendarMemory())


def round_window(window: SyncWindow) -> tuple[datetime, datetime]:
    """The window in whole UTC days, so a round is restarted once a day, not every pass."""
    start = datetime.combine(window.start.astimezone(UTC).date(), time(), tzinfo=UTC)
    end_day = window.end.astimezone(UTC).date()
    end = datetime.combine(end_day, time(), tzinfo=UTC)
    if end < window.end:
        end += timedelta(days=1)
    return start, end


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_reset(exc: GraphApiError) -> bool:
    return exc.status == 410 or exc.code.lower() in RESET_CODES


class DeltaPull:
    def __init__(self, client: GraphClient, calendar_id: str, memory: CalendarMemory) -> None:
        self.client = client
        self.calendar_id = calendar_id
        self.memory = memory
        self.path = f"/me/calendars/{calendar_id}/calendarView/delta"
        #: Master id -> the etag of the version this pull emitted.
        self._emitted: dict[str, str | None] = {}
        #: Masters fetched in this pull (new, or changed since the process last saw them).
        self._refetched: set[str] = set()
        #: Master id -> original starts listed in this round (occurrences and exceptions).
        self._listed_originals: dict[str, set[date | datetime]] = {}
        #: Masters whose occurrences this pull listed: a changed (or new) series, all of
        #: whose occurrences in the window come in the same round.
        self._occurrence_masters: set[str] = set()
        #: Full rounds list the calendar's masters in bulk (`_graph_masters`), once a pull.
        self._list_masters = False
        self._listed_masters: dict[str, dict[str, Any]] | None = None
        #: Masters found deleted in this pull (not asked for again).
        self._gone: set[str] = set()

    # -- requests ---------------------------------------------------------------------

    def _get(self, link: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            return self.client.json("GET", link, "calendarView/delta", params=params)
        except GraphApiError as exc:
            if _is_reset(exc):
                raise CursorExpired(exc.message) from exc
            raise

    def _start(self, window: tuple[datetime, datetime]) -> dict[str, Any]:
        params = {"startDateTime": _stamp(window[0]), "endDateTime": _stamp(window[1])}
        return self._get(self.path, params)

    def _rounds(self, first: dict[str, Any], *, ahead: bool = False) -> Iterator[dict[str, Any]]:
        """The round's pages from its first. ``ahead`` (full rounds, where each page is
        stored before the next is wanted): the next page is asked for meanwhile
        (`GraphClient.pages_ahead`)."""
        if not ahead:
            page = first
            while True:
                yield page
                link = page.get("@odata.nextLink")
                if not link:
                    return
                page = self._get(str(link))
        try:
            yield from self.client.pages_ahead(first, "calendarView/delta")
        except GraphApiError as exc:
            if _is_reset(exc):
                raise CursorExpired(exc.message) from exc
            raise

    def _event(self, event_id: str, query: dict[str, str] | None = None) -> dict[str, Any] | None:
        try:
            return self.client.json("GET", f"/me/events/{event_id}", "get event", params=query)
        except GraphApiError as exc:
            if exc.status in (404, 410):
                return None
            raise

    # -- full rounds ------------------------------------------------------------------------

    def full(self, window: SyncWindow) -> Iterator[PullPage]:
        self._list_masters = True
        bounds = round_window(window)
        first = self._start(bounds)  # fetched now: failures raise before any page
        return self._full_pages(first, bounds)

    def _full_pages(
        self, first: dict[str, Any], bounds: tuple[datetime, datetime]
    ) -> Iterator[PullPage]:
        self.memory.instances.clear()
        self.memory.complete = False  # until this round's last page: it may fail midway
        for page in self._rounds(first, ahead=True):
            changed = self._listed(page.get("value") or ())
            if page.get("@odata.nextLink"):
                yield PullPage(changed=tuple(changed))
                continue
            link = page.get("@odata.deltaLink")
            if not link:
                raise ProviderError("Graph's last delta page carried no @odata.deltaLink")
            self.memory.complete = True
            changed += self._cancellations(bounds)
            yield PullPage(
                changed=tuple(changed),
                final=True,
                cursor=dump_cursor(str(link), bounds, self._membership()),
                full_listing=True,
                # calendarView lists what overlaps the round's window, nothing else.
                window=SyncWindow(*bounds),
            )

    # -- incremental rounds --------------------------------------------------------------------

    def incremental(self, cursor: str, window: SyncWindow) -> Iterator[PullPage]:
        stored = load_cursor(cursor)
        link, old_bounds = stored.link, stored.bounds
        if stored.instances is not None:
            # The cursor is what the store committed: newer than this process's memory
            # when another process synced the calendar since, and there after a restart.
            self.memory.instances = dict(stored.instances)
            self.memory.complete = True
        bounds = round_window(window)
        changed: list[RemoteEvent] = []
        removed: list[str] = []
        if bounds != old_bounds:
            # The window moved: a new round for it, then what the old link still owes.
            fresh = list(self._rounds(self._start(bounds)))
            changed += self._listed([i for page in fresh for i in page.get("value") or ()])
            new_link = fresh[-1].get("@odata.deltaLink")
            old_pages = list(self._rounds(self._get(link)))
        else:
            old_pages = list(self._rounds(self._get(link)))
            new_link = old_pages[-1].get("@odata.deltaLink")
        items = [i for page in old_pages for i in page.get("value") or ()]
        removed += [str(i["id"]) for i in items if "@removed" in i and i.get("id")]
        changed += self._listed([i for i in items if "@removed" not in i])
        if not new_link:
            raise ProviderError("Graph's last delta page carried no @odata.deltaLink")
        listed = {e.remote_id for e in changed}
        extra, deleted = self._resolve([r for r in dict.fromkeys(removed) if r not in listed])
        # A series created or changed since the cursor may already miss occurrences that
        # were cancelled before this round (they are never reported as removed).
        changed_series = (self._occurrence_masters | self._refetched) - set(deleted)
        extra += self._cancellations(bounds, masters=changed_series, confirm=True)
        return iter(
            [
                PullPage(
                    changed=tuple(changed + extra),
                    deleted=tuple(deleted),
                    final=True,
                    cursor=dump_cursor(str(new_link), bounds, self._membership()),
                )
            ]
        )

    def _membership(self) -> Membership | None:
        """What the next cursor carries: the membership only when it is whole."""
        return self.memory.instances if self.memory.complete else None

    # -- instances -> masters and overrides -----------------------------------------------------

    def _listed(self, items: Any) -> list[RemoteEvent]:
        """Singles and exceptions as they come, with each series' master before them.

        A round lists a series' instances in no set order: an exception may come
        before the occurrences whose etag says the master changed (moved, renamed).
        So the master is fetched with the newest etag any instance of the batch
        carries before anything of it is emitted, and emitted again when a later
        batch brings a newer one: a stale master would hide the round's
        cancellations (issue #13)."""
        etags = _batch_etags(items)
        self._prefetch_masters(etags)
        events: list[RemoteEvent] = []
        for item in items:
            if "@removed" in item:
                continue
            kind = item.get("type")
            if kind == "singleInstance":
                events.append(to_remote_event(item))
                continue
            master_id = item.get("seriesMasterId") if kind != "seriesMaster" else item.get("id")
            if not isinstance(master_id, str):
                continue
            master = self._master(master_id, etags.get(master_id))
            if master is None:
                continue  # deleted meanwhile; the next round says so
            if self._emitted.get(master_id, _NOTHING) != master.etag:
                self._emitted[master_id] = master.etag
                events.append(master)
            if kind in ("occurrence", "exception") and isinstance(item.get("originalStart"), str):
                original = parse_offset_time(item["originalStart"])
                key: date | datetime = original
                if master.content.all_day:
                    key = original.date()
                self.memory.instances[instance_key(str(item["id"]))] = (master_id, key)
                self._listed_originals.setdefault(master_id, set()).add(key)
                if kind == "occurrence":
                    self._occurrence_masters.add(master_id)
                if item.get("isCancelled") is True:
                    # An organizer cancelled it: an attendee's calendar keeps listing it
                    # ("Canceled: ...") until removed. The series' EXDATE equivalent.
                    events.append(cancelled_override(str(item["id"]), master_id, key))
                    continue
            if kind == "exception":
                events.append(to_remote_event(item, master_zone=_zone_label(master)))
        return events

    def _prefetch_masters(self, etags: dict[str, str | None]) -> None:
        """Fetch the batch's unknown or changed masters in bulk (`_graph_masters`): from
        the calendar's listing of masters in a full round, else 20 to a ``$batch``."""
        wanted: dict[str, str | None] = {}
        for master_id, etag in etags.items():
            if master_id in self._gone:
                continue
            cached = self.memory.masters.get(master_id)
            if cached is None or (etag is not None and cached[0] != etag):
                wanted[master_id] = etag
        if not wanted:
            return
        if self._list_masters and self._listed_masters is None:
            self._listed_masters = list_masters(self.client, self.calendar_id) or {}
        missing: list[str] = []
        for master_id, etag in wanted.items():
            raw = (self._listed_masters or {}).get(master_id)
            if raw is not None and (etag is None or etag_of(raw) == etag):
                self._keep_master(master_id, raw)
            else:
                missing.append(master_id)
        if len(missing) < 2:
            return  # one is fetched on its own by `_master`
        for master_id, found in fetch_masters(self.client, missing).items():
            if found is None:
                self.memory.masters.pop(master_id, None)
                self._gone.add(master_id)
            else:
                self._keep_master(master_id, found)

    def _keep_master(self, master_id: str, raw: dict[str, Any]) -> RemoteEvent:
        master = to_remote_event(raw)
        self.memory.masters[master_id] = (master.etag, master)
        self._refetched.add(master_id)
        return master

    def _still_occurs(self, master_id: str, original: date | datetime) -> bool:
        """Whether the series (as now fetched) still has an occurrence at ``original``."""
        cached = self.memory.masters.get(master_id)
        if cached is None or not cached[1].content.recurrence:
            return False
        content = cached[1].content
        if isinstance(original, datetime):
            low, high = original - timedelta(minutes=1), original + timedelta(minutes=1)
        else:
            low = datetime.combine(original, time(), tzinfo=UTC)
            high = low + timedelta(days=1)
        try:
            found = starts_between(
                content.recurrence, content.start, _zone(content.tzid), low, high
            )
        except (ValueError, TypeError):
            return True  # unreadable: let Graph's answer for the instance decide
        return original in found

    def _cancellations(
        self,
        bounds: tuple[datetime, datetime],
        *,
        masters: set[str] | None = None,
        confirm: bool = False,
    ) -> list[RemoteEvent]:
        """Occurrences a round did not list, of the series it listed: cancelled.

        A cancelled occurrence is simply absent from calendarView, so the series'
        rule names it and Graph does not. Only occurrences a day clear of the
        window's edges are judged (an edge occurrence may overlap it or not).
        ``confirm`` (incremental rounds, which need not list an unchanged exception):
        what seems missing is checked against the series' ``instances`` first.
        """
        first, last = bounds[0] + timedelta(days=1), bounds[1] - timedelta(days=1)
        found: list[RemoteEvent] = []
        for master_id, listed in self._listed_originals.items():
            if masters is not None and master_id not in masters:
                continue
            cached = self.memory.masters.get(master_id)
            if cached is None or not cached[1].content.recurrence:
                continue
            content = cached[1].content
            try:
                expected = starts_between(
                    content.recurrence, content.start, _zone(content.tzid), first, last
                )
            except (ValueError, TypeError):
                continue  # a rule dateutil cannot read: nothing is judged cancelled
            missing = [o for o in expected if o not in listed]
            if missing and confirm:
                live = self._instance_originals(master_id, bounds, content.all_day)
                missing = [o for o in missing if o not in live]
            for original in missing:
                stamp = (
                    original.strftime("%Y%m%dT%H%M%SZ")
                    if isinstance(original, datetime)
                    else original.strftime("%Y%m%d")
                )
                remote_id = f"{master_id}/cancelled/{stamp}"
                found.append(cancelled_override(remote_id, master_id, original))
        return found

    def _instance_originals(
        self, master_id: str, bounds: tuple[datetime, datetime], all_day: bool
    ) -> set[date | datetime]:
        """Original starts of the series' live occurrences and exceptions in the window."""
        params = {
            "startDateTime": _stamp(bounds[0]),
            "endDateTime": _stamp(bounds[1]),
            "$top": "1000",
        }
        found: set[date | datetime] = set()
        path = f"/me/events/{master_id}/instances"
        for page in self.client.pages(path, "list instances", params=params):
            for item in page.get("value") or ():
                if isinstance(item.get("originalStart"), str):
                    original = parse_offset_time(item["originalStart"])
                    found.add(original.date() if all_day else original)
        return found

    def _master(self, master_id: str, etag: str | None) -> RemoteEvent | None:
        if master_id in self._gone:
            return None
        cached = self.memory.masters.get(master_id)
        if cached is not None and (etag is None or cached[0] == etag):
            return cached[1]
        found = self._event(master_id, MASTER_QUERY)
        if found is None:
            self.memory.masters.pop(master_id, None)
            self._gone.add(master_id)
            return None
        return self._keep_master(master_id, found)

    def _resolve(self, removed: list[str]) -> tuple[list[RemoteEvent], list[str]]:
        """Removed ids -> (events to list again, ids that are gone)."""
        changed: list[RemoteEvent] = []
        deleted: list[str] = []
        masters_gone: set[str] = set()
        for remote_id in removed:
            known = self.memory.instances.get(instance_key(remote_id))
            if known is not None:
                master_id, original = known
                if master_id in masters_gone:
                    continue
                if self._event(master_id) is None:
                    masters_gone.add(master_id)
                    self.memory.masters.pop(master_id, None)
                    deleted.append(master_id)
                    continue
                if master_id in self._refetched and not self._still_occurs(master_id, original):
                    # The series was rebuilt (a new start or rule): its old instances went
                    # with the old shape. Not cancellations.
                    deleted.append(remote_id)
                    continue
            found = self._event(remote_id)
            if found is not None:
                # It moved out of the window (or changed there): listed, not deleted.
                changed += self._listed([found])
            elif known is not None:
                changed.append(cancelled_override(remote_id, known[0], known[1]))
                self.memory.instances.pop(instance_key(remote_id), None)
            elif self.memory.complete:
                deleted.append(remote_id)
            else:
                raise CursorExpired(
                    f"calendar {self.calendar_id!r}: a removal this process cannot place "
                    "(it has not listed the calendar yet); reconciling"
                )
        for gone in masters_gone:
            for instance, (master_id, _) in list(self.memory.instances.items()):
                if master_id == gone:
                    del self.memory.instances[instance]
        return changed, deleted


_NOTHING = object()


def _batch_etags(items: Any) -> dict[str, str | None]:
    """Master id -> the etag the batch's occurrences (which share their master's) carry;
    None for a series the batch lists only exceptions of (their etags are their own)."""
    etags: dict[str, str | None] = {}
    for item in items:
        kind = item.get("type")
        if "@removed" in item or kind not in ("occurrence", "exception", "seriesMaster"):
            continue
        master_id = item.get("id") if kind == "seriesMaster" else item.get("seriesMasterId")
        if not isinstance(master_id, str):
            continue
        etag = item.get("@odata.etag") if kind != "exception" else None
        if etag is not None or master_id not in etags:
            etags[master_id] = etag
    return etags


def _zone(tzid: str) -> ZoneInfo:
    try:
        return ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Etc/UTC")


def _zone_label(master: RemoteEvent) -> str:
    return master.content.tzid
