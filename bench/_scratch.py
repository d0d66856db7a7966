"""Scratch databases for benchmarks: a temp SQLite file, or a fresh PostgreSQL database.

Benchmarks talk to the store only through `calsync.store`; this helper creates
and drops the database itself with psycopg, so bench/ never imports SQLAlchemy.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return os.environ.get("CALSYNC_TEST_POSTGRES_URL", DEFAULT_PG)


def _with_database(url: str, database: str, *, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=scheme or parts.scheme, path=f"/{database}"))


def libpq_url(url: str) -> str:
    """psycopg wants ``postgresql://``; the store wants ``postgresql+psycopg://``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


@contextmanager
def scratch_database(backend: str, *, prefix: str = "calsync_bench") -> Iterator[str]:
    """Yield a store URL on an empty database, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    base = postgres_base_url()
    admin = libpq_url(base)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(base, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
