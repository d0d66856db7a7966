"""Google calendarList entries: their mapping, and the per-process incremental-sync state.

`GoogleProvider.list_calendars` keeps the calendarList ``nextSyncToken`` and the
entries it covers here, per account, for the life of the process: the provider
Protocol has no cursor for the calendar list, and the engine builds a provider
per pass. A fresh process therefore lists in full once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calsync.model import RemoteCalendar

_WRITABLE_ROLES = frozenset({"owner", "writer"})

CalendarListKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class CalendarListState:
    """An account's calendarList sync token and the entries it covers (unfiltered)."""

    token: str | None = None
    entries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


#: Per process: (api endpoint, client id, sha256 of the refresh token) -> list state.
_calendar_lists: dict[tuple[str, str, str], CalendarListState] = {}
_calendar_lists_lock = threading.Lock()


def calendar_list_key(
    api_endpoint: str | None, client_id: str, refresh_token: str
) -> CalendarListKey:
    """One account's key: endpoint, client id and a hash of its refresh token (never the token)."""
    return (api_endpoint or "", client_id, hashlib.sha256(refresh_token.encode()).hexdigest())


def calendar_list_state(key: CalendarListKey) -> CalendarListState:
    with _calendar_lists_lock:
        return _calendar_lists.get(key, CalendarListState())


def remember_calendar_list(key: CalendarListKey, state: CalendarListState) -> None:
    with _calendar_lists_lock:
        _calendar_lists[key] = state


def to_calendar(entry: Mapping[str, Any]) -> RemoteCalendar:
    return RemoteCalendar(
        remote_id=entry["id"],
        name=entry.get("summaryOverride") or entry.get("summary", ""),
        timezone=entry.get("timeZone"),
        color=entry.get("backgroundColor"),
        read_only=entry.get("accessRole") not in _WRITABLE_ROLES,
        primary=bool(entry.get("primary")),
        version=entry.get("etag"),
    )
