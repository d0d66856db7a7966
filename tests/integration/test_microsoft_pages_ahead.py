"""A full delta round asks for its next page while the caller stores the current one.

`GraphClient.pages_ahead`: the request for ``@odata.nextLink`` goes out (in a worker
thread) before a page is handed over, so Graph composes the next answer meanwhile.
What must hold besides: each page is asked for once, a fault on a page asked ahead
surfaces when that page is wanted (410 -> `CursorExpired`, 429 -> its Retry-After
honoured, a broken body -> asked again), and a pull abandoned midway leaves no
request or thread behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from calsync.errors import CursorExpired
from calsync.providers.base import PullPage, SyncWindow
from calsync.providers.microsoft import MicrosoftProvider
from tests.fakes.graph_testing import event_body, graph_fake
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fakes.microsoft_testing import make_provider

__all__ = ["graph_fake"]

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
WINDOW = SyncWindow(NOW - timedelta(days=10), NOW + timedelta(days=30))
EVENTS, PAGE = 30, 10
DELTA = "calendarView/delta"


def _singles(fake: MicrosoftGraphFake) -> set[str]:
    return {
        fake.put_event(
            fake.default_calendar_id, event_body(f"Event {n}", NOW + timedelta(hours=n + 1))
        )
        for n in range(EVENTS)
    }


def _listed_ids(pages: list[PullPage]) -> set[str]:
    assert pages[-1].final and pages[-1].cursor and not any(p.final for p in pages[:-1])
    return {event.remote_id for page in pages for event in page.changed}


def _wait_until(condition: object, guard: float = 20.0) -> bool:
    """Poll ``condition()`` until true; the deadline is only a guard against hanging."""
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _on_delta_request(fake: MicrosoftGraphFake, number: int, action: object) -> None:
    """Run ``action`` as the ``number``-th delta request (1 = the round's first) is served,
    before the fake's faults are consulted: hooks registered one request at a time."""

    def arm(remaining: int) -> None:
        if remaining == 1:
            fake.on_next_request("GET", DELTA, action)  # type: ignore[arg-type]
        else:
            fake.on_next_request("GET", DELTA, lambda: arm(remaining - 1))

    arm(number)


@dataclass
class HeldPull:
    provider: MicrosoftProvider
    pages: Iterator[PullPage]
    first: PullPage
    workers_before: set[threading.Thread]


def _hold_first_page(fake: MicrosoftGraphFake) -> HeldPull:
    """A full round whose first page the caller holds, once Graph has the request for the
    second (the caller has not asked for it)."""
    provider = make_provider(fake, page_size=PAGE)
    before = set(_page_workers())
    pages = provider.pull(fake.default_calendar_id, None, WINDOW)
    first = next(pages)
    assert not first.final
    assert _wait_until(lambda: fake.count("GET", DELTA) == 2), fake.count("GET", DELTA)
    return HeldPull(provider, pages, first, before)


def _page_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("graph-next-page")]


def test_the_next_page_is_asked_for_while_the_caller_holds_this_one(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    ids = _singles(fake)
    held = _hold_first_page(fake)
    listed = [held.first, *held.pages]
    assert _listed_ids(listed) == ids
    assert len(listed) > EVENTS // PAGE, "several pages"
    assert fake.count("GET", DELTA) == len(listed), "each page asked for once"
    assert _wait_until(lambda: not set(_page_workers()) - held.workers_before), _page_workers()


def test_an_expired_round_on_a_page_asked_ahead_is_cursor_expired_when_it_is_wanted(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    _singles(fake)
    provider = make_provider(fake, page_size=PAGE)
    _on_delta_request(
        fake, 3, lambda: fake.fail_next(410, "syncStateNotFound", path_contains=DELTA)
    )
    pages = provider.pull(fake.default_calendar_id, None, WINDOW)
    next(pages)
    next(pages)  # the 410 of the page asked ahead meanwhile waits for its turn
    assert _wait_until(lambda: fake.count("GET", DELTA) == 3)
    with pytest.raises(CursorExpired, match="syncStateNotFound"):
        next(pages)


Fault = tuple[Callable[[MicrosoftGraphFake], None], list[float]]
FAULTS: dict[str, Fault] = {
    # Throttled: sent again after its Retry-After.
    "429": (lambda fake: fake.fail_next(429, retry_after=0.75, path_contains=DELTA), [0.75]),
    # The connection breaks while the body arrives (after the headers the worker waited
    # for): the engine's thread reads the body, and sends the request again.
    "cut body": (lambda fake: fake.cut_next_responses(1, path_contains=DELTA), []),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_page_asked_ahead_that_fails_is_asked_for_again_and_nothing_is_lost(
    graph_fake: MicrosoftGraphFake, fault: str
) -> None:
    fake = graph_fake
    ids = _singles(fake)
    inject, expected_sleeps = FAULTS[fault]
    sleeps: list[float] = []
    provider = make_provider(fake, page_size=PAGE, sleep=sleeps.append)
    _on_delta_request(fake, 2, lambda: inject(fake))
    listed = list(provider.pull(fake.default_calendar_id, None, WINDOW))
    assert _listed_ids(listed) == ids, "no event of the failed page is missing"
    assert sleeps == expected_sleeps
    assert fake.count("GET", DELTA) == len(listed) + 1, "the failed page, once more"


def test_a_pull_abandoned_midway_leaves_no_request_or_thread_behind(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    _singles(fake)
    held = _hold_first_page(fake)
    before = held.workers_before
    assert set(_page_workers()) - before, "a worker asked for the next page"
    # The engine stops reading midway (a store error, a shutdown) and drops the pull.
    held.pages = iter(())
    assert _wait_until(lambda: not set(_page_workers()) - before), _page_workers()
    assert fake.count("GET", DELTA) == 2, "nothing beyond the page already asked for"
    # The connection the abandoned answer held went back to the pool: the client works on.
    assert [c.name for c in held.provider.list_calendars()]
    held.provider.close()
