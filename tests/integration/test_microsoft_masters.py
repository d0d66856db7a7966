"""How the Microsoft provider fetches series masters, against the Graph fake.

calendarView never lists masters. A full round lists the calendar's masters in bulk
(``$filter=type eq 'seriesMaster'``); what that does not give comes 20 to a
``$batch``. Each batched answer is judged alone: 429 -> sent again after its own
``Retry-After``; 404 -> the series is gone; anything else fails the pull (before it
yields the page, so nothing is stored and the cursor does not move).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync.errors import ProviderError, RateLimited
from calsync.providers.base import Provider, SyncWindow
from tests.contract.provider_contract import pull_all
from tests.fakes.graph_testing import event_body, graph_fake, weekly
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fakes.microsoft_testing import make_provider
from tests.fixtures.e2e import BOTH_BACKENDS, E2EAccount
from tests.fixtures.e2e_microsoft import MicrosoftE2E, graph_sleeps, microsoft_e2e

__all__ = ["graph_fake", "microsoft_e2e"]

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
WINDOW = SyncWindow(NOW - timedelta(days=10), NOW + timedelta(days=30))
SERIES = 25  # two batches: 20 + 5


def _series(fake: MicrosoftGraphFake, count: int = SERIES) -> list[str]:
    ids = []
    for n in range(count):
        start = NOW + timedelta(days=1, hours=n)
        body = event_body(f"Series {n}", start, recurrence=weekly(start, 3))
        ids.append(fake.put_event(fake.default_calendar_id, body))
    fake.put_event(fake.default_calendar_id, event_body("Single", NOW + timedelta(days=2)))
    return ids


def _full_then_changed(
    fake: MicrosoftGraphFake, provider: Provider, masters: list[str]
) -> str | None:
    """A full round, then every master renamed "changed": the next round's delta names
    them all. Returns the full round's cursor."""
    full = pull_all(provider, fake.default_calendar_id, None, WINDOW)
    for master_id in masters:
        fake.patch_event(master_id, {"subject": "changed"})
    return full.final.cursor


def _single_gets(fake: MicrosoftGraphFake) -> int:
    """``GET /me/events/{id}`` sent on their own (not in a batch)."""
    return fake.count("GET", "/me/events/")


def test_a_full_round_lists_the_masters_in_bulk(graph_fake: MicrosoftGraphFake) -> None:
    fake = graph_fake
    masters = _series(fake)
    provider = make_provider(fake, page_size=10)
    full = pull_all(provider, fake.default_calendar_id, None, WINDOW)
    for n, master_id in enumerate(masters):
        master = full.changed[master_id]
        assert master.content.summary == f"Series {n}"
        assert master.content.recurrence
    listings = [r for r in fake.requests if r.path.endswith("/events") and r.method == "GET"]
    assert listings and all(r.query["$filter"] == "type eq 'seriesMaster'" for r in listings)
    assert len(listings) == 3, "25 masters at $top=10: three pages, by @odata.nextLink"
    assert _single_gets(fake) == 0
    assert fake.count("POST", "/$batch") == 0


