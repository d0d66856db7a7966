"""Events through the official SDK: create, list over a range, update, delete,
a recurring series expanded and one occurrence cancelled, and the same rows
through the Cronofy dialect (pycronofy) both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import chronary
import httpx
import pycronofy
import pytest
from chronary import Chronary

from tests.fixtures.api import ApiServer, create_app_calendar, cronofy_client

AFTER, BEFORE = "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z"


@pytest.fixture
def calendar_id(sdk: Chronary) -> str:
    return sdk.calendars.create(name="Rooms", timezone="Europe/Berlin").id


def test_event_lifecycle(sdk: Chronary, calendar_id: str) -> None:
    created = sdk.events.create(
        calendar_id,
        title="Standup",
        start_time="2026-03-02T09:00:00+01:00",
        end_time="2026-03-02T09:15:00+01:00",
        description="daily",
        metadata={"room": "A"},
        reminders=[10, 60],
        status="tentative",
    )
    assert created.id.startswith("evt_") and created.calendar_id == calendar_id
    assert created.start_time == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert created.end_time == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert (created.title, created.status, created.source) == ("Standup", "tentative", "internal")
    assert created.metadata == {"room": "A"} and created.reminders == [10, 60]
    assert created.recurrence_rule is None and created.recurrence_exdates == []
    assert created.created_at <= created.updated_at

    assert sdk.events.get(calendar_id, created.id).model_dump() == created.model_dump()
    assert sdk.events.get_by_id(created.id).model_dump() == created.model_dump()

    moved = sdk.events.update(
        calendar_id, created.id, start_time="2026-03-02T10:00:00Z", end_time="2026-03-02T10:30:00Z"
    )
    assert moved.start_time == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert (moved.title, moved.status, moved.metadata) == ("Standup", "tentative", {"room": "A"})
    assert moved.updated_at >= created.updated_at
    confirmed = sdk.events.update_by_id(
        created.id, status="confirmed", metadata={"room": "B"}, description=None
    )
    assert confirmed.status == "confirmed" and confirmed.metadata == {"room": "B"}
    assert confirmed.description is None

    sdk.events.delete(calendar_id, created.id)
    with pytest.raises(chronary.NotFoundError) as caught:
        sdk.events.get_by_id(created.id)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["code"] == "event_not_found"


def test_list_over_a_range_and_filters(sdk: Chronary, calendar_id: str) -> None:
    ids = [
        sdk.events.create(
            calendar_id,
            title=f"e{day}",
            start_time=f"2026-04-{day:02d}T12:00:00Z",
            end_time=f"2026-04-{day:02d}T13:00:00Z",
            status="cancelled" if day == 3 else None,
        ).id
        for day in (1, 2, 3, 4)
    ]
    window = sdk.events.list(
        calendar_id, start_after="2026-04-02T00:00:00Z", start_before="2026-04-04T00:00:00Z"
    )
    assert [e.id for e in window.data] == ids[1:3]
    assert [e.id for e in sdk.events.list(calendar_id, status="cancelled").data] == [ids[2]]
    assert sdk.events.list(calendar_id, source="external_ical").total == 0
    paged = sdk.events.list(calendar_id, limit=3)
    assert paged.total == 4 and paged.has_more
    assert [e.id for e in paged.auto_paging_iter()] == ids


def test_all_day_events(sdk: Chronary, calendar_id: str) -> None:
    made = sdk.events.create(
        calendar_id,
        title="Holiday",
        start_time="2026-05-01",
        end_time="2026-05-02",
        all_day=True,
    )
    assert made.all_day
    assert made.start_time.date().isoformat() == "2026-05-01"
    assert made.end_time.date().isoformat() == "2026-05-02"

    weekly = sdk.events.create(
        calendar_id,
        title="Rota",
        start_time="2026-05-04",
        end_time="2026-05-05",
        all_day=True,
        recurrence_rule="FREQ=WEEKLY;COUNT=3",
    )
    cancelled = sdk.events.delete(calendar_id, weekly.id, occurrence_start="2026-05-11")
    assert cancelled is not None and cancelled.recurrence_exdates == ["2026-05-11"]
    days = [
        e.start_time.date().isoformat()
        for e in sdk.events.list(
            calendar_id,
            expand=True,
            start_after="2026-05-03T00:00:00Z",
            start_before="2026-06-01T00:00:00Z",
        ).data
        if e.recurring_event_id == weekly.id
    ]
    assert days == ["2026-05-04", "2026-05-18"]


def test_recurring_series_expanded_and_one_occurrence_cancelled(
    sdk: Chronary, calendar_id: str
) -> None:
    series = sdk.events.create(
        calendar_id,
        title="Weekly",
        start_time="2026-03-23T09:00:00+01:00",  # Monday; Berlin switches to CEST on the 29th
        end_time="2026-03-23T10:00:00+01:00",
        recurrence_rule="FREQ=WEEKLY;COUNT=4",
    )
    assert series.recurrence_rule == "FREQ=WEEKLY;COUNT=4"
    masters = sdk.events.list(calendar_id)
    assert [e.id for e in masters.data] == [series.id]

    expanded = sdk.events.list(calendar_id, expand=True, start_after=AFTER, start_before=BEFORE)
    starts = [e.start_time for e in expanded.data]
    # 09:00 local every week: 08:00 UTC before the DST change, 07:00 UTC after it.
    assert starts == [
        datetime(2026, 3, 23, 8, tzinfo=UTC),
        datetime(2026, 3, 30, 7, tzinfo=UTC),
        datetime(2026, 4, 6, 7, tzinfo=UTC),
        datetime(2026, 4, 13, 7, tzinfo=UTC),
    ]
    assert {e.recurring_event_id for e in expanded.data} == {series.id}
    assert [e.original_start_time for e in expanded.data] == starts
    assert len({e.id for e in expanded.data}) == 4

    updated = sdk.events.delete(calendar_id, series.id, occurrence_start="2026-03-30T07:00:00Z")
    assert updated is not None and updated.id == series.id
    assert [d for d in updated.recurrence_exdates] and len(updated.recurrence_exdates) == 1
    after = sdk.events.list(calendar_id, expand=True, start_after=AFTER, start_before=BEFORE)
    assert [e.start_time for e in after.data] == [starts[0], starts[2], starts[3]]

    with pytest.raises(chronary.BadRequestError) as caught:
        sdk.events.delete(calendar_id, series.id, occurrence_start="2026-03-31T07:00:00Z")
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["param"] == "occurrence_start"
    with pytest.raises(chronary.BadRequestError):
        sdk.events.list(calendar_id, expand=True)  # a range is required

    single = sdk.events.update(calendar_id, series.id, recurrence_rule=None)
    assert single.recurrence_rule is None and single.recurrence_exdates == []
    assert [
        e.id
        for e in sdk.events.list(
            calendar_id, expand=True, start_after=AFTER, start_before=BEFORE
        ).data
    ] == [series.id]


def test_not_recurring_and_bad_rule(sdk: Chronary, calendar_id: str) -> None:
    one = sdk.events.create(
        calendar_id,
        title="once",
        start_time="2026-06-01T10:00:00Z",
        end_time="2026-06-01T11:00:00Z",
    )
    with pytest.raises(chronary.APIStatusError) as caught:
        sdk.events.delete_by_id(one.id, occurrence_start="2026-06-01T10:00:00Z")
    assert caught.value.status_code == 409
    with pytest.raises(chronary.BadRequestError) as bad:
        sdk.events.create(
            calendar_id,
            title="x",
            start_time="2026-06-01T10:00:00Z",
            end_time="2026-06-01T11:00:00Z",
            recurrence_rule="FREQ=SOMETIMES;COUNT=x",
        )
    assert isinstance(bad.value.body, dict)
    assert bad.value.body["error"]["param"] == "recurrence_rule"
    with pytest.raises(chronary.BadRequestError) as backwards:
        sdk.events.create(
            calendar_id,
            title="x",
            start_time="2026-06-01T10:00:00Z",
            end_time="2026-06-01T09:00:00Z",
        )
    assert isinstance(backwards.value.body, dict)
    assert backwards.value.body["error"]["param"] == "end_time"


def test_agent_events_across_its_calendars(sdk: Chronary) -> None:
    agent = sdk.agents.create(name="Ada", type="human")
    first = sdk.agents.calendars.create(agent.id, name="Work", timezone="UTC")
    second = sdk.agents.calendars.create(agent.id, name="Home", timezone="UTC")
    for calendar, day in ((first, 1), (second, 2)):
        sdk.events.create(
            calendar.id,
            title=calendar.name,
            start_time=f"2026-07-0{day}T10:00:00Z",
            end_time=f"2026-07-0{day}T11:00:00Z",
        )
    listed = sdk.agents.events.list(agent.id)
    assert [(e.title, e.calendar_id) for e in listed.data] == [
        ("Work", first.id),
        ("Home", second.id),
    ]
    sdk.agents.delete(agent.id)
    with pytest.raises(chronary.PermissionDeniedError) as caught:
        sdk.events.create(
            first.id,
            title="late",
            start_time="2026-07-03T10:00:00Z",
            end_time="2026-07-03T11:00:00Z",
        )
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["code"] == "agent_decommissioned"
    assert sdk.agents.events.list(agent.id).total == 2  # its events stay readable


def test_cross_dialect(api_server: ApiServer, sdk: Chronary, http: httpx.Client) -> None:
    """A Chronary event is the row pycronofy reads; a Cronofy upsert is listed here."""
    app = create_app_calendar(http, "shared")
    (agent,) = [a for a in sdk.agents.list().data if a.name == "shared"]
    (calendar,) = sdk.agents.calendars.list(agent.id).data
    assert calendar.id == app.calendar_id

    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    made = sdk.events.create(
        calendar.id,
        title="From Chronary",
        start_time="2026-08-03T09:00:00Z",
        end_time="2026-08-03T10:00:00Z",
    )
    cronofy: pycronofy.Client = cronofy_client(api_server.base_url, app.access_token)
    read = list(
        cronofy.read_events(
            calendar_ids=(calendar.id,),
            from_date="2026-08-01",
            to_date="2026-08-10",
            tzid="Etc/UTC",
            last_modified=before,
            include_managed=True,
        )
    )
    assert [(e["event_uid"], e["summary"]) for e in read] == [(made.id, "From Chronary")]

    cronofy.upsert_event(
        calendar.id,
        {
            "event_id": "from-cronofy",
            "summary": "From Cronofy",
            "start": "2026-08-04T09:00:00Z",
            "end": "2026-08-04T10:00:00Z",
        },
    )
    listed = sdk.events.list(calendar.id, start_after="2026-08-04T00:00:00Z")
    (event,) = listed.data
    assert (event.title, event.source) == ("From Cronofy", "internal")
    edited = sdk.events.update(calendar.id, event.id, title="Edited in Chronary")
    again = list(
        cronofy.read_events(
            calendar_ids=(calendar.id,),
            from_date="2026-08-04",
            to_date="2026-08-05",
            tzid="Etc/UTC",
            include_managed=True,
        )
    )
    assert [(e["event_id"], e["summary"]) for e in again] == [("from-cronofy", edited.title)]


def test_holds_and_unkept_calendar_fields_are_refused(sdk: Chronary, calendar_id: str) -> None:
    with pytest.raises(chronary.BadRequestError) as hold:
        sdk.events.create(
            calendar_id,
            title="maybe",
            start_time="2026-06-01T10:00:00Z",
            end_time="2026-06-01T11:00:00Z",
            status="hold",
            hold_expires_at="2026-05-31T10:00:00Z",
        )
    assert isinstance(hold.value.body, dict) and hold.value.body["error"]["param"] == "status"
    with pytest.raises(chronary.BadRequestError) as reminders:
        sdk.calendars.create(name="r", timezone="UTC", default_reminders=[10])
    assert isinstance(reminders.value.body, dict)
    assert reminders.value.body["error"]["param"] == "default_reminders"
    assert sdk.events.list(calendar_id).total == 0
    assert [c.name for c in sdk.calendars.list().data] == ["Rooms"]


def test_the_async_client_too(api_server: ApiServer, org_key: str) -> None:
    import anyio
    from chronary import AsyncChronary

    from tests.fixtures.chronary import chronary_url

    async def walk() -> list[str]:
        async with AsyncChronary(
            api_key=org_key, base_url=chronary_url(api_server), max_retries=0
        ) as client:
            calendar = await client.calendars.create(name="Async", timezone="UTC")
            await client.events.create(
                calendar.id,
                title="awaited",
                start_time="2026-11-01T10:00:00Z",
                end_time="2026-11-01T11:00:00Z",
            )
            page = await client.events.list(calendar.id)
            return [e.title async for e in page.auto_paging_iter()]

    assert anyio.run(walk) == ["awaited"]
