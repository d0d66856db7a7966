"""Rendered pages of ``/v1/events`` and ``/v1/free_busy``, reused while nothing changed.

Rendering a page (rows to records, series expansion, JSON) costs several
milliseconds of CPU; serving the same bytes again costs next to nothing. Apps
poll: the same account asks the same question until something changes.

**Why a hit is never stale.** The key holds the account's ``last_change_seq``
as read by *this request's* token lookup. Every change a page can show moves
that sequence in the same transaction: each event write through the journal's
`stamp`, and each calendar update or deletion through `bump_version` (a new
calendar has no events yet, so it changes no page). The
page is rendered by a read that starts after the lookup, so an entry filed
under sequence N holds data at least as new as N, and a request that saw N
gets that. Once a change commits, every later lookup sees a higher sequence
and misses. The rest of the key is everything else the bytes depend on: the
account's email (participation status), the resolved query (its window is
already absolute, so "now" is inside it) and the page state. The page token's
owner is checked before the cache is consulted.

Concurrent misses on one key render once (`ReadCache.get_or_render`): after
a change, every client polling that account would otherwise render the same
page at the same moment. The others wait for that render; if it fails they
render for themselves.

Entries are evicted least-recently-used beyond ``[api] read_cache_mb``;
superseded versions simply age out. The cache is per process: replicas each
keep their own, which costs only misses.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable


class ReadCache:
    """A byte-bounded LRU map from page keys to response bodies; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        #: Renders in progress, by key; touched only on the event loop.
        self._inflight: dict[Hashable, asyncio.Future[bytes | None]] = {}

    @classmethod
    def of_mib(cls, mib: int) -> ReadCache:
        return cls(mib * 1024 * 1024)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> bytes | None:
        """The body kept for ``key``; counted as a hit or a miss."""
        body = self._lookup(key)
        if self.enabled:
            self._count(hit=body is not None)
        return body

    def _lookup(self, key: Hashable) -> bytes | None:
        if not self.enabled:
            return None
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    async def get_or_render(self, key: Hashable, render: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached body, else the body of a render already running for ``key``,
        else ``render()``'s (kept). With the cache off, always ``render()``."""
        if not self.enabled:
            return await render()
        body = self._lookup(key)
        if body is not None:
            self._count(hit=True)
            return body
        loop = asyncio.get_running_loop()
        running = self._inflight.get(key)
        if running is not None and running.get_loop() is loop:
            # shield: this request being cancelled must not cancel the shared render.
            shared = await asyncio.shield(running)
            self._count(hit=shared is not None)  # a shared render is not a render of its own
            if shared is not None:
                return shared
            return await render()  # the render we waited for failed: try ourselves
        self._count(hit=False)
        future: asyncio.Future[bytes | None] = loop.create_future()
        self._inflight[key] = future
        try:
            body = await render()
        except BaseException:
            future.set_result(None)  # waiters render for themselves
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        self.put(key, body)
        future.set_result(body)
        return body

    def put(self, key: Hashable, body: bytes) -> None:
        # A body larger than a quarter of the budget would evict most of the
        # cache for one page; it is simply not kept.
        if not self.enabled or len(body) * 4 > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._entries[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
