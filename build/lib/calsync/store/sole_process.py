"""One syncing process per SQLite file: ``<database>.lock``, held with ``flock``.

SQLite has one write lock and no way to lease work between processes, so
``calsync run`` owns its file for its whole life. A second ``calsync run`` on
the same file refuses to start and names the holder; the first keeps running.
``calsync sync --once`` waits for another ``sync --once`` to finish (its turn),
and refuses beside a daemon, saying why (the daemon syncs by itself and never
lets go). The lock dies with its process (``kill -9`` included): there is no
stale lock to clean up. Short CLI commands (tokens, accounts, status) take no
part: they write in single transactions, serialized by SQLite.

PostgreSQL replicas coordinate through lease rows instead (`repos.sync_leases`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from calsync.errors import Conflict

log = logging.getLogger(__name__)

DAEMON = "calsync run"
SYNC_ONCE = "calsync sync --once"

_HINT = (
    "SQLite allows one syncing process per database file. Stop the other process first, "
    "or keep the store in PostgreSQL ([store] url) to run several replicas."
)


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def _holder(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict[str, object]) -> str:
    role = holder.get("role", "another calsync process")
    pid = holder.get("pid", "?")
    since = holder.get("since", "?")
    return f"`{role}` (pid {pid}, since {since})"


@contextmanager
def sole_process(
    database: Path | None, role: str, *, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold ``database``'s process lock as ``role`` (a no-op without a SQLite path).

    Raises `Conflict` when a daemon holds it, or when ``role`` is a daemon and
    anything holds it; a ``sync --once`` waits for another one (``on_wait`` is
    told whom it waits for).
    """
    if database is None:
        yield
        return
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if role == DAEMON:
                raise Conflict(
                    f"this SQLite store is in use by {_describe(holder)}; not starting",
                    hint=_HINT,
                ) from None
            if holder.get("role") == DAEMON:
                raise Conflict(
                    f"{_describe(holder)} owns this SQLite store and syncs it by itself; "
                    "`sync --once` cannot run beside it",
                    hint="It syncs every account each [sync] interval. " + _HINT,
                ) from None
            if on_wait is not None:
                on_wait(f"waiting for {_describe(holder)} to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.pwrite(fd, json.dumps({"role": role, "pid": os.getpid(), "since": since}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
