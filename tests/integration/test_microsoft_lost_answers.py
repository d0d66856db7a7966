"""A push whose answer is lost, against the Graph fake: the last acknowledged edit wins.

The fake processes the create, PATCH or DELETE and then drops the connection without
a reply, for the first try and every retry the client makes (a retried PATCH meets
412, a retried DELETE 404, and those answers are lost too), so the push fails with
the write applied on Graph's side. The app then edits the event again through the
API and the engine syncs: Graph and the API must end with the app's last version,
with no conflict and no duplicate. The create is recognised by its transactionId
(which names the event uid), the rest by the push journal (issue #10).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.providers import registry
from calsync.providers.base import Provider
from calsync.sync import SyncEngine
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fixtures.e2e import BOTH_BACKENDS, E2EAccount
from tests.fixtures.e2e_microsoft import MicrosoftE2E, microsoft_e2e

__all__ = ["microsoft_e2e"]

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)

pytestmark = pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)


def body(summary: str) -> dict[str, str]:
    return {
        "summary": summary,
        "start": SOON.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (SOON + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def graph_summaries(fake: MicrosoftGraphFake) -> list[str]:
    found = fake.instances(
        fake.default_calendar_id, SOON - timedelta(days=1), SOON + timedelta(days=1)
    )
    return sorted(str(i["subject"]) for i in found)


def settle(e2e: E2EAccount) -> None:
    for _ in range(3):
        e2e.sync_ok()
        if not e2e.pending():
            return
    raise AssertionError(f"still pending: {e2e.pending()}")


def lose_the_push(e2e: E2EAccount, fake: MicrosoftGraphFake, method: str) -> None:
    tries: list[int] = []

    def factory(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
        provider = registry.create(name, account_name, options)
        provider.client.sleep = lambda seconds: None  # type: ignore[attr-defined]
        tries.append(provider.client.retries + 1)  # type: ignore[attr-defined]
        return provider

    e2e.engine = SyncEngine(e2e.store, e2e.settings, provider_factory=factory, clock=e2e.clock)
    every_try = 5  # the client's first try and its four retries
    fake.on_next_request(method, "/events", lambda: fake.lose_next_responses(every_try))
    report = e2e.sync()
    assert tries and tries[0] == every_try
    assert not report.ok, "every answer was lost"
    assert e2e.pending(), "so the push is still pending"
    if report.retry_at is not None:
        e2e.clock.advance_to(report.retry_at)


def assert_both_sides(e2e: E2EAccount, fake: MicrosoftGraphFake, summary: str) -> None:
    assert graph_summaries(fake) == [summary]
    assert [e["summary"] for e in e2e.read(include_managed=True)] == [summary]
    assert e2e.pending() == []
    with e2e.store.read() as uow:
        account = uow.accounts.find_by_name(e2e.account.name)
        assert account is not None
        assert "conflict" not in [c.op for c in uow.changes.list_since(account.pk)]


def test_create_answer_lost_then_edited(microsoft_e2e: MicrosoftE2E) -> None:
    e2e, fake = microsoft_e2e
    e2e.sync_ok()
    e2e.upsert("app-1", **body("v1"))
    lose_the_push(e2e, fake, "POST")
    assert graph_summaries(fake) == ["v1"]
    e2e.upsert("app-1", **body("v2"))
    settle(e2e)
    assert_both_sides(e2e, fake, "v2")


def test_patch_answer_lost_then_edited(microsoft_e2e: MicrosoftE2E) -> None:
    e2e, fake = microsoft_e2e
    e2e.sync_ok()
    e2e.upsert("app-1", **body("v1"))
    settle(e2e)
    e2e.upsert("app-1", **body("v2"))
    lose_the_push(e2e, fake, "PATCH")
    assert graph_summaries(fake) == ["v2"]
    e2e.upsert("app-1", **body("v3"))
    settle(e2e)
    assert_both_sides(e2e, fake, "v3")


def test_delete_answer_lost_then_written_again(microsoft_e2e: MicrosoftE2E) -> None:
    e2e, fake = microsoft_e2e
    e2e.sync_ok()
    e2e.upsert("app-1", **body("v1"))
    settle(e2e)
    e2e.delete("app-1")
    lose_the_push(e2e, fake, "DELETE")
    assert graph_summaries(fake) == []
    e2e.upsert("app-1", **body("v2"))
    settle(e2e)
    assert_both_sides(e2e, fake, "v2")
