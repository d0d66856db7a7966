"""The bookkeeping half of the event write path: clock, change log and outbox.

One `Journal` lives for one write transaction. `stamp` locks the owning
account's row and hands out the next ``(updated, change_seq)``; `record`
appends the change-log row and folds the change into one pending outbox row per
(account, calendar); `finish` adds those outbox rows just before commit, so a
transaction that fails leaves neither data nor log nor notification behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from calsync.store.models import Account, ChangeLogEntry, Event, OutboxEntry
from calsync.store.sql import utcnow

CHANGE_KIND = "change"


@dataclass(slots=True)
class _PendingNotification:
    account_pk: int
    calendar_pk: int
    calendar_id: str
    changes_since: datetime
    first_seq: int
    last_seq: int
    count: int = 0
    managed: bool = False
    external: bool = False


class Journal:
    def __init__(self, session: Session, *, writable: bool) -> None:
        self._session = session
        self._writable = writable
        self._locked: dict[int, Account] = {}
        self._pending: dict[int, _PendingNotification] = {}
        self._log_rows: list[dict[str, Any]] = []
        #: Outbox rows this transaction added (`Store.on_outbox` wakes a relay for them).
        self.outbox_rows = 0

    def require_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("this unit of work is read-only; use Store.write()")

    def lock_account(self, account_pk: int) -> Account:
        """Lock the account row until commit (``FOR NO KEY UPDATE`` on PostgreSQL;
        SQLite writers already hold the database write lock from ``BEGIN IMMEDIATE``)."""
        self.require_writable()
        account = self._locked.get(account_pk)
        if account is None:
            stmt = (
                select(Account)
                .where(Account.id == account_pk)
                .with_for_update(key_share=True)
                .execution_options(populate_existing=True)
            )
            account = self._session.execute(stmt).scalar_one()
            self._locked[account_pk] = account
        return account

    def stamp(self, account_pk: int) -> tuple[datetime, int]:
        """The next ``(updated, change_seq)`` of the account: never behind a
        committed one, because the row lock is held until this commit."""
        account = self.lock_account(account_pk)
        now = utcnow()
        last = account.last_change_at
        updated = now if last is None or now > last else last
        seq = account.last_change_seq + 1
        account.last_change_at = updated
        account.last_change_seq = seq
        return updated, seq

    def bump_version(self, account_pk: int) -> None:
        """Advance the account's ``change_seq`` for a change that is not an event.

        ``last_change_seq`` doubles as the version of everything the account's
        reads render (the API's read cache keys on it), so calendar changes
        that alter rendered events (read-only, deleted) must move it too. It
        goes through the locked ORM row so a later `stamp` in the same
        transaction continues from it; gaps in the sequence are harmless.
        """
        account = self.lock_account(account_pk)
        account.last_change_seq += 1

    def record(
        self,
        row: Event | Any,
        *,
        calendar_id: str,
        op: str,
        source: str,
        previous: dict[str, Any] | None,
    ) -> None:
        self._log_rows.append(
            {
                "account_id": row.account_id,
                "calendar_id": row.calendar_id,
                "event_uid": row.event_uid,
                "seq": row.change_seq,
                "op": op,
                "source": source,
                "updated": row.updated,
                "previous": previous,
            }
        )
        pending = self._pending.get(row.calendar_id)
        if pending is None:
            pending = _PendingNotification(
                account_pk=row.account_id,
                calendar_pk=row.calendar_id,
                calendar_id=calendar_id,
                changes_since=row.updated,
                first_seq=row.change_seq,
                last_seq=row.change_seq,
            )
            self._pending[row.calendar_id] = pending
        pending.count += 1
        pending.last_seq = row.change_seq
        pending.managed |= row.managed
        pending.external |= not row.managed

    def flush_log(self) -> None:
        """Write the buffered change-log rows (one executemany, no RETURNING)."""
        if self._log_rows:
            # Core, not the ORM bulk path: its per-row bookkeeping cost as much
            # as the INSERT itself on large initial syncs.
            self._session.connection().execute(insert(ChangeLogEntry), self._log_rows)
            self._log_rows = []

    def finish(self) -> None:
        """Add the transaction's outbox rows; called right before commit."""
        self.flush_log()
        now = utcnow()
        for p in self._pending.values():
            payload = {
                "calendar_id": p.calendar_id,
                "changes_since": p.changes_since.isoformat(),
                "first_seq": p.first_seq,
                "last_seq": p.last_seq,
                "change_count": p.count,
                "managed": p.managed,
                "external": p.external,
            }
            self._session.add(
                OutboxEntry(
                    account_id=p.account_pk,
                    calendar_id=p.calendar_pk,
                    kind=CHANGE_KIND,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    available_at=now,
                    created_at=now,
                )
            )
        self.outbox_rows += len(self._pending)
        self._pending.clear()
