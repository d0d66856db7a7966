"""Pruning finished history: delivered or abandoned notifications, consumed
outbox rows, the change log, and old push-journal rows (a push whose
provider version no pull ever saw, e.g. an event outside the sync window).

These tables only grow (every event change adds a change-log row with the
previous version, and an outbox row and a delivery per subscribed channel), so
a daemon that runs for years must forget them. Nothing pending is ever pruned:
an outbox row still to fan out or a delivery still to be attempted stays,
however old. Rows go in batches, each in its own short transaction, so a large
first prune never holds SQLite's write lock for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.engine import Connection

from calsync.store.channels_models import Delivery
from calsync.store.models import ChangeLogEntry, OutboxEntry
from calsync.store.push_models import PushAttempt
from calsync.store.repos.channel_leases import PENDING as DELIVERY_PENDING
from calsync.store.repos.journal_repos import PENDING as OUTBOX_PENDING


@dataclass(frozen=True, slots=True)
class PruneCounts:
    deliveries: int = 0
    outbox: int = 0
    changes: int = 0
    push_attempts: int = 0

    @property
    def total(self) -> int:
        return self.deliveries + self.outbox + self.changes + self.push_attempts


_Prunable = type[Delivery] | type[OutboxEntry] | type[ChangeLogEntry] | type[PushAttempt]


def _finished(table: str, before: datetime) -> tuple[_Prunable, ColumnElement[bool]]:
    """A table's model and what makes one of its rows prunable."""
    if table == "deliveries":
        return Delivery, (Delivery.status != DELIVERY_PENDING) & (Delivery.created_at < before)
    if table == "outbox":
        return OutboxEntry, (OutboxEntry.status != OUTBOX_PENDING) & (
            OutboxEntry.created_at < before
        )
    if table == "changes":
        return ChangeLogEntry, ChangeLogEntry.updated < before
    if table == "push_attempts":
        return PushAttempt, PushAttempt.attempted_at < before
    raise ValueError(f"no history table {table!r}")


def prune_batch(connection: Connection, table: str, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` prunable rows of ``table``; returns how many went.

    ``DELETE … WHERE id IN (SELECT … LIMIT n)``: both back ends take it, and the
    oldest rows (lowest ids) go first.
    """
    model, condition = _finished(table, before)
    oldest = select(model.id).where(condition).order_by(model.id).limit(limit)
    result = connection.execute(delete(model).where(model.id.in_(oldest.scalar_subquery())))
    return int(result.rowcount or 0)


TABLES = ("deliveries", "outbox", "changes", "push_attempts")
