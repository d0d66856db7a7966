"""Small dialect-aware SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
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
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict))


def upsert(
    session: Session,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE SET update…``."""
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=conflict, set_={name: stmt.excluded[name] for name in update}
    )
    session.execute(stmt)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
