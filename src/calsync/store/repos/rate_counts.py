"""Rate-limit counting in PostgreSQL, for replicas that must share their limits.

The same sliding-window log as the in-memory limiter (`calsync.api.limits`):
a request is let through when fewer than ``limit`` requests of its client were
let through in the last ``seconds``, for every window; then it is logged. One
transaction per request takes a transaction-scoped advisory lock on the
client's key first, so concurrent requests of one client (on any replica)
are counted one after the other and the limit is exact; other clients never
wait. Refused requests are not logged, and their ``Retry-After`` is when the
oldest blocking request leaves its window. Old rows are deleted by `prune`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.engine import Connection

from calsync.store.rate_models import RateHit

_TABLE: Table = RateHit.__table__  # type: ignore[assignment]


def hit(
    connection: Connection, key: str, windows: Sequence[tuple[int, int]], now: float
) -> float | None:
    """Count one request of ``key`` in each ``(seconds, limit)`` window, inside the
    caller's transaction; None when allowed (and logged), else the seconds to wait."""
    if not windows:
        return None
    # A lost count after a crash is harmless: do not wait for the WAL flush.
    connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    connection.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    longest = max(seconds for seconds, _ in windows)
    counts = connection.execute(
        select(*(func.count().filter(_TABLE.c.at > now - seconds) for seconds, _ in windows)).where(
            _TABLE.c.key == key, _TABLE.c.at > now - longest
        )
    ).one()
    wait = 0.0
    for (seconds, limit), inside in zip(windows, counts, strict=True):
        if inside < limit:
            continue
        # The request that frees a slot is the limit-th newest one.
        oldest_blocking = connection.execute(
            select(_TABLE.c.at)
            .where(_TABLE.c.key == key, _TABLE.c.at > now - seconds)
            .order_by(_TABLE.c.at.desc())
            .offset(limit - 1)
            .limit(1)
        ).scalar_one()
        wait = max(wait, oldest_blocking + seconds - now)
    if wait > 0:
        return wait
    connection.execute(insert(_TABLE).values(key=key, at=now))
    return None


def prune(connection: Connection, now: float, longest: int) -> int:
    """Delete requests no window can count any more."""
    result = connection.execute(delete(_TABLE).where(_TABLE.c.at <= now - longest))
    return int(result.rowcount or 0)
