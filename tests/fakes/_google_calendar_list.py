"""calendarList of the fake Google server (a mixin of `GoogleCalendarFake`).

Google's incremental sync for the list: the last page carries
``nextSyncToken``; a request with ``syncToken`` returns only the entries
changed since, deleted ones as ``{"id", "deleted": true}``; an expired token
gets 410 ``fullSyncRequired``. Beside ``syncToken`` Google refuses
``minAccessRole`` and ``showDeleted``/``showHidden`` set to false (400).
Page tokens are bound to the first page's parameters.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from typing import Any

from tests.fakes._google_wire import (
    FakeCalendar,
    GoogleError,
    Reply,
    _json,
    _max_results,
    decode_page_token,
    encode_page_token,
    new_event_id,
)

_NOT_WITH_SYNC_TOKEN = "{name} cannot be used with syncToken."


class CalendarListMixin:
    calendars: dict[str, FakeCalendar]
    lock: threading.RLock
    _etags: itertools.count[int]
    _list_seq: itertools.count[int]
    _list_last_seq: int
    _calendar_list_tokens: dict[str, int]
    _calendar_list_pages: dict[str, tuple[list[str], int]]
    _calendar_list_known: dict[str, FakeCalendar]

    # -- test controls --------------------------------------------------------------

    def add_calendar(
        self,
        summary: str,
        *,
        calendar_id: str | None = None,
        time_zone: str = "Europe/Berlin",
        primary: bool = False,
        access_role: str = "owner",
    ) -> str:
        with self.lock:
            cid = calendar_id or f"{new_event_id()[:16]}@group.calendar.google.com"
            calendar = FakeCalendar(cid, summary, time_zone, access_role, primary)
            self.calendars[cid] = calendar
            self._touch_calendar(calendar)
            return cid

    def rename_calendar(self, calendar_id: str, summary: str) -> None:
        with self.lock:
            calendar = self.calendars[calendar_id]
            calendar.summary = summary
            self._touch_calendar(calendar)

    def remove_calendar(self, calendar_id: str) -> None:
        """Unsubscribe: the entry leaves the list (a deletion in incremental lists)."""
        with self.lock:
            calendar = self.calendars[calendar_id]
            calendar.deleted = True
            self._touch_calendar(calendar)

    def expire_calendar_list_sync_tokens(self) -> None:
        with self.lock:
            self._calendar_list_tokens.clear()

    def _touch_calendar(self, calendar: FakeCalendar) -> None:
        self._list_last_seq = next(self._list_seq)
        calendar.list_seq = self._list_last_seq
        calendar.list_etag = f'"{next(self._etags)}"'

    # -- calendarList.list ------------------------------------------------------------

    def _calendar_list(self, query: dict[str, str]) -> Reply:
        size = min(_max_results(query, 100), 250)
        sync_token = query.get("syncToken")
        if sync_token is not None:
            if "minAccessRole" in query:
                raise GoogleError(400, "invalid", _NOT_WITH_SYNC_TOKEN.format(name="minAccessRole"))
            for name in ("showDeleted", "showHidden"):
                if query.get(name) == "false":
                    raise GoogleError(
                        400, "invalid", _NOT_WITH_SYNC_TOKEN.format(name=f"{name}=false")
                    )
        page_token = query.get("pageToken")
        if page_token is not None:
            state = self._calendar_list_pages.get(decode_page_token(page_token, query))
            if state is None:
                raise GoogleError(400, "invalid", "Invalid page token value.")
        else:
            state = self._calendar_list_snapshot(query, sync_token)
        ids, snapshot_seq = state
        batch, rest = ids[:size], ids[size:]
        reply: dict[str, Any] = {
            "kind": "calendar#calendarList",
            "etag": f'"{next(self._etags)}"',
            "items": [self._calendar_entry(self.calendars[i]) for i in batch],
        }
        if rest:
            key = secrets.token_urlsafe(12)
            self._calendar_list_pages[key] = (rest, snapshot_seq)
            reply["nextPageToken"] = encode_page_token(key, query)
        else:
            token = secrets.token_urlsafe(18)
            self._calendar_list_tokens[token] = snapshot_seq
            reply["nextSyncToken"] = token
        return _json(200, reply)

    def _adopt_dropped_calendars(self) -> None:
        """A calendar a test ``del``-eted from ``calendars`` was unsubscribed: keep a tombstone."""
        for cid, calendar in list(self._calendar_list_known.items()):
            if cid not in self.calendars:
                calendar.deleted = True
                self.calendars[cid] = calendar
                self._touch_calendar(calendar)
        self._calendar_list_known = dict(self.calendars)

    def _calendar_list_snapshot(
        self, query: dict[str, str], sync_token: str | None
    ) -> tuple[list[str], int]:
        self._adopt_dropped_calendars()
        ordered = sorted(self.calendars.values(), key=lambda c: (not c.primary, c.id))
        if sync_token is not None:
            since = self._calendar_list_tokens.get(sync_token)
            if since is None:
                raise GoogleError(
                    410,
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                )
            ids = [c.id for c in ordered if c.list_seq > since]
        else:
            show_deleted = query.get("showDeleted") == "true"
            ids = [c.id for c in ordered if show_deleted or not c.deleted]
        return ids, self._list_last_seq

    @staticmethod
    def _calendar_entry(calendar: FakeCalendar) -> dict[str, Any]:
        if calendar.deleted:
            return {
                "kind": "calendar#calendarListEntry",
                "etag": calendar.list_etag,
                "id": calendar.id,
                "deleted": True,
            }
        return {
            "kind": "calendar#calendarListEntry",
            "etag": calendar.list_etag,
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "accessRole": calendar.access_role,
            "backgroundColor": "#9fe1e7",
            **({"primary": True} if calendar.primary else {}),
        }
