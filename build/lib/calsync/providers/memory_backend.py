"""The remote side of the in-memory provider: calendars, events, a change journal, faults.

A `MemoryBackend` plays the part of a remote calendar server. Backends are
shared by name inside the process (`get_backend`), so a daemon configured with
``provider = "memory"`` and a test running in the same process see the same
data, and the test can edit the "remote" behind the daemon's back or inject
faults into it.

Everything is deterministic: calendar ids, event ids and etags come from
counters, listings are sorted by remote id. Every method takes the backend's
lock, so sync worker threads and a test thread can use one backend at once.

Cursors are ``"<epoch>.<seq>"``: ``seq`` is the journal position the pull
covered, ``epoch`` changes on `expire_cursors`, which invalidates every cursor
handed out before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from calsync.errors import (
    CursorExpired,
    NotFound,
    PreconditionFailed,
    TransientProviderError,
)
from calsync.model import EventContent, RemoteCalendar, RemoteEvent, round_trip_key

#: An exception to inject: an instance, a class (built with a default message),
#: or a zero-argument callable returning a fresh exception each time.
FaultSpec = BaseException | type[BaseException] | Callable[[], BaseException]

#: How `MemoryBackend.truncate_next_listing` damages the next full listing:
#:
#: ``"partial"``
#:     Only ``fraction`` of the events, and the final page does *not* claim
#:     completeness (``full_listing=False``) and carries no cursor: an honest
#:     server that stopped early. The engine must neither delete what is
#:     missing nor store a cursor.
#: ``"partial_marked"``
#:     Only ``fraction`` of the events, but the final page claims
#:     ``full_listing=True`` with a valid cursor: a buggy server. Only the
#:     engine's mass-deletion guard stands between this and data loss.
#: ``"empty"``
#:     No events at all, marked ``full_listing=True`` with a valid cursor: the
#:     classic outage that answers "your calendar is empty".
TruncationMode = Literal["partial", "partial_marked", "empty"]

ChangeKind = Literal["create", "update", "delete"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _make_exception(fault: FaultSpec, default_message: str) -> BaseException:
    if isinstance(fault, BaseException):
        return fault
    if isinstance(fault, type):
        made: BaseException = fault(default_message)
        return made
    return fault()


@dataclass(slots=True)
class _Calendar:
    remote_id: str
    name: str
    timezone: str | None
    events: dict[str, RemoteEvent] = field(default_factory=dict)
    #: (seq, remote_id, kind), in seq order.
    journal: list[tuple[int, str, ChangeKind]] = field(default_factory=list)
    #: Our event_uid -> the remote id it was created as (idempotent create).
    by_event_uid: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PullSnapshot:
    """What one pull returns, computed atomically under the backend's lock."""

    changed: tuple[RemoteEvent, ...]
    deleted: tuple[str, ...]
    cursor: str | None
    full_listing: bool
    #: Raise this after yielding ``fail_after_pages`` pages (a mid-pull fault).
    fault: BaseException | None = None
    fail_after_pages: int = 0


@dataclass(slots=True)
class BackendStats:
    """Counts of calls that reached the backend, for exactly-once assertions."""

    creates: int = 0
    updates: int = 0
    deletes: int = 0
    pulls: int = 0


