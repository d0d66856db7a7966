"""``POST /v1/availability`` over real HTTP (uvicorn) on SQLite and PostgreSQL.

Events are written through the API (``POST /v1/calendars/{id}/events``) or, for
what an app cannot write (tentative, cancelled, declined, a provider's series with
an override), stored as a provider sync stores them. Every expected answer is
worked out by hand from the readings in docs/availability.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pycronofy
import pytest

from calsync.model import Attendee, EventContent, RemoteEvent
from calsync.store import Store
from tests.fixtures.api import (
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    bearer,
    create_app_calendar,
)

#: A Monday, in the future, far from any DST change (UTC anyway).
DAY = datetime(2031, 3, 3, tzinfo=UTC)
API_KEY = bearer(CLIENT_SECRET)


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour, minutes=minute)


def z(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def period(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": z(start), "end": z(end)}


@pytest.fixture
def two(api_server: ApiServer, http: httpx.Client) -> tuple[AppCalendar, AppCalendar]:
    return create_app_calendar(http, "alice"), create_app_calendar(http, "bob")


def put_event(
    http: httpx.Client, cal: AppCalendar, event_id: str, start: datetime, end: datetime, **kw: Any
) -> None:
    body = {"event_id": event_id, "summary": event_id, "start": z(start), "end": z(end), **kw}
    response = http.post(f"/v1/calendars/{cal.calendar_id}/events", json=body, headers=cal.headers)
    assert response.status_code == 202, response.text


def ask(http: httpx.Client, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return http.post("/v1/availability", json=body, headers=headers)


def results(
    response: httpx.Response, key: str = "available_periods"
) -> list[tuple[str, str, list[str]]]:
    assert response.status_code == 200, response.text
    return [
        (r["start"], r["end"], [p["sub"] for p in r["participants"]]) for r in response.json()[key]
    ]


def test_quick_start_step_3_with_the_api_key(
    http: httpx.Client, two: tuple[AppCalendar, AppCalendar]
) -> None:
    """Cronofy's example request: two members, one with its own available_periods,
    two query periods, buffers 30 before / 15 after, the API key as bearer."""
    alice, bob = two
    put_event(http, alice, "standup", at(11), at(12))  # blocks 10:45-12:30 with the buffers
    put_event(http, bob, "lunch", at(13, day=1), at(14, day=1))  # blocks 12:45-14:30 on day 2
    body = {
        "participants": [
            {
                "members": [
                    {"sub": alice.sub, "calendar_ids": [alice.calendar_id]},
                    {
                        "sub": bob.sub,
                        "available_periods": [
                            period(at(9), at(12)),
                            period(at(10, day=1), at(20, day=1)),
                        ],
                    },
                ],
                "required": "all",
            }
        ],
        "required_duration": {"minutes": 60},
        "available_periods": [period(at(9), at(18)), period(at(9, day=1), at(18, day=1))],
        "buffer": {"before": {"minutes": 30}, "after": {"minutes": 15}},
    }
    both = [alice.sub, bob.sub]
    assert results(ask(http, body, API_KEY)) == [
        (z(at(9)), z(at(10, 45)), both),
        (z(at(10, day=1)), z(at(12, 45, day=1)), both),
        (z(at(14, 30, day=1)), z(at(18, day=1)), both),
    ]
    # query_periods is the same thing under its current name.
    body["query_periods"] = body.pop("available_periods")
    assert len(results(ask(http, body, API_KEY))) == 3


def test_pycronofy_every_response_format(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar, cronofy: pycronofy.Client
) -> None:
    put_event(http, app_calendar, "a", at(10), at(11))
    put_event(http, app_calendar, "b", at(12, 30), at(13))
    periods = [{"start": at(9), "end": at(14)}]
    me = [app_calendar.sub]

    def query(**kw: Any) -> list[tuple[str, str, list[str]]]:
        found = cronofy.availability(
            participants=[{"members": [app_calendar.sub], "required": "all"}],
            required_duration=60,
            available_periods=[dict(p) for p in periods],
            **kw,
        )
        return [(r["start"], r["end"], [p["sub"] for p in r["participants"]]) for r in found]

    assert query() == [
        (z(at(9)), z(at(10)), me),
        (z(at(11)), z(at(12, 30)), me),
        (z(at(13)), z(at(14)), me),
    ]
    assert query(response_format="slots", start_interval=30) == [
        (z(at(9)), z(at(10)), me),
        (z(at(11)), z(at(12)), me),
        (z(at(13)), z(at(14)), me),
    ]
    assert query(response_format="overlapping_slots", start_interval=30) == [
        (z(at(9)), z(at(10)), me),
        (z(at(11)), z(at(12)), me),
        (z(at(11, 30)), z(at(12, 30)), me),
        (z(at(13)), z(at(14)), me),
    ]
    assert query(response_format="overlapping_slots", start_interval=30, max_results=2) == [
        (z(at(9)), z(at(10)), me),
        (z(at(11)), z(at(12)), me),
    ]
    # query_slots: is each of these hours free?
    slots = cronofy.availability(
        participants=[{"members": [app_calendar.sub]}],
        required_duration=60,
        query_slots=[{"start": at(9)}, {"start": at(10)}, {"start": at(11, 30)}],
        response_format="slots",
    )
    assert [s["start"] for s in slots] == [z(at(9)), z(at(11, 30))]
    # Without a format pycronofy reads available_periods: the same slots are there.
    same = cronofy.availability(
        participants=[{"members": [app_calendar.sub]}],
        required_duration=60,
        query_slots=[{"start": at(9)}, {"start": at(10)}, {"start": at(11, 30)}],
    )
    assert [(s["start"], s["end"]) for s in same] == [
        (z(at(9)), z(at(10))),
        (z(at(11, 30)), z(at(12, 30))),
    ]


def _remote(store: Store, cal: AppCalendar, events: list[RemoteEvent]) -> None:
    with store.write() as uow:
        account = uow.accounts.get_by_sub(cal.sub)
        calendar = uow.calendars.get(account.pk, cal.calendar_id)
        uow.events.upsert_remote_many(calendar.pk, events)


def test_what_counts_as_busy(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    """Opaque and tentative are busy; transparent and cancelled are free; a series is
    expanded with its override (moved) and its cancelled occurrence."""
    cal = app_calendar
    with api_server.store.read() as uow:
        email = uow.accounts.get_by_sub(cal.sub).email

    def content(start: datetime, minutes: int = 60, **kw: Any) -> EventContent:
        return EventContent(summary="x", start=start, end=start + timedelta(minutes=minutes), **kw)

    events = [
        RemoteEvent("tentative", content(at(8), status="tentative")),
        RemoteEvent("transparent", content(at(9), transparency="transparent")),
        RemoteEvent("cancelled", content(at(10), status="cancelled")),
        # Daily at 12:00 for 3 days; day 1's occurrence moved to 15:00, day 2's cancelled.
        RemoteEvent(
            "series",
            content(at(12), recurrence=("RRULE:FREQ=DAILY;COUNT=3",)),
        ),
        RemoteEvent(
            "series-moved",
            content(at(15, day=1), original_start=at(12, day=1)),
            master_remote_id="series",
        ),
        RemoteEvent(
            "series-cancelled",
            content(at(12, day=2), original_start=at(12, day=2), status="cancelled"),
            master_remote_id="series",
        ),
    ]
    if email:
        events.append(
            RemoteEvent(
                "declined",
                content(at(16), attendees=(Attendee(email, None, "declined"),)),
            )
        )
    _remote(api_server.store, cal, events)
    body = {
        "participants": [{"members": [{"sub": cal.sub}]}],
        "required_duration": {"minutes": 60},
        "query_periods": [period(at(7), at(18, day=2))],
        "max_results": 50,
    }
    me = [cal.sub]
    assert results(ask(http, body, cal.headers)) == [
        (z(at(7)), z(at(8)), me),
        (z(at(9)), z(at(12)), me),  # transparent 9-10 and cancelled 10-11 are free
        (z(at(13)), z(at(15, day=1)), me),  # the series moved day 1 to 15:00
        (z(at(16, day=1)), z(at(18, day=2)), me),  # day 2's occurrence is cancelled
    ]


def test_a_write_changes_the_next_answer(http: httpx.Client, app_calendar: AppCalendar) -> None:
    """The caches key on the account's version: a new event is seen at once, a
    deleted one frees its time at once."""
    body = {
        "participants": [{"members": [{"sub": app_calendar.sub}]}],
        "required_duration": {"minutes": 30},
        "query_periods": [period(at(9), at(12))],
    }
    me = [app_calendar.sub]
    assert results(ask(http, body, app_calendar.headers)) == [(z(at(9)), z(at(12)), me)]
    put_event(http, app_calendar, "new", at(10), at(11))
    assert results(ask(http, body, app_calendar.headers)) == [
        (z(at(9)), z(at(10)), me),
        (z(at(11)), z(at(12)), me),
    ]
    response = http.request(
        "DELETE",
        f"/v1/calendars/{app_calendar.calendar_id}/events",
        json={"event_id": "new"},
        headers=app_calendar.headers,
    )
    assert response.status_code == 202
    assert results(ask(http, body, app_calendar.headers)) == [(z(at(9)), z(at(12)), me)]


def test_who_may_ask(http: httpx.Client, two: tuple[AppCalendar, AppCalendar]) -> None:
    alice, bob = two
    put_event(http, bob, "secret", at(10), at(11))

    def body(*subs: str) -> dict[str, Any]:
        return {
            "participants": [{"members": [{"sub": s} for s in subs], "required": "all"}],
            "required_duration": {"minutes": 30},
            "query_periods": [period(at(9), at(12))],
        }

    # An account token for its own sub: fine.
    assert results(ask(http, body(alice.sub), alice.headers)) == [
        (z(at(9)), z(at(12)), [alice.sub])
    ]
    # For another sub (alone or beside its own), or a sub that does not exist: 403, no data.
    for subs in ((bob.sub,), (alice.sub, bob.sub), ("acc_nobody",)):
        response = ask(http, body(*subs), alice.headers)
        assert response.status_code == 403, response.text
        assert list(response.json()) == ["errors"]
        assert "available_periods" not in response.text and z(at(10)) not in response.text
    # The API key may ask for any sub of the application.
    assert results(ask(http, body(alice.sub, bob.sub), API_KEY)) == [
        (z(at(9)), z(at(10)), [alice.sub, bob.sub]),
        (z(at(11)), z(at(12)), [alice.sub, bob.sub]),
    ]
    # No token, a wrong one, or a wrong secret: 401.
    for headers in ({}, bearer("csa_wrong"), bearer(CLIENT_SECRET + "x")):
        assert ask(http, body(alice.sub), headers).status_code == 401


def _fields(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 422, response.text
    return {f: [e["key"] for e in entries] for f, entries in response.json()["errors"].items()}


def test_every_validation_error_is_a_cronofy_422(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    good: dict[str, Any] = {
        "participants": [{"members": [{"sub": app_calendar.sub}], "required": "all"}],
        "required_duration": {"minutes": 60},
        "query_periods": [period(at(9), at(12))],
    }

    def problems(
        headers: dict[str, str] = app_calendar.headers, **changes: Any
    ) -> dict[str, list[str]]:
        body = {**good, **changes}
        for key, value in changes.items():
            if value is None:
                del body[key]
        return _fields(ask(http, body, headers))

    assert "participants" in problems(participants=None)
    assert "participants" in problems(participants=[])
    assert "required_duration" in problems(required_duration=None)
    assert "query_periods" in problems(query_periods=None)
    assert "query_periods.0.end" in problems(query_periods=[period(at(12), at(12))])
    assert "query_periods.0.end" in problems(query_periods=[period(at(12), at(9))])
    assert "query_periods" in problems(
        query_periods=[period(at(9), at(10)), period(at(9, day=35), at(10, day=35))]
    )
    assert "query_periods" in problems(
        query_periods=[period(at(9, day=i), at(10, day=i)) for i in range(51)]
    )
    assert "required_duration.minutes" in problems(required_duration={"minutes": 0})
    assert "required_duration.minutes" in problems(required_duration={"minutes": 1441})
    assert "start_interval" in problems(start_interval={"minutes": 7})
    assert "response_format" in problems(response_format="hours")
    assert "max_results" in problems(max_results=0)
    assert "participants.0.required" in problems(
        participants=[{"members": [{"sub": app_calendar.sub}], "required": 2}]
    )
    # An unknown sub, asked with the API key (a token would be refused with 403 first).
    unknown = problems(
        API_KEY, participants=[{"members": [{"sub": app_calendar.sub}, {"sub": "acc_nobody"}]}]
    )
    assert unknown == {"participants.0.members.1.sub": ["errors.unknown_sub"]}
    # Every problem at once, each under its field.
    many = problems(required_duration={"minutes": -5}, max_results=600, query_periods=[])
    assert {"required_duration.minutes", "max_results", "query_periods"} <= set(many)
    # A body that is not an object, or not JSON: still 4xx, never 5xx.
    assert http.post("/v1/availability", json=[1], headers=app_calendar.headers).status_code == 422
    raw = http.post(
        "/v1/availability",
        content=b"{",
        headers={**app_calendar.headers, "Content-Type": "application/json"},
    )
    assert raw.status_code == 422


def test_a_member_limited_to_calendars(
    http: httpx.Client, two: tuple[AppCalendar, AppCalendar]
) -> None:
    """calendar_ids limit whose events count; another account's calendar is unknown."""
    alice, bob = two
    response = http.post(
        "/v1/calendars",
        json={"profile_id": alice.profile_id, "name": "Other"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    other = response.json()["calendar"]["calendar_id"]
    put_event(http, alice, "main", at(10), at(11))
    member: dict[str, Any] = {"sub": alice.sub, "calendar_ids": [other]}
    body = {
        "participants": [{"members": [member]}],
        "required_duration": {"minutes": 60},
        "query_periods": [period(at(9), at(12))],
    }
    assert results(ask(http, body, alice.headers)) == [(z(at(9)), z(at(12)), [alice.sub])]
    member["calendar_ids"] = [bob.calendar_id]
    assert _fields(ask(http, body, API_KEY)) == {
        "participants.0.members.0.calendar_ids": ["errors.unknown_calendar"]
    }


def _free_runs(
    busy: list[tuple[datetime, datetime]], start: datetime, end: datetime, minutes: int
) -> list[tuple[str, str]]:
    """The free runs of at least ``minutes`` inside ``[start, end)`` around ``busy``."""
    runs, at_ = [], start
    for a, b in sorted(busy):
        if a > at_:
            runs.append((at_, min(a, end)))
        at_ = max(at_, b)
    if at_ < end:
        runs.append((at_, end))
    return [(z(a), z(b)) for a, b in runs if b - a >= timedelta(minutes=minutes)]


def test_updates_deletes_and_cancellations_show_at_once(
    api_server: ApiServer, http: httpx.Client, app_calendar: AppCalendar
) -> None:
    """After a write to a member its busy rows are the kept ones plus those written since
    (`availability._member_rows`); every kind of change, to a single event and to a
    series, through the API and as a sync stores it, is in the very next answer."""
    cal = app_calendar
    assert api_server.services.rows_cache.max_entries > 0
    body = {
        "participants": [{"members": [{"sub": cal.sub}]}],
        "required_duration": {"minutes": 30},
        "query_periods": [period(at(8), at(20, day=2))],
        "max_results": 50,
    }
    series = {"rules": ["RRULE:FREQ=DAILY;COUNT=3"]}

    def expect(*busy: tuple[datetime, datetime]) -> None:
        got = [(s, e) for s, e, _ in results(ask(http, body, cal.headers))]
        assert got == _free_runs(list(busy), at(8), at(20, day=2), 30)

    expect()
    put_event(http, cal, "one", at(9), at(10))
    expect((at(9), at(10)))
    put_event(http, cal, "one", at(11), at(12))  # moved
    expect((at(11), at(12)))
    put_event(http, cal, "one", at(11), at(12), transparency="transparent")
    expect()
    put_event(http, cal, "one", at(11), at(12, 30), transparency="opaque")
    put_event(http, cal, "daily", at(13), at(14), recurrence=series)
    days = range(3)
    expect((at(11), at(12, 30)), *((at(13, day=d), at(14, day=d)) for d in days))
    put_event(http, cal, "daily", at(15), at(16), recurrence=series)  # the series moved
    expect((at(11), at(12, 30)), *((at(15, day=d), at(16, day=d)) for d in days))
    for event_id in ("one", "daily"):
        response = http.request(
            "DELETE",
            f"/v1/calendars/{cal.calendar_id}/events",
            json={"event_id": event_id},
            headers=cal.headers,
        )
        assert response.status_code == 202
    expect()

    def content(start: datetime, **kw: Any) -> EventContent:
        return EventContent(summary="x", start=start, end=start + timedelta(hours=1), **kw)

    weekly = ("RRULE:FREQ=DAILY;COUNT=3",)
    _remote(
        api_server.store,
        cal,
        [
            RemoteEvent("single", content(at(9))),
            RemoteEvent("s", content(at(17), recurrence=weekly)),
        ],
    )
    expect((at(9), at(10)), *((at(17, day=d), at(18, day=d)) for d in days))
    _remote(
        api_server.store,
        cal,
        [
            RemoteEvent("single", content(at(9), status="cancelled")),
            RemoteEvent(
                "s-1",
                content(at(17, day=1), original_start=at(17, day=1), status="cancelled"),
                master_remote_id="s",
            ),
        ],
    )
    expect((at(17), at(18)), (at(17, day=2), at(18, day=2)))
    _remote(api_server.store, cal, [RemoteEvent("s", content(at(17), status="cancelled"))])
    expect()
    _remote(api_server.store, cal, [RemoteEvent("late", content(at(10, day=1)))])
    expect((at(10, day=1), at(11, day=1)))
    # A calendar deleted as a sync deletes it (its events left as they are) moves the
    # account's version but no event's change_seq: its busy time goes at once too.
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(cal.sub)
        uow.calendars.soft_delete(uow.calendars.get(account.pk, cal.calendar_id).pk)
    expect()
