"""The one contract every provider implements.

A provider speaks only its remote protocol and converts to and from the unified
model. It never touches the store. The engine reads `Capabilities` flags and
never checks which provider it holds.

How the four remote styles map onto `pull`:

========  ===================================  ==============================
provider  cursor                               expiry
========  ===================================  ==============================
Google    nextSyncToken                        410 -> `CursorExpired`
Graph     JSON: @odata.deltaLink + its window  410 / syncStateNotFound
          + series membership of instances
CalDAV    sync-collection token (or ctag +     403/409/412 valid-sync-token
          etags when sync-collection missing)
ICS       ETag / Last-Modified of the feed     never expires; 304 = unchanged
========  ===================================  ==============================

With ``cursor=None`` a provider lists the whole calendar (inside the window
for windowed protocols) and marks the final page ``full_listing=True``; only
then may the engine treat an absent event as deleted. A windowed listing also
names its window (``window``): an absent event that lies wholly outside it
left the window and is not deleted. An incremental pull reports deletions
explicitly in ``deleted``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from calsync.model import EventContent, RemoteCalendar, RemoteEvent


@dataclass(frozen=True, slots=True)
class Capabilities:
    #: No writes at all (ICS feeds). The engine never pushes to it.
    read_only: bool = False
    #: `pull` with a cursor returns only changes, with explicit deletions.
    incremental: bool = True
    #: The provider can push change notifications to us (Google watch, Graph).
    push_channels: bool = False
    #: Calendars can be created through the provider.
    create_calendar: bool = False
    #: A changed master is always listed together with all its overrides (a
    #: CalDAV/ICS resource travels whole), so a stored override of a listed
    #: master that the pull omits was removed remotely. Not so for Google or
    #: Graph, whose instances arrive separately.
    series_as_unit: bool = False


@dataclass(frozen=True, slots=True)
class SyncWindow:
    """The time range a windowed provider syncs (Graph calendarView, CalDAV fallback)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class PullPage:
    """One page of a pull. Only the final page carries the cursor."""

    changed: tuple[RemoteEvent, ...] = ()
    #: Remote ids the provider says are gone (tombstones, @removed, 404 members).
    deleted: tuple[str, ...] = ()
    final: bool = False
    #: The cursor to store once every page is committed (final page only).
    cursor: str | None = None
    #: Final page only: the pages together listed the whole calendar, so an
    #: event absent from all of them is provably gone.
    full_listing: bool = False
    #: Final page only: a cheap check (304, equal ctag) proved nothing changed.
    unchanged: bool = False
    #: Final page of a full listing only: the listing covered just the events that
    #: overlap this range (Graph's calendarView), so a stored event or series wholly
    #: outside it is not proven gone by its absence (it left the window).
    window: SyncWindow | None = None
    #: How many events the whole pull is expected to bring, for progress bars.
    expected_total: int | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    remote_id: str
    etag: str | None = None


@runtime_checkable
class Provider(Protocol):
    """A connection to one remote account."""

    capabilities: Capabilities

    def list_calendars(self) -> Sequence[RemoteCalendar]:
        """Every calendar the account can see (after the config's filter)."""
        ...

    def pull(
        self, calendar_remote_id: str, cursor: str | None, window: SyncWindow
    ) -> Iterator[PullPage]:
        """Changes since ``cursor``, or a full listing when ``cursor`` is None.

        Raises `CursorExpired` (before yielding anything it cannot stand by)
        when the cursor is no longer valid; the engine then calls again with
        ``cursor=None``. Raises `RateLimited`, `CredentialsInvalid` or
        `TransientProviderError` on remote failures.
        """
        ...

    def create_event(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None = None,
    ) -> WriteResult:
        """Create an event. Idempotent on ``event_uid``: a retry after a lost
        response returns the same remote id instead of creating a duplicate."""
        ...

    def update_event(
        self, calendar_remote_id: str, remote_id: str, content: EventContent, etag: str | None
    ) -> WriteResult:
        """Replace the event's content; raises `PreconditionFailed` when ``etag`` is stale."""
        ...

    def delete_event(self, calendar_remote_id: str, remote_id: str, etag: str | None) -> None:
        """Delete the event; an event that is already gone is not an error."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class PushChannel:
    """A push channel as calsync stores it: enough to verify and to stop it."""

    id: str
    resource_id: str
    resource_uri: str | None = None
    expiration: datetime | None = None
    token: str | None = None


class WatchedChannel(Protocol):
    """What `PushChannels.watch` returns (Google's ``Channel`` fits it)."""

    @property
    def id(self) -> str: ...

    @property
    def resource_id(self) -> str: ...

    @property
    def expiration(self) -> datetime | None: ...


@runtime_checkable
class PushChannels(Protocol):
    """Optional: what a provider with ``capabilities.push_channels`` offers besides `Provider`.

    The provider POSTs change notifications to ``address`` until the channel
    expires (channels never renew themselves) or is stopped.
    """

    def watch(
        self,
        calendar_remote_id: str,
        address: str,
        token: str | None,
        *,
        channel_id: str,
        ttl: timedelta | None = None,
    ) -> WatchedChannel:
        """Open a channel for the calendar's events; ``ttl`` None = the provider's default."""
        ...

    def stop(self, channel: Any) -> None:
        """Stop a channel `watch` returned, or a `PushChannel` rebuilt from storage
        (typed loosely so each provider may name its own channel class). A
        channel the provider no longer knows is already stopped: not an error."""
        ...


class ProviderFactory(Protocol):
    """Builds a provider from one ``[[accounts]]`` table of the config."""

    def __call__(self, account_name: str, options: Mapping[str, Any]) -> Provider: ...
