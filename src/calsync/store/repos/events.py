"""Events: the single write path and the reads built on it.

Every mutation (API upsert/delete, sync upsert/delete, bulk delete) funnels into
`EventRepo._write_batch`, which per batch:

1. locks the owning account (`Journal.lock_account`) *before* looking anything
   up, so concurrent writers of one account see each other's committed rows and
   never race on the unique keys;
2. reads the stored fingerprints of the whole batch in one light SELECT, and
   skips every change whose fingerprint and deleted flag are unchanged
   (`WriteOutcome.UNCHANGED`; a changed etag is stored quietly);
3. loads the rows that do change, stamps each change with the account clock
   (`Journal.stamp`), writes it and records it in the change log and outbox.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from calsync.errors import NotFound
from calsync.ids import new_id
from calsync.model import EventContent, RemoteEvent, content_fingerprint
from calsync.store.event_codec import content_columns, snapshot
from calsync.store.journal import Journal
from calsync.store.models import Calendar, ChangeLogEntry, Event
from calsync.store.records import EventRecord, EventSyncState, EventWrite, WriteOutcome
from calsync.store.repos import event_reads, event_sync_reads
from calsync.store.repos.event_reads import EventQuery, to_record
from calsync.store.repos.event_rules import (
    API,
    SYNC,
    Change,
    decide,
    needs_row,
    on_remote,
    set_meta,
    set_push_state,
)
from calsync.store.sql import chunks, utcnow

_CHANGED = (WriteOutcome.CREATED, WriteOutcome.UPDATED, WriteOutcome.DELETED)
_META = ("remote_id", "ical_uid", "etag", "remote_updated", "recurring_event_uid")
#: Every column but the key, in table order: the shape of a new row.
_NEW_ROW_COLUMNS = tuple(c.key for c in Event.__table__.columns if c.key != "id")


class _NewRow:
    """A row this batch creates: a plain attribute bag, not an ORM entity.

    Entities cost ~3x more to build (attribute instrumentation), and a new row
    is only ever inserted with the batch's one executemany, then read as a record.
    """

    id: int | None
    event_uid: str

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(dict.fromkeys(_NEW_ROW_COLUMNS), id=None, **values)

    def values(self) -> dict[str, Any]:
        return {c: self.__dict__[c] for c in _NEW_ROW_COLUMNS}


@dataclass(frozen=True, slots=True)
class _CalendarKey:
    pk: int
    account_pk: int
    calendar_id: str


class EventRepo:
    def __init__(self, session: Session, journal: Journal) -> None:
        self._session = session
        self._journal = journal
        self._calendars: dict[int, _CalendarKey] = {}

    # -- writes ----------------------------------------------------------------

    def upsert_managed(self, calendar_pk: int, event_id: str, content: EventContent) -> EventWrite:
        """Create or update the app's event ``event_id`` and queue its push."""
        return self.upsert_managed_many(calendar_pk, [(event_id, content)])[0]

    def upsert_managed_many(
        self, calendar_pk: int, items: Sequence[tuple[str, EventContent]]
    ) -> list[EventWrite]:
        changes = [
            Change(key=eid, content=c, source=API, event_id=eid, managed=True) for eid, c in items
        ]
        return self._write_batch(calendar_pk, Event.event_id, changes)

    def upsert_remote(self, calendar_pk: int, event: RemoteEvent) -> EventWrite:
        return self.upsert_remote_many(calendar_pk, [event])[0]

    def upsert_remote_many(
        self, calendar_pk: int, events: Sequence[RemoteEvent]
    ) -> list[EventWrite]:
        """Store what a provider listed, keyed by ``remote_id``.

        An event carrying ``origin_event_uid`` (our own push coming back) is
        matched to that event. ``master_remote_id`` is resolved to the master's
        ``event_uid`` when the master is stored already or earlier in the batch.
        """
        changes = [
            Change(
                key=e.remote_id,
                content=e.content,
                source=SYNC,
                event_uid=e.origin_event_uid,
                remote_id=e.remote_id,
                ical_uid=e.ical_uid,
                etag=e.etag,
                remote_updated=e.remote_updated,
                master_remote_id=e.master_remote_id,
            )
            for e in events
        ]
        return self._write_batch(calendar_pk, Event.remote_id, changes)

    def delete_managed(self, calendar_pk: int, event_id: str) -> EventWrite:
        """Tombstone the app's event; a push of the delete is queued if it reached the provider."""
        change = Change(key=event_id, content=None, source=API)
        return self._write_batch(calendar_pk, Event.event_id, [change])[0]

    def delete_by_uid(self, calendar_pk: int, event_uid: str, *, source: str = API) -> EventWrite:
        change = Change(key=event_uid, content=None, source=source)
        return self._write_batch(calendar_pk, Event.event_uid, [change])[0]

    def delete_remote_many(self, calendar_pk: int, remote_ids: Sequence[str]) -> list[EventWrite]:
        """Tombstone events the provider reports gone."""
        changes = [Change(key=rid, content=None, source=SYNC) for rid in remote_ids]
        return self._write_batch(calendar_pk, Event.remote_id, changes)

    def delete_calendars(self, calendar_pks: Iterable[int], *, source: str = API) -> int:
        """Tombstone every live event of the calendars; returns how many."""
        total = 0
        for calendar_pk in calendar_pks:
            self._journal.lock_account(self._calendar(calendar_pk).account_pk)
            uids = self._session.execute(
                select(Event.event_uid).where(
                    Event.calendar_id == calendar_pk, Event.deleted.is_(False)
                )
            ).scalars()
            changes = [Change(key=uid, content=None, source=source) for uid in uids]
            for batch in chunks(changes):
                writes = self._write_batch(calendar_pk, Event.event_uid, batch)
                total += sum(w.changed for w in writes)
        return total

    def mark_pushed(
        self,
        event_uid: str,
        *,
        remote_id: str | None,
        etag: str | None,
        base: str | None,
        pushed_seq: int,
    ) -> None:
        """Record that the version ``pushed_seq`` reached the provider, which now
        holds the version ``base`` (stored as `Event.base_fingerprint`; None:
        unknown, or nothing).

        If the event changed since (``change_seq`` moved on) it stays pending,
        now as an update (or a delete) of the remote event.
        """
        self._journal.require_writable()
        row = self._session.execute(
            select(Event).where(Event.event_uid == event_uid).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no event {event_uid}")
        if remote_id is not None:
            row.remote_id = remote_id
        row.etag = etag
        row.base_fingerprint = base
        if row.change_seq == pushed_seq:
            row.push_state, row.pending_op = "none", None
        elif row.deleted:
            row.push_state, row.pending_op = "pending", "delete"
        else:
            row.push_state, row.pending_op = "pending", "update"

    def requeue_create(self, event_uid: str) -> None:
        """The provider no longer has the event but the local version stands
        (a conflict the local side won, or our own delete coming back before a
        later write): push it as a new event."""
        self._journal.require_writable()
        row = self._session.execute(
            select(Event).where(Event.event_uid == event_uid).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no event {event_uid}")
        row.push_state, row.pending_op, row.etag = "pending", "create", None
        row.base_fingerprint = None

    def record_conflict(self, event_uid: str, losing: RemoteEvent | None) -> None:
        """Keep the remote version that lost a conflict to the local one.

        Appends a change-log row (op ``conflict``, source ``sync``, ``seq`` =
        the event's current change sequence) whose ``previous`` is the losing
        remote version (None: the remote side had deleted the event). The
        stored event does not change, so nothing is stamped or notified.
        (When the remote side wins, its write already logs the local version.)
        """
        self._journal.require_writable()
        row = self._session.execute(
            select(Event).where(Event.event_uid == event_uid)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no event {event_uid}")
        previous = None
        if losing is not None:
            cols = content_columns(losing.content)
            previous = {
                key: value.isoformat() if isinstance(value, date) else value
                for key, value in cols.items()
            }
            previous.update(
                remote_id=losing.remote_id,
                ical_uid=losing.ical_uid,
                etag=losing.etag,
                fingerprint=content_fingerprint(losing.content),
            )
        self._session.add(
            ChangeLogEntry(
                account_id=row.account_id,
                calendar_id=row.calendar_id,
                event_uid=event_uid,
                seq=row.change_seq,
                op="conflict",
                source=SYNC,
                updated=utcnow(),
                previous=previous,
            )
        )

    # -- reads -----------------------------------------------------------------

    def get(self, event_uid: str) -> EventRecord | None:
        return event_reads.get_one(self._session, Event.event_uid == event_uid)

    def get_in_calendar(
        self,
        calendar_pk: int,
        *,
        event_id: str | None = None,
        event_uid: str | None = None,
        remote_id: str | None = None,
    ) -> EventRecord | None:
        conditions: list[Any] = [Event.calendar_id == calendar_pk]
        for column, value in (
            (Event.event_id, event_id),
            (Event.event_uid, event_uid),
            (Event.remote_id, remote_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if len(conditions) == 1:
            raise ValueError("give event_id, event_uid or remote_id")
        return event_reads.get_one(self._session, *conditions)

    def list_calendar(
        self, calendar_pk: int, *, include_deleted: bool = False
    ) -> list[EventRecord]:
        """Every event of one calendar (the sync engine's view of local state).

        Read as plain rows, not ORM objects: the engine reads the whole calendar
        on every pass, and identity-map bookkeeping tripled the cost.
        """
        stmt = (
            select(*Event.__table__.columns, Calendar.public_id)
            .join(Calendar, Calendar.id == Event.calendar_id)
            .where(Event.calendar_id == calendar_pk)
            .order_by(Event.id)
        )
        if not include_deleted:
            stmt = stmt.where(Event.deleted.is_(False))
        # A row has every column as an attribute, which is all `to_record` reads.
        return [to_record(cast(Event, row), row.public_id) for row in self._session.execute(stmt)]

    def sync_states(self, calendar_pk: int) -> list[EventSyncState]:
        """Every event of one calendar, tombstones included, as the planner needs it:
        about 20x cheaper than `list_calendar`, which decodes every event's content."""
        return event_sync_reads.all_states(self._session, calendar_pk)

    def sync_states_near(
        self,
        calendar_pk: int,
        *,
        remote_ids: Collection[str],
        event_uids: Collection[str],
        unconfirmed_etag_prefix: str,
    ) -> list[EventSyncState]:
        """What an incremental pull can touch (`event_sync_reads.states_near`)."""
        return event_sync_reads.states_near(
            self._session,
            calendar_pk,
            remote_ids=remote_ids,
            event_uids=event_uids,
            unconfirmed_etag_prefix=unconfirmed_etag_prefix,
        )

    def list_instances(self, recurring_event_uids: Sequence[str]) -> list[EventRecord]:
        """Overrides and instances of the given masters (live and deleted)."""
        if not recurring_event_uids:
            return []
        return event_reads.list_where(
            self._session, Event.recurring_event_uid.in_(list(recurring_event_uids))
        )

    def count_live(self, calendar_pk: int) -> int:
        return event_reads.count_live(self._session, calendar_pk)

    def list_changed(self, query: EventQuery) -> list[EventRecord]:
        return event_reads.list_changed(self._session, query)

    def pending_pushes(
        self, *, calendar_pk: int | None = None, limit: int = 100
    ) -> list[EventRecord]:
        conditions: list[Any] = [Event.push_state == "pending"]
        if calendar_pk is not None:
            conditions.append(Event.calendar_id == calendar_pk)
        return event_reads.list_where(self._session, *conditions, limit=limit)

    # -- the write path ---------------------------------------------------------

    def _calendar(self, calendar_pk: int) -> _CalendarKey:
        key = self._calendars.get(calendar_pk)
        if key is None:
            found = self._session.execute(
                select(Calendar.account_id, Calendar.public_id).where(Calendar.id == calendar_pk)
            ).first()
            if found is None:
                raise NotFound(f"no calendar with key {calendar_pk}")
            key = _CalendarKey(calendar_pk, found[0], found[1])
            self._calendars[calendar_pk] = key
        return key

    def _write_batch(
        self,
        calendar_pk: int,
        key_column: InstrumentedAttribute[Any],
        changes: Sequence[Change],
    ) -> list[EventWrite]:
        cal = self._calendar(calendar_pk)
        self._journal.lock_account(cal.account_pk)  # before any lookup: see module doc
        stored = self._light_rows(calendar_pk, key_column, changes)
        fingerprints = [
            None if c.content is None else content_fingerprint(c.content) for c in changes
        ]
        to_load = {
            stored[c.key].id
            for c, fp in zip(changes, fingerprints, strict=True)
            if c.key in stored and needs_row(stored[c.key], c, fp)
        }
        loaded = self._load(to_load)
        masters = self._master_uids(calendar_pk, changes)
        touched: dict[str, Any] = {}
        created: list[_NewRow] = []
        results: list[tuple[WriteOutcome, Any]] = []
        for change, fp in zip(changes, fingerprints, strict=True):
            row = touched.get(change.key)
            state: Any = row
            if row is None and change.key in stored:
                state = stored[change.key]
                row = loaded.get(state.id)
            outcome, written = self._apply(cal, state, row, change, fp, masters)
            if outcome is WriteOutcome.CREATED:
                created.append(cast(_NewRow, written))
            if written is not None:
                touched[change.key] = written
                if written.remote_id is not None:
                    masters[written.remote_id] = written.event_uid
            results.append((outcome, written if outcome in _CHANGED else None))
        self._insert(created)
        self._session.flush()
        self._journal.flush_log()
        return [
            EventWrite(outcome, None if row is None else to_record(row, cal.calendar_id))
            for outcome, row in results
        ]

    def _insert(self, rows: Sequence[_NewRow]) -> None:
        """Insert the batch's new rows in one Core executemany (no per-row
        RETURNING, and none of the ORM bulk path's per-row bookkeeping), then
        read their keys back."""
        if not rows:
            return
        connection = self._session.connection()
        connection.execute(insert(Event), [r.values() for r in rows])
        by_uid = {r.event_uid: r for r in rows}
        for part in chunks(list(by_uid)):
            stmt = select(Event.event_uid, Event.id).where(Event.event_uid.in_(part))
            for uid, pk in connection.execute(stmt):
                by_uid[uid].id = pk

    def _light_rows(
        self, calendar_pk: int, key_column: InstrumentedAttribute[Any], changes: Sequence[Change]
    ) -> dict[str, Any]:
        """Identity and version columns of the stored rows, one SELECT per chunk."""
        cols = (
            Event.id,
            Event.fingerprint,
            Event.deleted,
            Event.base_fingerprint,
            *(getattr(Event, m) for m in _META),
        )
        stored: dict[str, Any] = {}
        keys = list({c.key for c in changes})
        for part in chunks(keys):
            stmt = select(key_column, *cols).where(
                Event.calendar_id == calendar_pk, key_column.in_(part)
            )
            for row in self._session.execute(stmt):
                stored[row[0]] = row
        # Our own pushes coming back before `mark_pushed` ran: match by event_uid.
        by_uid = {c.event_uid: c.key for c in changes if c.event_uid and c.key not in stored}
        for part in chunks(list(by_uid)):
            stmt = select(Event.event_uid, *cols).where(
                Event.calendar_id == calendar_pk, Event.event_uid.in_(part)
            )
            for row in self._session.execute(stmt):
                if row.remote_id is None:
                    stored[by_uid[row[0]]] = row
        return stored

    def _load(self, ids: set[int]) -> dict[int, Event]:
        loaded: dict[int, Event] = {}
        for part in chunks(sorted(ids)):
            stmt = select(Event).where(Event.id.in_(part)).execution_options(populate_existing=True)
            loaded.update((row.id, row) for row in self._session.execute(stmt).scalars())
        return loaded

    def _master_uids(self, calendar_pk: int, changes: Sequence[Change]) -> dict[str, str]:
        wanted = sorted({c.master_remote_id for c in changes if c.master_remote_id})
        found: dict[str, str] = {}
        for part in chunks(wanted):
            stmt = select(Event.remote_id, Event.event_uid).where(
                Event.calendar_id == calendar_pk, Event.remote_id.in_(part)
            )
            found.update((rid, uid) for rid, uid in self._session.execute(stmt) if rid)
        return found

    def _apply(
        self,
        cal: _CalendarKey,
        state: Any,
        row: Any,
        change: Change,
        fingerprint: str | None,
        masters: dict[str, str],
    ) -> tuple[WriteOutcome, Any]:
        master_uid = masters.get(change.master_remote_id) if change.master_remote_id else None
        meta = {
            "remote_id": change.remote_id,
            "ical_uid": change.ical_uid,
            "etag": change.etag,
            "remote_updated": change.remote_updated,
            "recurring_event_uid": master_uid,
            # What the provider holds now: the base of later local changes
            # (`Event.base_fingerprint`); an API write never moves it.
            "base_fingerprint": fingerprint if change.source == SYNC else None,
        }
        decision = decide(state, change, fingerprint)
        if decision in (WriteOutcome.MISSING, WriteOutcome.UNCHANGED):
            if row is not None:  # only the version tags moved: store them, record nothing
                set_meta(row, meta)
            return decision, row
        updated, seq = self._journal.stamp(cal.account_pk)
        previous = None if row is None else snapshot(row)
        was_on_remote = on_remote(row)
        if row is None:
            assert change.content is not None  # _decide: deleting nothing is MISSING
            row = _NewRow(
                event_uid=change.event_uid or new_id("evt"),
                account_id=cal.account_pk,
                calendar_id=cal.pk,
                event_id=change.event_id,
                managed=change.managed,
                created=updated,
                push_state="none",
            )  # inserted with the rest of the batch by `_insert`
        if change.content is None:
            row.deleted = True
            if change.source == SYNC:  # the provider no longer holds any version
                row.base_fingerprint = None
        else:
            for name, value in content_columns(change.content).items():
                setattr(row, name, value)
            assert fingerprint is not None
            row.fingerprint = fingerprint
            row.deleted = False
        set_meta(row, meta)
        row.updated, row.change_seq = updated, seq
        set_push_state(row, change, was_on_remote=was_on_remote)
        op = "created" if previous is None else ("deleted" if row.deleted else "updated")
        self._journal.record(
            row, calendar_id=cal.calendar_id, op=op, source=change.source, previous=previous
        )
        return WriteOutcome(op), row
