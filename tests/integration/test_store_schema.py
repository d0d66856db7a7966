"""Migrations, schema agreement, engine settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from calsync.errors import StoreError
from calsync.store import Store
from calsync.store.schema import current_revision, head_revision, schema_diff


def test_migrations_apply_and_match_the_models(empty_store_url: str) -> None:
    store_url = empty_store_url
    store = Store(store_url)
    try:
        with pytest.raises(StoreError, match="empty"):
            store.ensure_current()
        store.upgrade()
        store.upgrade()  # idempotent
        store.ensure_current()
    finally:
        store.dispose()
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert schema_diff(conn) == []
    finally:
        engine.dispose()


def test_schema_diff_notices_a_missing_index(store: Store, store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_events_calendar_id_start_at"))
        with engine.connect() as conn:
            diffs = schema_diff(conn)
        assert [d[0] for d in diffs] == ["add_index"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://x@localhost/db"])
def test_unsupported_urls_are_store_errors(url: str) -> None:
    with pytest.raises(StoreError):
        Store(url).upgrade()


def test_sqlite_creates_parent_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "calsync.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.upgrade()
        assert path.exists()
        with store.read() as uow:
            session = uow.events._session
            pragma = {
                name: session.execute(text(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 2,
            "busy_timeout": 30000,
            "foreign_keys": 1,
        }
    finally:
        store.dispose()


def test_backend_and_lazy_engine(tmp_path: Path) -> None:
    path = tmp_path / "lazy" / "calsync.db"
    store = Store(f"sqlite:///{path}")
    assert store.backend == "sqlite"
    assert not path.parent.exists()  # nothing touched until first use
    assert Store("postgresql://u@127.0.0.1/db").backend == "postgresql"
