"""The availability query's reads: subs to accounts, and one member's busy candidates.

`busy_rows` is ONE statement per member, a ``UNION ALL`` of three index range scans
(migration 0009): the account's single events overlapping the window
(``(account_id, end_at)``: history before the window is never walked), its series
masters (``(account_id, recurring)``: a master may reach any window, an RDATE before
DTSTART included) and its overrides (``(account_id, recurring_event_uid)``: an
override moved out of the window still removes its occurrence from it). Deleted
events and events of deleted calendars are left out; transparency, status and
participation are decided by the caller, which also expands the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Text, bindparam, cast, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from calsync.store.event_codec import content_from_values
from calsync.store.models import Account, Calendar, Event, UTCDateTime
from calsync.store.records import AccountRecord, BusyRow
from calsync.store.repos.accounts import account_record
from calsync.store.repos.event_rows import decode_json

_E = Event.__table__.c
_C = Calendar.__table__.c

_COLUMNS = (
    _E.event_uid,
    _E.recurring_event_uid,
    _E.recurring,
    _E.all_day,
    _E.start_at,
    _E.end_at,
    _E.start_date,
    _E.end_date,
    _E.tzid,
    _E.transparency,
    _E.status,
    cast(_E.attendees, Text),
    cast(_E.recurrence, Text),
    _E.original_start_at,
    _E.original_start_date,
)


def _arm(with_calendars: bool, *conditions: Any) -> Select[Any]:
    stmt = (
        select(*_COLUMNS)
        .join_from(Event.__table__, Calendar.__table__, _E.calendar_id == _C.id)
        .where(_E.account_id == bindparam("account_pk"), _E.deleted.is_(False))
        .where(_C.deleted.is_(False), *conditions)
    )
    if with_calendars:
        stmt = stmt.where(_C.public_id.in_(bindparam("calendar_ids", expanding=True)))
    return stmt


def _statement(with_calendars: bool) -> Any:
    window_start = bindparam("window_start", type_=UTCDateTime())
    window_end = bindparam("window_end", type_=UTCDateTime())
    singles = _arm(
        with_calendars,
        _E.end_at > window_start,
        _E.start_at < window_end,
        _E.recurring.is_(False),
        _E.recurring_event_uid.is_(None),
    )
    masters = _arm(with_calendars, _E.recurring.is_(True))
    # Only `recurring_event_uid` here, so the (account_id, recurring_event_uid) index
    # is the one that serves it (with `recurring` too, SQLite walks every single event
    # of the account by (account_id, recurring)). A recurring override comes twice; the
    # caller keys series by uid, so the copy is harmless.
    overrides = _arm(with_calendars, _E.recurring_event_uid.is_not(None))
    return union_all(singles, masters, overrides)


#: Built once per shape: building the statement costs more than running it on a warm cache.
_STATEMENTS = {shape: _statement(shape) for shape in (False, True)}


def busy_rows(
    session: Session,
    account_pk: int,
    calendar_ids: Sequence[str] | None,
    window: tuple[datetime, datetime],
) -> list[BusyRow]:
    """The account's events that may be busy inside ``window`` (see the module doc)."""
    if calendar_ids is not None and not calendar_ids:
        return []
    params: dict[str, Any] = {
        "account_pk": account_pk,
        "window_start": window[0],
        "window_end": window[1],
    }
    if calendar_ids is not None:
        params["calendar_ids"] = list(calendar_ids)
    rows = session.connection().execute(_STATEMENTS[calendar_ids is not None], params).all()
    return [_busy_row(row) for row in rows]


_CHANGED = (
    select(*_COLUMNS, _E.deleted, _C.deleted, _C.public_id)
    .join_from(Event.__table__, Calendar.__table__, _E.calendar_id == _C.id)
    .where(_E.account_id == bindparam("account_pk"), _E.change_seq > bindparam("since"))
)
_CALENDAR_STATES = (
    select(_C.id, _C.deleted).where(_C.account_id == bindparam("account_pk")).order_by(_C.id)
)


