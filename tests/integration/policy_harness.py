"""A `SyncHarness` under each conflict policy, and syncing it until nothing is pending:
shared by the tests of what a pending local change meets in a listing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calsync.store import Store
from tests.integration.test_sync_engine import SyncHarness


@pytest.fixture(params=["remote", "local"])
def harness(store: Store, request: pytest.FixtureRequest) -> Iterator[SyncHarness]:
    h = SyncHarness(store, conflict=request.param)
    yield h
    h.close()


def settle(h: SyncHarness) -> int:
    """Sync until nothing is pending; returns the conflicts recorded on the way."""
    conflicts = 0
    for _ in range(4):
        report = h.sync()
        assert report.ok, report.describe_failures()
        conflicts += sum(c.conflicts for c in report.calendars)
        if not h.pending():
            break
    h.assert_converged()
    return conflicts
