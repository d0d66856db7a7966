"""A push whose answer is lost, against the Google fake: the last acknowledged edit wins.

The fake processes the insert, patch or delete and then drops the connection
without a reply, for the first try and every retry the client makes, so the
push fails with the write applied on Google's side. The app then edits the
event again through the API and the engine syncs: Google and the API must end
with the app's last version, with no conflict and no duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.providers import registry
from calsync.providers.base import Provider
from calsync.sync import SyncEngine
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.e2e import BOTH_BACKENDS, GOOGLE_CALENDAR, E2EAccount

GoogleE2E = tuple[E2EAccount, GoogleCalendarFake]
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
#: More than the client's first try plus all its retries (`_google_http.Executor`,
#: httplib2's own): every one loses its answer.
EVERY_TRY = 50

pytestmark = pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)


def body(summary: str) -> dict[str, str]:
    return {
        "summary": summary,
        "start": SOON.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (SOON + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def google_summaries(fake: GoogleCalendarFake) -> list[str]:
    return sorted(e.get("summary", "") for e in fake.live_events(GOOGLE_CALENDAR))


def settle(e2e: E2EAccount) -> None:
    for _ in range(3):
        e2e.sync_ok()
        if not e2e.pending():
            return
    raise AssertionError(f"still pending: {e2e.pending()}")


def without_backoff_sleeps(e2e: E2EAccount) -> None:
    """The real provider, its retries made without sleeping (the test's time is short)."""

    def factory(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
        provider = registry.create(name, account_name, options)
        provider._execute.sleep = lambda seconds: None  # type: ignore[attr-defined]
        return provider

    e2e.engine = SyncEngine(e2e.store, e2e.settings, provider_factory=factory, clock=e2e.clock)


def lose_the_push(e2e: E2EAccount, fake: GoogleCalendarFake, method: str) -> None:
    without_backoff_sleeps(e2e)
    fake.lose_next_responses(EVERY_TRY, method=method)
    report = e2e.sync()
    assert not report.ok, "every answer was lost"
    assert e2e.pending(), "so the push is still pending"
    fake.stop_losing_responses()
    if report.retry_at is not None:
        e2e.clock.advance_to(report.retry_at)


def assert_both_sides(e2e: E2EAccount, fake: GoogleCalendarFake, summary: str) -> None:
    assert google_summaries(fake) == [summary]
    assert [e["summary"] for e in e2e.read(include_managed=True)] == [summary]
    assert e2e.pending() == []
    with e2e.store.read() as uow:
        account = uow.accounts.find_by_name(e2e.account.name)
        assert account is not None
        assert "conflict" not in [c.op for c in uow.changes.list_since(account.pk)]


def test_insert_answer_lost_then_edited(google_e2e: GoogleE2E) -> None:
    e2e, fake = google_e2e
    e2e.sync_ok()
    e2e.upsert("app-1", **body("v1"))
    lose_the_push(e2e, fake, "POST")
    assert google_summaries(fake) == ["v1"]
    e2e.upsert("app-1", **body("v2"))
    settle(e2e)
    assert_both_sides(e2e, fake, "v2")


def test_patch_answer_lost_then_edited(google_e2e: GoogleE2E) -> None:
    e2e, fake = google_e2e
    e2e.sync_ok()
    e2e.upsert("app-1", **body("v1"))
    settle(e2e)
    e2e.upsert("app-1", **body("v2"))
    lose_the_push(e2e, fake, "PATCH")
    assert google_summaries(fake) == ["v2"]
    e2e.upsert("app-1", **body("v3"))
    settle(e2e)
    assert_both_sides(e2e, fake, "v3")


def test_delete_answer_lost_then_written_again(google_e2e: GoogleE2E) -> None:
    e2e, fake = google_e2e
    e2e.sync_ok()
    e2e.upsert("app-1", **body("v1"))
    settle(e2e)
    e2e.delete("app-1")
    lose_the_push(e2e, fake, "DELETE")
    assert google_summaries(fake) == []
    e2e.upsert("app-1", **body("v2"))
    settle(e2e)
    assert_both_sides(e2e, fake, "v2")