class MemoryBackend:
    """One in-memory remote account. Use `get_backend` to share one by name."""

    def __init__(self, name: str, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.name = name
        self.clock = clock
        self.stats = BackendStats()
        self._lock = threading.RLock()
        self._calendars: dict[str, _Calendar] = {}
        self._seq = 0
        self._epoch = 0
        self._next_calendar = 0
        self._next_event = 0
        self._next_etag = 0
        self._write_faults: list[FaultSpec] = []
        self._lost_write_responses = 0
        self._pull_faults: list[tuple[FaultSpec, int]] = []
        self._truncation: tuple[float, TruncationMode] | None = None

    # -- calendars ---------------------------------------------------------

    def add_calendar(self, name: str, *, timezone: str | None = None) -> str:
        """Create a calendar and return its remote id."""
        with self._lock:
            self._next_calendar += 1
            remote_id = f"memcal-{self._next_calendar}"
            self._calendars[remote_id] = _Calendar(remote_id, name, timezone)
            return remote_id

    def ensure_calendar(self, name: str) -> str:
        """The remote id of the calendar called ``name``, creating it if needed."""
        with self._lock:
            for calendar in self._calendars.values():
                if calendar.name == name:
                    return calendar.remote_id
            return self.add_calendar(name)

    def calendars(self) -> list[RemoteCalendar]:
        with self._lock:
            return [
                RemoteCalendar(
                    remote_id=c.remote_id,
                    name=c.name,
                    timezone=c.timezone,
                    primary=index == 0,
                    version=str(c.journal[-1][0]) if c.journal else "0",
                )
                for index, c in enumerate(self._calendars.values())
            ]

    def calendar_id(self, name: str) -> str:
        """The remote id of the calendar called ``name``."""
        with self._lock:
            for calendar in self._calendars.values():
                if calendar.name == name:
                    return calendar.remote_id
        raise NotFound(f"memory backend {self.name!r} has no calendar named {name!r}")

    def events(self, calendar_remote_id: str) -> dict[str, RemoteEvent]:
        """A snapshot of the calendar's events by remote id (for assertions)."""
        with self._lock:
            return dict(self._calendar(calendar_remote_id).events)

    def _calendar(self, remote_id: str) -> _Calendar:
        try:
            return self._calendars[remote_id]
        except KeyError:
            raise NotFound(f"memory backend {self.name!r} has no calendar {remote_id!r}") from None

    # -- fault knobs -------------------------------------------------------

    def fail_next_writes(self, n: int, exc: FaultSpec = TransientProviderError) -> None:
        """The next ``n`` writes raise ``exc`` without changing anything."""
        with self._lock:
            self._write_faults.extend([exc] * n)

    def lose_next_write_responses(self, n: int) -> None:
        """The next ``n`` writes take effect, then raise `TransientProviderError`
        as if the response had been lost: retries must be idempotent."""
        with self._lock:
            self._lost_write_responses += n

    def fail_next_pulls(
        self, n: int, exc: FaultSpec = TransientProviderError, *, after_pages: int = 0
    ) -> None:
        """The next ``n`` pulls raise ``exc``: at the call when ``after_pages`` is
        0, otherwise after yielding that many pages (a connection lost mid-pull)."""
        with self._lock:
            self._pull_faults.extend([(exc, after_pages)] * n)

    def expire_cursors(self) -> None:
        """Every cursor handed out so far becomes invalid (`CursorExpired`)."""
        with self._lock:
            self._epoch += 1

    def bump_etags(self, calendar_remote_id: str | None = None) -> None:
        """Give every event a new etag without changing its content; the events
        show up as changed in incremental pulls, as a real server would report."""
        with self._lock:
            targets = (
                [self._calendar(calendar_remote_id)]
                if calendar_remote_id is not None
                else list(self._calendars.values())
            )
            for calendar in targets:
                for remote_id, event in list(calendar.events.items()):
                    calendar.events[remote_id] = replace(
                        event, etag=self._new_etag(), remote_updated=self.clock()
                    )
                    self._journal(calendar, remote_id, "update")

    def truncate_next_listing(
        self, fraction: float = 0.5, *, mode: TruncationMode = "partial"
    ) -> None:
        """Damage the next full listing (pull with ``cursor=None``); see `TruncationMode`.

        ``fraction`` of the events (sorted by remote id, rounded down) survive;
        it is ignored by ``"empty"``.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        with self._lock:
            self._truncation = (0.0 if mode == "empty" else fraction, mode)

    # -- remote-side edits (made "elsewhere", not through calsync) ----------

    def remote_upsert(
        self,
        calendar_remote_id: str,
        content: EventContent,
        *,
        remote_id: str | None = None,
        ical_uid: str | None = None,
        master_remote_id: str | None = None,
    ) -> RemoteEvent:
        """Create (no or unknown ``remote_id``) or replace an event, as another client would."""
        with self._lock:
            calendar = self._calendar(calendar_remote_id)
            if remote_id is None:
                remote_id = self._new_event_id()
            previous = calendar.events.get(remote_id)
            event = RemoteEvent(
                remote_id=remote_id,
                content=content,
                ical_uid=ical_uid or (previous.ical_uid if previous else f"{remote_id}@memory"),
                etag=self._new_etag(),
                remote_updated=self.clock(),
                master_remote_id=master_remote_id
                or (previous.master_remote_id if previous else None),
                origin_event_uid=previous.origin_event_uid if previous else None,
            )
            calendar.events[remote_id] = event
            self._journal(calendar, remote_id, "update" if previous else "create")
            return event

    def remote_delete(self, calendar_remote_id: str, remote_id: str) -> bool:
        """Delete an event as another client would; False when it was not there."""
        with self._lock:
            calendar = self._calendar(calendar_remote_id)
            if calendar.events.pop(remote_id, None) is None:
                return False
            self._journal(calendar, remote_id, "delete")
            return True

    # -- the provider's side -----------------------------------------------

    def create(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        master_remote_id: str | None,
    ) -> RemoteEvent:
        with self._lock:
            self._before_write()
            self.stats.creates += 1
            calendar = self._calendar(calendar_remote_id)
            existing_id = calendar.by_event_uid.get(event_uid)
            if existing_id is not None and existing_id in calendar.events:
                # As CalDAV's If-None-Match and Google's client-chosen ids do:
                # the retry of a create that landed succeeds; anything else
                # already there is refused.
                event = calendar.events[existing_id]
                if round_trip_key(event.content) != round_trip_key(content):
                    raise PreconditionFailed(
                        f"event {existing_id!r} already exists with other content"
                    )
            else:
                remote_id = existing_id or self._new_event_id()
                master = calendar.events.get(master_remote_id) if master_remote_id else None
                event = RemoteEvent(
                    remote_id=remote_id,
                    content=content,
                    ical_uid=master.ical_uid if master else event_uid,
                    etag=self._new_etag(),
                    remote_updated=self.clock(),
                    master_remote_id=master_remote_id,
                    origin_event_uid=event_uid,
                )
                calendar.events[remote_id] = event
                calendar.by_event_uid[event_uid] = remote_id
                self._journal(calendar, remote_id, "create")
            self._after_write()
            return event

    def update(
        self, calendar_remote_id: str, remote_id: str, content: EventContent, etag: str | None
    ) -> RemoteEvent:
        with self._lock:
            self._before_write()
            self.stats.updates += 1
            calendar = self._calendar(calendar_remote_id)
            current = calendar.events.get(remote_id)
            if current is None:
                # The engine re-pulls and re-plans on PreconditionFailed, which
                # is exactly what an event deleted under us calls for.
                raise PreconditionFailed(f"event {remote_id!r} no longer exists")
            if etag is not None and etag != current.etag:
                raise PreconditionFailed(
                    f"event {remote_id!r} changed: etag {etag} is stale (now {current.etag})"
                )
            event = replace(
                current, content=content, etag=self._new_etag(), remote_updated=self.clock()
            )
            calendar.events[remote_id] = event
            self._journal(calendar, remote_id, "update")
            self._after_write()
            return event

    def delete(self, calendar_remote_id: str, remote_id: str, etag: str | None) -> None:
        with self._lock:
            self._before_write()
            self.stats.deletes += 1
            calendar = self._calendar(calendar_remote_id)
            current = calendar.events.get(remote_id)
            if current is not None:
                if etag is not None and etag != current.etag:
                    raise PreconditionFailed(f"event {remote_id!r} changed: etag {etag} is stale")
                del calendar.events[remote_id]
                self._journal(calendar, remote_id, "delete")
            self._after_write()

    def snapshot(self, calendar_remote_id: str, cursor: str | None) -> PullSnapshot:
        """Everything one pull returns, computed atomically."""
        with self._lock:
            self.stats.pulls += 1
            fault: BaseException | None = None
            fail_after_pages = 0
            if self._pull_faults:
                spec, fail_after_pages = self._pull_faults.pop(0)
                fault = _make_exception(spec, "injected pull fault")
                if fail_after_pages == 0:
                    raise fault
            calendar = self._calendar(calendar_remote_id)
            new_cursor = f"{self._epoch}.{self._seq}"
            if cursor is None:
                return self._full_snapshot(calendar, new_cursor, fault, fail_after_pages)
            since = self._parse_cursor(cursor)
            first_kind: dict[str, ChangeKind] = {}
            for seq, remote_id, kind in calendar.journal:
                if seq > since:
                    first_kind.setdefault(remote_id, kind)
            changed = []
            deleted = []
            for remote_id in sorted(first_kind):
                event = calendar.events.get(remote_id)
                if event is not None:
                    changed.append(event)
                elif first_kind[remote_id] != "create":
                    # Created and deleted since the cursor: the caller never saw it.
                    deleted.append(remote_id)
            return PullSnapshot(
                tuple(changed), tuple(deleted), new_cursor, False, fault, fail_after_pages
            )

    def _full_snapshot(
        self,
        calendar: _Calendar,
        cursor: str,
        fault: BaseException | None,
        fail_after_pages: int,
    ) -> PullSnapshot:
        events = [calendar.events[rid] for rid in sorted(calendar.events)]
        truncation, self._truncation = self._truncation, None
        if truncation is None:
            return PullSnapshot(tuple(events), (), cursor, True, fault, fail_after_pages)
        fraction, mode = truncation
        kept = tuple(events[: int(len(events) * fraction)])
        if mode == "partial":
            return PullSnapshot(kept, (), None, False, fault, fail_after_pages)
        return PullSnapshot(kept, (), cursor, True, fault, fail_after_pages)

    def _parse_cursor(self, cursor: str) -> int:
        epoch_text, _, seq_text = cursor.partition(".")
        if not (epoch_text.isdigit() and seq_text.isdigit()):
            raise CursorExpired(f"malformed memory cursor {cursor!r}")
        if int(epoch_text) != self._epoch:
            raise CursorExpired(f"memory cursor {cursor!r} has expired")
        seq = int(seq_text)
        if seq > self._seq:
            raise CursorExpired(f"memory cursor {cursor!r} is from the future")
        return seq

    # -- internals ---------------------------------------------------------

    def _before_write(self) -> None:
        if self._write_faults:
            raise _make_exception(self._write_faults.pop(0), "injected write fault")

    def _after_write(self) -> None:
        if self._lost_write_responses:
            self._lost_write_responses -= 1
            raise TransientProviderError(
                "injected fault: the write happened, the response was lost"
            )

    def _journal(self, calendar: _Calendar, remote_id: str, kind: ChangeKind) -> None:
        self._seq += 1
        calendar.journal.append((self._seq, remote_id, kind))

    def _new_event_id(self) -> str:
        self._next_event += 1
        return f"memevt-{self._next_event}"

    def _new_etag(self) -> str:
        self._next_etag += 1
        return f'"{self._next_etag}"'


_backends_lock = threading.Lock()
_backends: dict[str, MemoryBackend] = {}


def get_backend(name: str) -> MemoryBackend:
    """The process-wide backend called ``name``, created empty on first use."""
    with _backends_lock:
        backend = _backends.get(name)
        if backend is None:
            backend = _backends[name] = MemoryBackend(name)
        return backend


def drop_backend(name: str) -> None:
    """Forget the backend called ``name`` (the next `get_backend` starts empty)."""
    with _backends_lock:
        _backends.pop(name, None)


def reset_backends() -> None:
    """Forget every backend (test isolation)."""
    with _backends_lock:
        _backends.clear()
