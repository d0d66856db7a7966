"""Engines for the two supported back ends, configured for durable concurrent writes.

SQLite: WAL, ``synchronous=FULL``, a 30 s busy timeout and foreign keys on. The
pysqlite driver's own transaction handling is switched off so that we emit the
``BEGIN`` ourselves: ``BEGIN IMMEDIATE`` for writers (taking the write lock up
front, so two writers never deadlock upgrading a read lock) and a plain
deferred ``BEGIN`` for readers (which WAL lets run beside a writer).

SQLite writers also queue for the write lock, in arrival order within a process
and in the kernel across processes (`WriterQueue`), before ``BEGIN IMMEDIATE``:
SQLite's own busy handler sleeps with growing back-off (up to 100 ms), so under
a steady write load a writer that has waited long keeps losing the lock to ones
that just arrived; the notification relay's p99 was seconds (bench/RESULTS.md).

PostgreSQL: psycopg 3 (``postgresql+psycopg://…``), read committed.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from calsync.errors import StoreError

Backend = Literal["sqlite", "postgresql"]

#: Execution option marking a connection as a writer's.
WRITER_OPTION = "calsync_writer"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def parse_url(url: str) -> tuple[URL, Backend]:
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
        raise StoreError(f"invalid store url: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed, "sqlite"
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed, "postgresql"
    raise StoreError(
        f"unsupported store url scheme {parsed.drivername!r}",
        hint="Use sqlite:///path/to/calsync.db or postgresql+psycopg://user@host/db.",
    )


def create_store_engine(url: str) -> tuple[Engine, Backend]:
    parsed, backend = parse_url(url)
    if backend == "sqlite":
        return _sqlite_engine(parsed), backend
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        # No server-side prepared statements: psycopg would prepare the batch
        # lookups while a table is still empty and keep that generic plan (a
        # full scan) as it grows; a bulk sync then slows down quadratically.
        connect_args={"prepare_threshold": None},
    )
    return engine, backend


class WriterQueue:
    """A fair write lock for one SQLite file: FIFO between this process's threads,
    and an ``flock`` on ``<database>.writers`` between processes.

    Taken before ``BEGIN IMMEDIATE`` and released after ``COMMIT``/``ROLLBACK``,
    so SQLite's busy handler rarely runs. A waiter blocked in ``flock`` is woken
    by the kernel as soon as the lock is released; only one thread per process
    waits there, the others wait their turn here.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False
        self._fd: int | None = None

    def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                turn = None
            else:
                turn = threading.Lock()
                turn.acquire()
                self._waiters.append(turn)
        # Released by the previous holder: ownership is handed over. The time
        # limit matches SQLite's busy timeout, so a thread that opens a second
        # write transaction inside its first fails as it did before, not hangs.
        if turn is not None and not turn.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            with self._mutex:
                if turn in self._waiters:
                    self._waiters.remove(turn)
                    raise StoreError("timed out waiting for the SQLite write lock")
            # Handed over just as we gave up: we own it after all.
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_file(self._fd)
        except BaseException:
            self._hand_over()
            raise

    @staticmethod
    def _lock_file(fd: int) -> None:
        """``flock`` with the same time limit as SQLite's busy timeout.

        Another process (a CLI command beside the daemon) holds it only for one
        transaction; polling with a short backoff keeps a hung holder from
        blocking this process forever, which a plain blocking flock would.
        """
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        pause = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        "timed out waiting for the SQLite write lock held by another process"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._hand_over()

    def _hand_over(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False


_HOLDS_WRITE_LOCK = "calsync_holds_writer_queue"


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise StoreError(
            "the store needs an SQLite file, not an in-memory database",
            hint="Use sqlite:///path/to/calsync.db.",
        )
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=10,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to us: the driver must not emit its own BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    writers = WriterQueue(str(Path(database).expanduser()) + ".writers")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writer = connection.get_execution_options().get(WRITER_OPTION, False)
        if not writer:
            connection.exec_driver_sql("BEGIN")
            return
        writers.acquire()
        connection.info[_HOLDS_WRITE_LOCK] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    def _release(connection: Connection) -> None:
        if connection.info.pop(_HOLDS_WRITE_LOCK, False):
            writers.release()

    # These events run *before* SQLAlchemy's own COMMIT/ROLLBACK; the queue may
    # only move on after them, so end the transaction here (the driver's call
    # that follows then finds none open and does nothing).
    @event.listens_for(engine, "commit")
    def _on_commit(connection: Connection) -> None:
        if connection.info.get(_HOLDS_WRITE_LOCK):
            connection.connection.dbapi_connection.commit()  # type: ignore[union-attr]
            _release(connection)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Connection) -> None:
        if connection.info.get(_HOLDS_WRITE_LOCK):
            try:
                connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
            finally:
                _release(connection)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection invalidated mid-transaction skips the events above.
        if record.info.pop(_HOLDS_WRITE_LOCK, False):
            writers.release()

    return engine
