"""The push journal's repository: record pushes before they are made, read
them back for the planner, forget them once a pull has seen the outcome.

Recording is its own short transaction, committed before the provider call
(`calsync.sync.push`): the record must survive the call's answer being lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from calsync.store.journal import Journal
from calsync.store.push_models import PushAttempt
from calsync.store.records import PushAttemptRecord
from calsync.store.sql import chunks, utcnow


class PushJournalRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal

    def record(self, calendar_pk: int, attempts: Sequence[PushAttemptRecord]) -> None:
        """Write-ahead: the pushes about to be made (one executemany)."""
        self._journal.require_writable()
        if not attempts:
            return
        now = utcnow()
        self._session.add_all(
            PushAttempt(
                calendar_id=calendar_pk,
                event_uid=a.event_uid,
                change_seq=a.change_seq,
                op=a.op,
                content_key=a.content_key,
                attempted_at=now,
            )
            for a in attempts
        )
        self._session.flush()

    def for_calendar(self, calendar_pk: int) -> dict[str, tuple[PushAttemptRecord, ...]]:
        """Every recorded push of the calendar's events, oldest first per event.

        Rows live only until a pull sees the provider's version, so this is
        small: the pushes made since the calendar's last pull.
        """
        stmt = (
            select(PushAttempt.event_uid, PushAttempt.change_seq, PushAttempt.op)
            .add_columns(PushAttempt.content_key)
            .where(PushAttempt.calendar_id == calendar_pk)
            .order_by(PushAttempt.event_uid, PushAttempt.change_seq, PushAttempt.id)
        )
        found: dict[str, list[PushAttemptRecord]] = {}
        for row in self._session.execute(stmt):
            found.setdefault(row[0], []).append(PushAttemptRecord(*row))
        return {uid: tuple(rows) for uid, rows in found.items()}

    def forget(self, forgets: Iterable[tuple[str, int | None]]) -> None:
        """Drop recorded pushes: ``(event_uid, up_to_seq)``, None = all of the event's."""
        self._journal.require_writable()
        whole = sorted({uid for uid, seq in forgets if seq is None})
        for part in chunks(whole):
            self._session.execute(delete(PushAttempt).where(PushAttempt.event_uid.in_(part)))
        for uid, seq in forgets:
            if seq is not None and uid not in whole:
                self._session.execute(
                    delete(PushAttempt).where(
                        PushAttempt.event_uid == uid, PushAttempt.change_seq <= seq
                    )
                )
