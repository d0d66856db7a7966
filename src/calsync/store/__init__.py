"""The store: the only package that imports SQLAlchemy.

Public interface (everything else in this package is private)::

    store = Store("sqlite:///var/calsync.db")   # or postgresql+psycopg://user@host/db
    store.upgrade()                   # alembic upgrade head (`calsync db upgrade`)
    store.ensure_current()            # StoreError unless at head
    with store.write() as uow:        # one transaction; commits on success
        account = uow.accounts.get_or_create_connected("work")
        uow.events.upsert_managed(calendar.pk, "app-id-1", content)
    with store.read() as uow:         # read-only transaction
        uow.events.list_changed(EventQuery(account_pk=account.pk, since=...))

``UnitOfWork`` attributes: ``accounts``, ``profiles``, ``calendars``, ``events``,
``tokens``, ``changes``, ``outbox``, ``cursors``, ``channels``,
``provider_channels``, ``push_journal``. Repositories return the frozen
records of `calsync.store.records`, never ORM objects. Records carry ``pk``
(internal keys to pass back to repositories) and public ids (``sub``,
``profile_id``, ``calendar_id``, ``event_uid``) for the outside world. Lookups
by public id are scoped to an account and raise `calsync.errors.NotFound` for
anyone else's objects.

The event write path and its clock
----------------------------------
Every event mutation goes through ``EventRepo._write_batch``: unchanged content
(same fingerprint and deleted flag) is skipped; anything else gets ``updated``
and ``change_seq`` from the owning account's clock and a change-log row (with
the previous version as JSON) plus an outbox notification, all in the caller's
transaction. The outbox gets one ``change`` row per calendar per transaction,
whose payload carries ``changes_since`` (the earliest ``updated`` it covers).

The clock is what makes ``last_modified`` reads safe. Each write transaction
first locks its account's row (``SELECT … FOR NO KEY UPDATE`` on PostgreSQL;
on SQLite ``BEGIN IMMEDIATE`` already serializes writers) and stamps
``updated = max(now, account.last_change_at)`` and
``change_seq = account.last_change_seq + 1``, storing both back on the account.
The lock is held until commit, so per account commit order equals ``updated``
order: once a client has seen a change at ``updated = t``, every change it has
not seen yet commits later and carries ``updated >= t``, so asking again with
``updated >= t`` (whole seconds, inclusive, as Cronofy does) never misses one,
even with concurrent writers inside the same second. Taking the lock before
looking rows up also makes concurrent upserts of one ``event_id`` safe: the
second writer sees the first one's row instead of violating a unique key.
"""

from typing import TYPE_CHECKING, Any

from calsync.store.due_signals import DueListener, DueSignal
from calsync.store.records import (
    AccountRecord,
    CalendarRecord,
    ChangeRecord,
    CursorRecord,
    EventRecord,
    EventSyncState,
    EventWrite,
    OutboxRecord,
    ProfileRecord,
    PushAttemptRecord,
    TokenRecord,
    WriteOutcome,
)
from calsync.store.repos.calendars import UNSET
from calsync.store.repos.event_reads import EventQuery
from calsync.store.unit_of_work import Store, UnitOfWork

if TYPE_CHECKING:
    from calsync.store.repos.event_bulk import BulkEvent
    from calsync.store.repos.sync_leases import LeaseGrant, LeaseRecord, ReplicaRecord

#: Imported on first use (issue #11): the lease tables only PostgreSQL replicas
#: use, the bulk loader only benchmarks.
_LAZY = {
    "BulkEvent": "calsync.store.repos.event_bulk",
    "LeaseGrant": "calsync.store.repos.sync_leases",
    "LeaseRecord": "calsync.store.repos.sync_leases",
    "ReplicaRecord": "calsync.store.repos.sync_leases",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


__all__ = [
    "UNSET",
    "AccountRecord",
    "BulkEvent",
    "CalendarRecord",
    "ChangeRecord",
    "CursorRecord",
    "DueListener",
    "DueSignal",
    "EventQuery",
    "EventRecord",
    "EventSyncState",
    "EventWrite",
    "LeaseGrant",
    "LeaseRecord",
    "OutboxRecord",
    "ProfileRecord",
    "PushAttemptRecord",
    "ReplicaRecord",
    "Store",
    "TokenRecord",
    "UnitOfWork",
    "WriteOutcome",
]
