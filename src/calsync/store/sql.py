"""Small dialect-aware SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.orm import Session

T = TypeVar("T")

#: Bound parameters per IN (...) list; far below SQLite's and psycopg's limits.
IN_CHUNK = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_ignore(
    session: Session, table: Table, values: Mapping[str, Any], conflict: Sequence[str]
) -> None:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING``: race-free get-or-create."""
    insert = _insert(session)
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict))


def upsert(
    session: Session,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE SET update…``."""
    insert = _insert(session)
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=conflict, set_={name: stmt.excluded[name] for name in update}
    )
    session.execute(stmt)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_*``). Imported on use: SQLAlchemy's
    PostgreSQL dialect takes ~40 ms to import, which a SQLite `calsync sync --once`
    never needs (and the engine imports the dialect it connects with anyway)."""
    if _dialect(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