def test_an_incremental_round_batches_the_changed_masters(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    masters = _series(fake)
    provider = make_provider(fake)
    full = pull_all(provider, fake.default_calendar_id, None, WINDOW)
    for n, master_id in enumerate(masters):
        fake.patch_event(master_id, {"subject": f"Renamed {n}"})
    before = len(fake.requests)
    delta = pull_all(provider, fake.default_calendar_id, full.final.cursor, WINDOW)
    for n, master_id in enumerate(masters):
        # The fake answers a batch in reverse order: paired by id, not by position.
        assert delta.changed[master_id].content.summary == f"Renamed {n}"
    new = fake.requests[before:]
    assert [r.method for r in new if "$batch" in r.path] == ["POST", "POST"]  # 20 + 5
    batch = [r.json for r in new if "$batch" in r.path]
    assert [len(b["requests"]) for b in batch] == [20, 5]
    for item in batch[0]["requests"]:
        assert item["method"] == "GET" and item["url"].startswith("/me/events/")
        # Relative to the version root, the query as Microsoft's batch examples write it.
        assert "?$expand=singleValueExtendedProperties($filter=id%20eq%20'" in item["url"]
        assert "outlook.timezone" in item["headers"]["Prefer"]  # not inherited from the batch
    assert _single_gets(fake) == 0


def test_a_master_throttled_inside_a_batch_is_fetched_again_after_its_retry_after(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    masters = _series(fake)
    sleeps: list[float] = []
    provider = make_provider(fake, sleep=sleeps.append)
    cursor = _full_then_changed(fake, provider, masters)
    throttled = masters[7]
    fake.fail_next(429, retry_after=0.75, path_contains=throttled)
    delta = pull_all(provider, fake.default_calendar_id, cursor, WINDOW)
    assert all(delta.changed[m].content.summary == "changed" for m in masters)
    assert sleeps == [0.75]
    tries = [r.status for r in fake.batched if throttled in r.path]
    assert tries == [429, 200]
    retried = [r.json for r in fake.requests if "$batch" in r.path][-1]
    assert len(retried["requests"]) == 1, "only the throttled request is sent again"


def test_a_master_throttled_past_the_budget_is_rate_limited(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    masters = _series(fake, 3)
    provider = make_provider(fake, retries=2)
    cursor = _full_then_changed(fake, provider, masters)
    fake.fail_next(429, retry_after=3, count=5, path_contains=masters[1])
    with pytest.raises(RateLimited) as caught:
        pull_all(provider, fake.default_calendar_id, cursor, WINDOW)
    assert caught.value.retry_after == 3
    assert "ApplicationThrottled" in str(caught.value)


def test_a_master_deleted_before_its_batch_is_left_out(graph_fake: MicrosoftGraphFake) -> None:
    fake = graph_fake
    masters = _series(fake)
    provider = make_provider(fake)
    cursor = _full_then_changed(fake, provider, masters)
    gone = masters[3]
    # Another client deletes the series between the delta page and the batch.
    fake.on_next_request("GET", f"/events/{gone}", lambda: fake.delete_event(gone))
    delta = pull_all(provider, fake.default_calendar_id, cursor, WINDOW)
    assert gone not in delta.changed
    assert not any(e.master_remote_id == gone for e in delta.changed.values())
    assert all(delta.changed[m].content.summary == "changed" for m in masters if m != gone)
    assert [r.status for r in fake.batched if gone in r.path] == [404]
    assert _single_gets(fake) == 0, "a master found gone is not asked for again"


def test_another_failure_inside_a_batch_fails_the_pull_and_keeps_the_cursor(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    masters = _series(fake)
    provider = make_provider(fake)
    cursor = _full_then_changed(fake, provider, masters)
    fake.fail_next(403, "ErrorAccessDenied", message="Access is denied.", path_contains=masters[9])
    with pytest.raises(ProviderError) as caught:
        pull_all(provider, fake.default_calendar_id, cursor, WINDOW)
    assert "403 ErrorAccessDenied" in str(caught.value)
    # Nothing was yielded, so nothing was stored; the same cursor pulls it all again.
    again = pull_all(provider, fake.default_calendar_id, cursor, WINDOW)
    assert all(again.changed[m].content.summary == "changed" for m in masters)


def test_a_refused_listing_falls_back_to_batches(graph_fake: MicrosoftGraphFake) -> None:
    fake = graph_fake
    masters = _series(fake)
    provider = make_provider(fake)
    calendar = fake.default_calendar_id
    fake.fail_next(400, "BadRequest", method="GET", path_contains=f"{calendar}/events")
    full = pull_all(provider, calendar, None, WINDOW)
    assert all(full.changed[m].content.recurrence for m in masters)
    assert fake.count("POST", "/$batch") == 2
    assert _single_gets(fake) == 0


# -- through the sync engine into the store --------------------------------------------


def _summaries(e2e: E2EAccount, masters: list[str]) -> list[str]:
    by_remote = {e.remote_id: e.content.summary for e in e2e.stored()}
    return [by_remote[m] for m in masters]


def _cursor(e2e: E2EAccount) -> str | None:
    with e2e.store.read() as uow:
        found = uow.cursors.get(e2e.stored_calendar().pk)
        return found.cursor if found is not None else None


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_a_failed_master_leaves_the_store_as_it_was_and_the_next_pass_catches_up(
    microsoft_e2e: MicrosoftE2E,
) -> None:
    e2e, fake = microsoft_e2e
    waits: list[float] = []
    graph_sleeps(e2e, waits.append)
    masters = _series(fake)
    e2e.sync_ok()
    assert _summaries(e2e, masters) == [f"Series {n}" for n in range(SERIES)]
    cursor = _cursor(e2e)
    assert cursor is not None
    for master_id in masters:
        fake.patch_event(master_id, {"subject": "changed"})
    fake.fail_next(403, "ErrorAccessDenied", message="Access is denied.", path_contains=masters[4])
    failed = e2e.sync()
    assert not failed.ok
    assert "403 ErrorAccessDenied" in (e2e.calendar()["sync"]["last_error"] or "")
    assert _summaries(e2e, masters) == [f"Series {n}" for n in range(SERIES)], "nothing half-done"
    assert _cursor(e2e) == cursor
    # A throttled master in the next pass is waited for, inside the pass.
    fake.fail_next(429, retry_after=0.5, path_contains=masters[11])
    e2e.clock.advance_to(e2e.clock() + timedelta(hours=1))  # past the failure's backoff
    e2e.sync_ok()
    assert waits == [0.5]
    assert _summaries(e2e, masters) == ["changed"] * SERIES
    assert e2e.calendar()["sync"]["last_error"] is None
