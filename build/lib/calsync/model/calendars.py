"""Calendars as providers list them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RemoteCalendar:
    remote_id: str
    name: str
    timezone: str | None = None
    color: str | None = None
    read_only: bool = False
    primary: bool = False
    #: A cheap change marker (CalDAV ctag, Google calendarList etag), if any.
    version: str | None = None