def calendar_states(session: Session, account_pk: int) -> tuple[tuple[int, bool], ...]:
    """The account's calendars and their deleted flags: a calendar deleted or restored
    moves the account's version without touching its events' ``change_seq``, so a
    caller that keeps rows by version compares these before trusting `busy_changes`."""
    found = session.connection().execute(_CALENDAR_STATES, {"account_pk": account_pk})
    return tuple((pk, bool(deleted)) for pk, deleted in found)


def busy_changes(
    session: Session,
    account_pk: int,
    calendar_ids: Sequence[str] | None,
    window: tuple[datetime, datetime],
    since: int,
) -> list[tuple[str, BusyRow | None]]:
    """The account's events written after version ``since`` (``change_seq > since``),
    each as ``(event_uid, row)``: ``row`` is what `busy_rows` would return for it now,
    or None when it would not return it (deleted, its calendar deleted or not among
    ``calendar_ids``, a single event moved out of ``window``). Every event write stamps
    ``change_seq`` under the account's row lock, so applied over a `busy_rows` result
    read at version ``since`` this gives the `busy_rows` result of now (one
    statement over the rows that changed, instead of the member's ~1,000)."""
    if calendar_ids is not None and not calendar_ids:
        return []
    wanted = set(calendar_ids) if calendar_ids is not None else None
    rows = session.connection().execute(_CHANGED, {"account_pk": account_pk, "since": since})
    found: list[tuple[str, BusyRow | None]] = []
    for row in rows:
        *columns, deleted, calendar_deleted, public_id = row
        recurring, recurring_event_uid, start_at, end_at = (
            columns[2],
            columns[1],
            columns[4],
            columns[5],
        )
        keep = (
            not deleted
            and not calendar_deleted
            and (wanted is None or public_id in wanted)
            and (
                recurring
                or recurring_event_uid is not None
                or (end_at > window[0] and start_at < window[1])
            )
        )
        found.append((columns[0], _busy_row(columns) if keep else None))
    return found


def _busy_row(row: Any) -> BusyRow:
    (
        event_uid,
        recurring_event_uid,
        recurring,
        all_day,
        start_at,
        end_at,
        start_date,
        end_date,
        tzid,
        transparency,
        status,
        attendees,
        recurrence,
        original_start_at,
        original_start_date,
    ) = row
    content = None
    if recurring or recurring_event_uid is not None:
        content = content_from_values(
            summary="",
            all_day=all_day,
            start_at=start_at,
            end_at=end_at,
            start_date=start_date,
            end_date=end_date,
            tzid=tzid,
            description="",
            location=None,
            attendees=decode_json(attendees),
            organizer=None,
            transparency=transparency,
            status=status,
            recurrence=decode_json(recurrence),
            original_start_at=original_start_at,
            original_start_date=original_start_date,
            url=None,
            color=None,
            private=False,
        )
    # Positional, in the record's field order: a member's read builds ~1,000 of these
    # after every write to it, and keywords cost twice as much on a frozen dataclass.
    return BusyRow(
        event_uid,
        recurring_event_uid,
        recurring,
        all_day,
        start_at,
        end_at,
        start_date,
        end_date,
        tzid,
        transparency,
        status,
        attendees,
        content,
    )


def accounts_by_sub(session: Session, subs: Sequence[str]) -> dict[str, AccountRecord]:
    """The accounts of ``subs`` that exist (one query), by sub."""
    return accounts_on(session.connection(), subs)


def accounts_on(connection: Connection, subs: Sequence[str]) -> dict[str, AccountRecord]:
    """`accounts_by_sub` on a bare connection (`Store.accounts_by_sub`)."""
    if not subs:
        return {}
    # Core rows, not ORM entities, and a statement built once: this runs on every
    # availability request, cached answers included.
    found = connection.execute(_ACCOUNTS, {"subs": list(subs)})
    return {row.sub: account_record(row) for row in found}


_A = Account.__table__
_ACCOUNTS = select(_A).where(_A.c.sub.in_(bindparam("subs", expanding=True)))


def known_calendar_ids(session: Session, account_pk: int, calendar_ids: Sequence[str]) -> set[str]:
    """Which of ``calendar_ids`` are calendars of the account (deleted ones included)."""
    if not calendar_ids:
        return set()
    stmt = select(_C.public_id).where(
        _C.account_id == account_pk, _C.public_id.in_(list(calendar_ids))
    )
    return set(session.execute(stmt).scalars())
