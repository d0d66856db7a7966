"""``provider = "memory"``: a complete, deterministic remote that lives in the process.

It backs the contract tests, the sync engine's property tests and demo
configurations. The remote side is a `MemoryBackend` shared by name, so a test
can reach the data a daemon in the same process syncs with, edit it "elsewhere"
and inject faults::

    [[accounts]]
    name = "demo"
    provider = "memory"
    backend = "demo"             # optional, default: the account name
    calendars = ["Work", "Home"] # optional, default: ["Calendar"]

    backend = calsync.providers.memory.get_backend("demo")
    backend.remote_upsert(backend.calendar_id("Work"), content)
    backend.fail_next_writes(2)

The sync window is ignored: the memory remote lists everything, like Google's
unwindowed full sync.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from calsync.errors import UserError
from calsync.model import EventContent, RemoteCalendar
from calsync.providers._memory_config import CONFIG_SECTION, DEFAULT_CALENDARS, DEFAULT_PAGE_SIZE
from calsync.providers.base import Capabilities, PullPage, SyncWindow, WriteResult
from calsync.providers.memory_backend import (
    BackendStats,
    FaultSpec,
    MemoryBackend,
    PullSnapshot,
    TruncationMode,
    drop_backend,
    get_backend,
    reset_backends,
)
from calsync.providers.registry import ProviderSpec

__all__ = [
    "CONFIG_SECTION",
    "SPEC",
    "BackendStats",
    "FaultSpec",
    "MemoryBackend",
    "MemoryProvider",
    "TruncationMode",
    "drop_backend",
    "get_backend",
    "reset_backends",
]


class MemoryProvider:
    """A `calsync.providers.base.Provider` over a `MemoryBackend`."""

    capabilities = Capabilities(
        read_only=False, incremental=True, push_channels=False, create_calendar=True
    )

    def __init__(self, backend: MemoryBackend, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.backend = backend
        self.page_size = page_size
        self.closed = False

    def list_calendars(self) -> Sequence[RemoteCalendar]:
        return self.backend.calendars()

    def create_calendar(self, name: str) -> RemoteCalendar:
        """Create a calendar (``capabilities.create_calendar``)."""
        remote_id = self.backend.add_calendar(name)
        return next(c for c in self.backend.calendars() if c.remote_id == remote_id)

    def pull(
        self, calendar_remote_id: str, cursor: str | None, window: SyncWindow
    ) -> Iterator[PullPage]:
        # The snapshot is taken now, so CursorExpired and injected faults are
        # raised by the call itself, before any page exists.
        snapshot = self.backend.snapshot(calendar_remote_id, cursor)
        return self._pages(snapshot)

    def _pages(self, snapshot: PullSnapshot) -> Iterator[PullPage]:
        changed, deleted = snapshot.changed, snapshot.deleted
        total = len(changed) + len(deleted)
        size = self.page_size
        page_count = max(1, -(-total // size))
        # A mid-pull fault fires before the final page at the latest, so the
        # caller never receives the cursor of a pull that failed.
        fail_at = min(snapshot.fail_after_pages, page_count - 1)
        for index in range(page_count):
            if snapshot.fault is not None and index == fail_at:
                raise snapshot.fault
            low, high = index * size, (index + 1) * size
            # Changes fill the pages first, then deletions.
            page_changed = changed[low:high]
            page_deleted = deleted[max(0, low - len(changed)) : max(0, high - len(changed))]
            final = index == page_count - 1
            yield PullPage(
                changed=page_changed,
                deleted=page_deleted,
                final=final,
                cursor=snapshot.cursor if final else None,
                full_listing=snapshot.full_listing if final else False,
                expected_total=total,
            )

    def create_event(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None = None,
    ) -> WriteResult:
        event = self.backend.create(calendar_remote_id, event_uid, content, master_remote_id)
        return WriteResult(remote_id=event.remote_id, etag=event.etag)

    def update_event(
        self, calendar_remote_id: str, remote_id: str, content: EventContent, etag: str | None
    ) -> WriteResult:
        event = self.backend.update(calendar_remote_id, remote_id, content, etag)
        return WriteResult(remote_id=event.remote_id, etag=event.etag)

    def delete_event(self, calendar_remote_id: str, remote_id: str, etag: str | None) -> None:
        self.backend.delete(calendar_remote_id, remote_id, etag)

    def close(self) -> None:
        self.closed = True


def create_memory_provider(account_name: str, options: Mapping[str, Any]) -> MemoryProvider:
    """The factory behind ``provider = "memory"``.

    The config loader has validated ``options`` already; the checks here keep
    direct callers (tests, `registry.create`) honest.
    """
    # The loader fills absent keys with None, so None means "use the default".
    backend_name = options.get("backend")
    if backend_name is None:
        backend_name = account_name
    if not isinstance(backend_name, str) or not backend_name:
        raise UserError(f"account {account_name!r}: backend must be a non-empty string")
    calendars = options.get("calendars")
    if calendars is None:
        calendars = list(DEFAULT_CALENDARS)
    if not isinstance(calendars, list | tuple) or not all(
        isinstance(c, str) and c for c in calendars
    ):
        raise UserError(f"account {account_name!r}: calendars must be a list of names")
    page_size = options.get("page_size")
    if page_size is None:
        page_size = DEFAULT_PAGE_SIZE
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise UserError(f"account {account_name!r}: page_size must be a positive integer")
    backend = get_backend(backend_name)
    for name in calendars:
        # Idempotent, so a config reload does not duplicate calendars.
        backend.ensure_calendar(name)
    return MemoryProvider(backend, page_size=page_size)


SPEC = ProviderSpec(
    name="memory",
    factory=create_memory_provider,
    config_section=CONFIG_SECTION,
    description="An in-process remote for tests and demos; data is lost on exit.",
)
