"""`Store` (one per process) and `UnitOfWork` (one per transaction).

`Store.on_outbox` registers a callback run after every write transaction of
this process that committed notification outbox rows: the daemon's relay
thread wakes on it instead of waiting for its next poll. Other processes
(PostgreSQL replicas) still find the rows by polling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from calsync.errors import StoreError
from calsync.store import schema
from calsync.store.due_signals import DueListener
from calsync.store.engine import WRITER_OPTION, Backend, create_store_engine, parse_url
from calsync.store.journal import Journal
from calsync.store.records import AccountRecord
from calsync.store.repos.accounts import AccountRepo, ProfileRepo
from calsync.store.repos.calendars import CalendarRepo
from calsync.store.repos.events import EventRepo
from calsync.store.repos.journal_repos import ChangeLogRepo, OutboxRepo, SyncCursorRepo

if TYPE_CHECKING:
    from calsync.store.repos import event_bulk, retention
    from calsync.store.repos.availability_rules import AvailabilityRepo
    from calsync.store.repos.channels import ChannelRepo
    from calsync.store.repos.chronary import (
        AgentRepo,
        ApiKeyRepo,
        EventExtrasRepo,
        IdempotencyRepo,
    )
    from calsync.store.repos.connect import AuthCodeRepo, AuthRequestRepo, ConnectionRepo
    from calsync.store.repos.event_reads import EventReadRepo
    from calsync.store.repos.provider_channels import ProviderChannelRepo
    from calsync.store.repos.push_journal import PushJournalRepo
    from calsync.store.repos.sync_leases import SyncLeaseRepo
    from calsync.store.repos.tokens import TokenRepo

log = logging.getLogger(__name__)


class UnitOfWork:
    """The repositories of one transaction, all bound to one session.

    The repositories a sync pass uses are built with it; the others (API tokens,
    channels, connect, Chronary, availability, leases...) on first use, so that a
    command imports only the mapped classes it queries: mapping them is most of
    a short command's start-up after SQLAlchemy itself (issue #11).
    """

    def __init__(self, session: Session, *, writable: bool) -> None:
        self._session = session
        self._journal = Journal(session, writable=writable)
        self.accounts = AccountRepo(session, self._journal)
        self.profiles = ProfileRepo(session, self._journal)
        self.calendars = CalendarRepo(session, self._journal)
        self.events = EventRepo(session, self._journal)
        self.changes = ChangeLogRepo(session)
        self.outbox = OutboxRepo(session, self._journal)
        self.cursors = SyncCursorRepo(session, self._journal)

    @cached_property
    def event_reads(self) -> EventReadRepo:
        from calsync.store.repos.event_reads import EventReadRepo

        return EventReadRepo(self._session)

    @cached_property
    def tokens(self) -> TokenRepo:
        from calsync.store.repos.tokens import TokenRepo

        return TokenRepo(self._session, self._journal)

    @cached_property
    def channels(self) -> ChannelRepo:
        from calsync.store.repos.channels import ChannelRepo

        return ChannelRepo(self._session, self._journal)

    @cached_property
    def provider_channels(self) -> ProviderChannelRepo:
        from calsync.store.repos.provider_channels import ProviderChannelRepo

        return ProviderChannelRepo(self._session, self._journal)

    @cached_property
    def push_journal(self) -> PushJournalRepo:
        from calsync.store.repos.push_journal import PushJournalRepo

        return PushJournalRepo(self._session, self._journal)

    @cached_property
    def sync_leases(self) -> SyncLeaseRepo:
        from calsync.store.repos.sync_leases import SyncLeaseRepo

        return SyncLeaseRepo(self._session, self._journal)

    @cached_property
    def api_keys(self) -> ApiKeyRepo:
        from calsync.store.repos.chronary import ApiKeyRepo

        return ApiKeyRepo(self._session, self._journal)

    @cached_property
    def idempotency(self) -> IdempotencyRepo:
        from calsync.store.repos.chronary import IdempotencyRepo

        return IdempotencyRepo(self._session, self._journal)

    @cached_property
    def agents(self) -> AgentRepo:
        from calsync.store.repos.chronary import AgentRepo

        return AgentRepo(self._session, self._journal)

    @cached_property
    def event_extras(self) -> EventExtrasRepo:
        from calsync.store.repos.chronary import EventExtrasRepo

        return EventExtrasRepo(self._session, self._journal)

    @cached_property
    def connections(self) -> ConnectionRepo:
        from calsync.store.repos.connect import ConnectionRepo

        return ConnectionRepo(self._session, self._journal)

    @cached_property
    def auth_requests(self) -> AuthRequestRepo:
        from calsync.store.repos.connect import AuthRequestRepo

        return AuthRequestRepo(self._session, self._journal)

    @cached_property
    def auth_codes(self) -> AuthCodeRepo:
        from calsync.store.repos.connect import AuthCodeRepo

        return AuthCodeRepo(self._session, self._journal)

    @cached_property
    def availability(self) -> AvailabilityRepo:
        from calsync.store.repos.availability_rules import AvailabilityRepo

        return AvailabilityRepo(self._session, self._journal)

    def _before_commit(self) -> None:
        self._journal.finish()

    @property
    def queued_notifications(self) -> bool:
        """Whether this transaction added notification outbox rows."""
        return self._journal.outbox_rows > 0


class Store:
    """The database. Cheap to construct: the engine is created on first use."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._backend: Backend = parse_url(url)[1]
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._outbox_listeners: tuple[Callable[[], None], ...] = ()

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file (None on PostgreSQL)."""
        if self._backend != "sqlite":
            return None
        return Path(parse_url(self._url)[0].database or "").expanduser()

    def _get_engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine, _ = create_store_engine(self._url)
            return self._engine

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to the newest revision (``calsync db upgrade``); returns
        the revision before (None for an empty database) and after."""
        with _store_errors(), self._writer().begin() as connection:
            return schema.upgrade(connection)

    def ensure_current(self) -> None:
        """Raise `StoreError` unless the schema is at the newest revision."""
        with _store_errors(), self._get_engine().connect() as connection:
            schema.ensure_current(connection)

    def on_outbox(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each commit that queued notifications (it must
        be quick: it runs on the writer's thread); returns the unsubscribe call."""
        with self._lock:
            self._outbox_listeners = (*self._outbox_listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._outbox_listeners = tuple(
                    f for f in self._outbox_listeners if f is not listener
                )

        return unsubscribe

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        with (
            _store_errors(),
            Session(self._writer(), expire_on_commit=False) as session,
            session.begin(),
        ):
            uow = UnitOfWork(session, writable=True)
            yield uow
            uow._before_commit()
        if uow.queued_notifications:  # committed
            for listener in self._outbox_listeners:
                try:
                    listener()
                except Exception:
                    log.exception("an outbox listener failed")

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        """A read-only transaction; rolled back at the end."""
        # The session begins on first use and rolls back when it closes.
        with _store_errors(), Session(self._get_engine()) as session:
            yield UnitOfWork(session, writable=False)

    def accounts_by_sub(self, subs: Sequence[str]) -> dict[str, AccountRecord]:
        """The accounts of ``subs`` that exist, by sub: one statement outside any unit of
        work. The availability query reads its members' versions so on every request
        (a cached answer needs nothing else), without BEGIN and ROLLBACK round trips."""
        from calsync.store.repos import busy

        with _store_errors():
            connection = self._get_engine().connect()
            if self._backend == "postgresql":
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            with connection:
                return busy.accounts_on(connection, subs)

    def resolve_access_token(self, plaintext: str) -> tuple[datetime | None, AccountRecord] | None:
        """``(expires_at, account)`` of a live access token, else None: the API's
        per-request auth, one query outside any unit of work (see `tokens.resolve_access`)."""
        from calsync.store.repos import tokens

        with _store_errors():
            connection = self._get_engine().connect()
            if self._backend == "postgresql":
                # One statement needs no transaction: no BEGIN and ROLLBACK round trips.
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            with connection:
                return tokens.resolve_access(connection, plaintext)

    def count_request(
        self, key: str, windows: Sequence[tuple[int, int]], now: float
    ) -> float | None:
        """PostgreSQL: count an API request of ``key`` in the shared rate-limit
        windows (``(seconds, limit)``); None when allowed, else seconds to wait
        (see `rate_counts`). One short transaction."""
        from calsync.store.repos import rate_counts

        with _store_errors(), self._get_engine().begin() as connection:
            return rate_counts.hit(connection, key, windows, now)

    def due_listener(self) -> DueListener | None:
        """PostgreSQL: a listener for calendars other replicas marked due (see
        `calsync.store.due_signals`); None on SQLite (one process, woken in memory)."""
        if self._backend != "postgresql":
            return None
        return DueListener(self._get_engine())

    def prune_rate_counts(self, now: float, longest: int) -> int:
        from calsync.store.repos import rate_counts

        with _store_errors():
            connection = self._get_engine().connect()
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            with connection:
                return rate_counts.prune(connection, now, longest)

    def prune_history(self, before: datetime, *, batch: int = 5000) -> retention.PruneCounts:
        """Delete finished history created before ``before`` (see `calsync.store.repos.retention`),
        ``batch`` rows per write transaction."""
        from calsync.store.repos import retention

        counts: dict[str, int] = {}
        for table in retention.TABLES:
            counts[table] = 0
            while True:
                with _store_errors(), self._writer().begin() as connection:
                    pruned = retention.prune_batch(connection, table, before, batch)
                counts[table] += pruned
                if pruned < batch:
                    break
        return retention.PruneCounts(**counts)

    def bulk_load_events(self, events: Iterable[event_bulk.BulkEvent], *, chunk: int = 5000) -> int:
        """Benchmarks only: insert events in bulk, bypassing the change log and
        outbox, then refresh planner statistics. See `calsync.store.repos.event_bulk`."""
        from calsync.store.repos import event_bulk

        with _store_errors():
            with self._writer().begin() as connection:
                loaded = event_bulk.load(connection, events, chunk)
            engine = self._get_engine()
            if self._backend == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE events")
            else:
                with engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
        return loaded

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _writer(self) -> Engine:
        return self._get_engine().execution_options(**{WRITER_OPTION: True})


@contextmanager
def _store_errors() -> Iterator[None]:
    """Connection-level database failures become `StoreError`; the rest passes through."""
    try:
        yield
    except sa_exc.OperationalError as exc:
        raise StoreError(f"store unavailable: {exc.orig or exc}") from exc
    except sa_exc.ProgrammingError as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            raise StoreError(f"the store is not migrated: {exc.orig or exc}") from exc
        raise
