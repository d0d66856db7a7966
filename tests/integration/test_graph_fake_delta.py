"""calendarView delta on the fake Graph server: rounds, snapshots, @removed, paging, 410."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.fakes.graph_testing import event_body, graph_client, graph_fake, soon, weekly, when
from tests.fakes.microsoft_graph import MicrosoftGraphFake

__all__ = ["graph_fake"]

PREFER = 'odata.maxpagesize=2, outlook.timezone="UTC"'


@pytest.fixture
def client(graph_fake: MicrosoftGraphFake) -> Iterator[httpx.Client]:
    with graph_client(graph_fake) as c:
        yield c


@pytest.fixture
def calendar(graph_fake: MicrosoftGraphFake) -> str:
    return graph_fake.add_calendar("Work")


def window(start: datetime, days: int = 30) -> dict[str, str]:
    return {
        "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endDateTime": (start + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class Round:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.items = [item for page in pages for item in page["value"]]
        self.delta_link: str = pages[-1]["@odata.deltaLink"]

    @property
    def changed(self) -> dict[str, dict[str, Any]]:
        return {i["id"]: i for i in self.items if "@removed" not in i}

    @property
    def removed(self) -> set[str]:
        return {i["id"] for i in self.items if "@removed" in i}


def run_round(
    client: httpx.Client, url: str, params: dict[str, str] | None = None, prefer: str = PREFER
) -> Round:
    pages = []
    reply = client.get(url, params=params, headers={"Prefer": prefer})
    while True:
        assert reply.status_code == 200, reply.text
        page = reply.json()
        pages.append(page)
        if "@odata.deltaLink" in page:
            assert "@odata.nextLink" not in page
            return Round(pages)
        reply = client.get(page["@odata.nextLink"], headers={"Prefer": prefer})


def delta_path(calendar: str) -> str:
    return f"/me/calendars/{calendar}/calendarView/delta"


def weekly_body(start: datetime, count: int) -> dict[str, Any]:
    return event_body(
        "Weekly",
        start,
        30,
        recurrence=weekly(start, count, first_day="sunday"),
    )


def test_a_full_round_pages_through_instances_and_ends_with_a_delta_link(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    singles = [
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
        for n in range(3)
    ]
    master = graph_fake.put_event(calendar, weekly_body(start, 3))

    first = client.get(delta_path(calendar), params=window(start), headers={"Prefer": PREFER})
    assert first.json()["value"] == [] and "@odata.nextLink" in first.json()  # empty, yet more
    assert first.headers["preference-applied"] == 'odata.maxpagesize=2, outlook.timezone="UTC"'
    result = run_round(client, delta_path(calendar), window(start))

    assert all(len(page["value"]) <= 2 for page in result.pages)
    assert set(singles) <= set(result.changed)
    types = sorted(i["type"] for i in result.changed.values())
    assert types == ["occurrence"] * 3 + ["singleInstance"] * 3  # no series master
    assert {i["seriesMasterId"] for i in result.changed.values() if i["type"] == "occurrence"} == {
        master
    }
    assert "$deltatoken=" in result.delta_link
    assert result.pages[0]["@odata.nextLink"].startswith(
        f"{graph_fake.graph_endpoint}{delta_path(calendar)}?$skiptoken="
    )


def test_pages_of_a_round_are_a_snapshot(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    ids = [
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
        for n in range(4)
    ]
    first = client.get(
        delta_path(calendar), params=window(start), headers={"Prefer": PREFER}
    ).json()
    # Another client edits while we page.
    added = graph_fake.put_event(calendar, event_body("Late", start + timedelta(hours=9)))
    graph_fake.patch_event(ids[3], {"subject": "E3, edited"})
    graph_fake.delete_event(ids[2])
    rest = run_round(client, first["@odata.nextLink"])
    assert set(rest.changed) == set(ids)
    assert rest.changed[ids[3]]["subject"] == "E3"  # as it was when the round began

    following = run_round(client, rest.delta_link)
    assert set(following.changed) == {added, ids[3]}
    assert following.changed[ids[3]]["subject"] == "E3, edited"
    assert following.removed == {ids[2]}


def test_an_unchanged_calendar_costs_one_request_per_round(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    for n in range(5):
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
    full = run_round(client, delta_path(calendar), window(start))
    before = graph_fake.count("GET", "/calendarView/delta")
    noop = run_round(client, full.delta_link)
    assert graph_fake.count("GET", "/calendarView/delta") == before + 1
    assert noop.items == [] and noop.delta_link != full.delta_link
    assert run_round(client, noop.delta_link).items == []


def test_changes_outside_the_window_come_as_removed(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    inside = graph_fake.put_event(calendar, event_body("Inside", start + timedelta(days=1)))
    leaving = graph_fake.put_event(calendar, event_body("Leaving", start + timedelta(days=2)))
    far = graph_fake.put_event(calendar, event_body("Far", start + timedelta(days=90)))
    full = run_round(client, delta_path(calendar), window(start))
    assert set(full.changed) == {inside, leaving}

    later = start + timedelta(days=60)
    graph_fake.patch_event(leaving, {"start": when(later), "end": when(later + timedelta(hours=1))})
    graph_fake.patch_event(far, {"subject": "Far, edited"})
    created_far = graph_fake.put_event(calendar, event_body("New, far", start + timedelta(days=80)))
    graph_fake.delete_event(inside)
    delta = run_round(client, full.delta_link)
    assert delta.changed == {}
    assert delta.removed == {inside, leaving, far, created_far}
    for item in delta.items:
        assert item == {
            "@odata.type": "#microsoft.graph.event",
            "id": item["id"],
            "@removed": {"reason": "deleted"},
        }


def test_occurrences_exceptions_and_cancellations_in_delta(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    master = graph_fake.put_event(calendar, weekly_body(start, 4))
    full = run_round(client, delta_path(calendar), window(start))
    occurrences = sorted(full.changed.values(), key=lambda i: i["start"]["dateTime"])
    assert len(occurrences) == 4

    graph_fake.patch_event(occurrences[1]["id"], {"subject": "Special"})
    graph_fake.delete_event(occurrences[2]["id"])
    delta = run_round(client, full.delta_link)
    assert list(delta.changed) == [occurrences[1]["id"]]
    assert delta.changed[occurrences[1]["id"]]["type"] == "exception"
    assert delta.removed == {occurrences[2]["id"]}

    graph_fake.patch_event(master, {"subject": "Weekly, renamed"})
    renamed = run_round(client, delta.delta_link)
    assert {i["subject"] for i in renamed.changed.values()} == {"Weekly, renamed"}
    assert set(renamed.changed) == {occurrences[0]["id"], occurrences[3]["id"]}

    graph_fake.delete_event(master)
    gone = run_round(client, renamed.delta_link)
    assert gone.removed == {occurrences[0]["id"], occurrences[1]["id"], occurrences[3]["id"]}


def test_empty_pages_inside_a_round_still_carry_a_next_link(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    ids = {
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
        for n in range(5)
    }
    graph_fake.shape_pages([1, 0, 2])
    result = run_round(client, delta_path(calendar), window(start))
    sizes = [len(page["value"]) for page in result.pages]
    assert sizes == [0, 0, 2, 1, 0, 2]  # first page empty by default, then the cycle
    assert set(result.changed) == ids


def test_repeated_items_arrive_twice(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    ids = [
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
        for n in range(3)
    ]
    graph_fake.repeat_items = True
    result = run_round(client, delta_path(calendar), window(start))
    assert sorted(i["id"] for i in result.items) == sorted(ids * 2)


@pytest.mark.parametrize("code", ["SyncStateNotFound", "resyncRequired"])
def test_expired_tokens_answer_410(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str, code: str
) -> None:
    start = soon(days=1)
    for n in range(3):
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
    full = run_round(client, delta_path(calendar), window(start))
    half = client.get(delta_path(calendar), params=window(start), headers={"Prefer": PREFER}).json()
    graph_fake.expire_delta_tokens(code)
    for link in (full.delta_link, half["@odata.nextLink"]):
        gone = client.get(link)
        assert gone.status_code == 410
        assert gone.json()["error"]["code"] == code
    assert len(run_round(client, delta_path(calendar), window(start)).changed) == 3


def test_a_retried_page_returns_the_same_items(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    for n in range(4):
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
    first = client.get(
        delta_path(calendar), params=window(start), headers={"Prefer": PREFER}
    ).json()
    link = first["@odata.nextLink"]
    graph_fake.lose_next_responses(1)
    with pytest.raises(httpx.TransportError):
        client.get(link, headers={"Prefer": PREFER})
    again = client.get(link, headers={"Prefer": PREFER}).json()
    once_more = client.get(link, headers={"Prefer": PREFER}).json()
    assert [i["id"] for i in again["value"]] == [i["id"] for i in once_more["value"]]
    assert len(again["value"]) == 2


def test_times_follow_the_prefer_header(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = datetime(2030, 1, 15, 12)
    graph_fake.put_event(
        calendar,
        {
            "subject": "Berlin noon",
            "start": {"dateTime": "2030-01-15T12:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2030-01-15T13:00:00", "timeZone": "W. Europe Standard Time"},
        },
    )
    params = window(start - timedelta(days=1), 3)
    utc = run_round(client, delta_path(calendar), params, "odata.maxpagesize=5").items[0]
    assert utc["start"] == {"dateTime": "2030-01-15T11:00:00.0000000", "timeZone": "UTC"}
    tokyo = run_round(
        client, delta_path(calendar), params, 'outlook.timezone="Tokyo Standard Time"'
    )
    assert tokyo.items[0]["start"] == {
        "dateTime": "2030-01-15T20:00:00.0000000",
        "timeZone": "Tokyo Standard Time",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"$select": "subject"},
        {"$filter": "subject eq 'x'"},
        {"$expand": "singleValueExtendedProperties"},
        {"$top": "5"},
        {"$orderby": "start/dateTime"},
        {"startDateTime": "tomorrow"},
        {"startDateTime": None},
        {"endDateTime": "2000-01-01T00:00:00Z"},
    ],
)
def test_requests_graph_refuses_get_400(
    client: httpx.Client, calendar: str, params: dict[str, str | None]
) -> None:
    query = {**window(soon()), **params}
    reply = client.get(
        delta_path(calendar), params={k: v for k, v in query.items() if v is not None}
    )
    assert reply.status_code == 400, reply.text


def test_links_are_followed_verbatim(
    graph_fake: MicrosoftGraphFake, client: httpx.Client, calendar: str
) -> None:
    start = soon(days=1)
    for n in range(3):
        graph_fake.put_event(calendar, event_body(f"E{n}", start + timedelta(hours=n)))
    first = client.get(
        delta_path(calendar), params=window(start), headers={"Prefer": PREFER}
    ).json()
    # (httpx would replace the link's query with params=, so the URL is built by hand)
    with_window_again = client.get(f"{first['@odata.nextLink']}&{urlencode(window(start))}")
    assert with_window_again.status_code == 400
    zero = client.get(first["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=0"})
    assert zero.status_code == 400
    full = run_round(client, delta_path(calendar), window(start))
    token = full.delta_link.split("$deltatoken=")[1]
    other = client.get(
        f"{delta_path(graph_fake.default_calendar_id)}?$deltatoken={token}",
    )
    assert other.status_code == 400


def test_the_default_calendar_view_delta(
    graph_fake: MicrosoftGraphFake, client: httpx.Client
) -> None:
    start = soon(days=1)
    event = graph_fake.put_event(graph_fake.default_calendar_id, event_body("Mine", start))
    result = run_round(client, "/me/calendarView/delta", window(start))
    assert list(result.changed) == [event]
    assert result.delta_link.startswith(f"{graph_fake.graph_endpoint}/me/calendarView/delta?")
