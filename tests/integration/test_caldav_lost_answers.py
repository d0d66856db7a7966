"""A push whose answer is lost, against a real Radicale: the last acknowledged edit wins.

calsync talks to Radicale through `FaultProxy`, which lets the chosen PUT or
DELETE reach Radicale (Radicale applies it) and then drops the connection
without an answer. The app edits the event again through the API (202), and
the engine syncs. Both Radicale (read back by an independent WebDAV client)
and the API must end with the app's last version, with no conflict and no
duplicate, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.e2e import E2EAccount, caldav_account, open_account, radicale_summaries
from tests.fixtures.fault_proxy import FaultProxy, fault_proxy
from tests.fixtures.radicale import RadicaleCalendar

pytestmark = pytest.mark.parametrize("e2e_store_url", ["sqlite", "postgres"], indirect=True)

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)


def body(summary: str) -> dict[str, str]:
    return {
        "summary": summary,
        "start": SOON.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (SOON + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@pytest.fixture
def world(
    radicale_calendar: RadicaleCalendar, e2e_store_url: str, tmp_path: Path
) -> Iterator[tuple[E2EAccount, FaultProxy]]:
    with fault_proxy(radicale_calendar.server.base_url) as proxy:
        account = caldav_account(
            radicale_calendar,
            url=proxy.base_url + f"/{radicale_calendar.server.username}/",
            calendars=[proxy.base_url + radicale_calendar.path],
        )
        with open_account(e2e_store_url, tmp_path, account) as harness:
            harness.sync_ok()
            yield harness, proxy


def settle(world: E2EAccount) -> None:
    for _ in range(3):
        world.sync_ok()
        if not world.pending():
            return
    raise AssertionError(f"still pending: {world.pending()}")


def lose_the_push(world: E2EAccount, proxy: FaultProxy, method: str) -> None:
    proxy.lose_answer(method, path_contains=".ics")
    report = world.sync()
    assert proxy.lost, "the push went out"
    assert not report.ok, "the answer was lost"
    assert world.pending(), "so the push is still pending"
    if report.retry_at is not None:  # the account backs off; the test moves time on
        world.clock.advance_to(report.retry_at)


def assert_both_sides(world: E2EAccount, calendar: RadicaleCalendar, summary: str) -> None:
    assert radicale_summaries(calendar) == [summary]
    assert [e["summary"] for e in world.read(include_managed=True)] == [summary]
    assert world.pending() == []
    conflicts = [c for c in _changes(world) if c == "conflict"]
    assert conflicts == []


def _changes(world: E2EAccount) -> list[str]:
    with world.store.read() as uow:
        account = uow.accounts.find_by_name(world.account.name)
        assert account is not None
        return [c.op for c in uow.changes.list_since(account.pk)]


def test_create_answer_lost_then_edited(
    world: tuple[E2EAccount, FaultProxy], radicale_calendar: RadicaleCalendar
) -> None:
    harness, proxy = world
    harness.upsert("app-1", **body("v1"))
    lose_the_push(harness, proxy, "PUT")
    assert radicale_summaries(radicale_calendar) == ["v1"]  # Radicale applied it
    harness.upsert("app-1", **body("v2"))
    settle(harness)
    assert_both_sides(harness, radicale_calendar, "v2")


def test_update_answer_lost_then_edited(
    world: tuple[E2EAccount, FaultProxy], radicale_calendar: RadicaleCalendar
) -> None:
    harness, proxy = world
    harness.upsert("app-1", **body("v1"))
    settle(harness)
    harness.upsert("app-1", **body("v2"))
    lose_the_push(harness, proxy, "PUT")
    assert radicale_summaries(radicale_calendar) == ["v2"]
    harness.upsert("app-1", **body("v3"))
    settle(harness)
    assert_both_sides(harness, radicale_calendar, "v3")


def test_delete_answer_lost_then_written_again(
    world: tuple[E2EAccount, FaultProxy], radicale_calendar: RadicaleCalendar
) -> None:
    harness, proxy = world
    harness.upsert("app-1", **body("v1"))
    settle(harness)
    harness.delete("app-1")
    lose_the_push(harness, proxy, "DELETE")
    assert radicale_summaries(radicale_calendar) == []
    harness.upsert("app-1", **body("v2"))
    settle(harness)
    assert_both_sides(harness, radicale_calendar, "v2")
