"""The API tells its `LocalChanges` listeners about every committed app write to a
synced calendar (the daemon queues that calendar's push), over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx

from calsync.store.records import CalendarRecord
from tests.fixtures.api import ApiServer, bearer, create_app_calendar
from tests.fixtures.store import new_calendar


def event(event_id: str, summary: str = "Planning") -> dict[str, str]:
    return {
        "event_id": event_id,
        "summary": summary,
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T10:00:00Z",
    }


def test_writes_to_a_synced_calendar_reach_the_listener_after_commit(
    api_server: ApiServer, http: httpx.Client
) -> None:
    store = api_server.store
    calendar = new_calendar(store)
    with store.write() as uow:
        token = uow.tokens.issue(calendar.account_pk, "access", timedelta(hours=1))
    heard: list[tuple[str, int]] = []

    def listener(changed: CalendarRecord) -> None:
        with store.read() as uow:  # committed before the listener hears of it
            pending = uow.events.pending_pushes(calendar_pk=changed.pk)
        heard.append((changed.calendar_id, len(pending)))

    api_server.services.local_changes.subscribe(listener)
    url = f"/v1/calendars/{calendar.calendar_id}/events"
    headers = bearer(token)

    assert http.post(url, json=event("one"), headers=headers).status_code == 202
    assert http.post(url, json=event("one"), headers=headers).status_code == 202  # no change
    assert http.post(url, json=event("two"), headers=headers).status_code == 202
    batch = {"batch": [{"method": "POST", "relative_url": url, "data": event("three")}]}
    assert http.post("/v1/batch", json=batch, headers=headers).status_code == 200
    delete = http.request("DELETE", url, json={"event_id": "one"}, headers=headers)
    assert delete.status_code == 202
    assert http.request("DELETE", url, json={"event_id": "one"}, headers=headers).status_code == 202
    bulk = http.request(
        "DELETE", "/v1/events", json={"calendar_ids": [calendar.calendar_id]}, headers=headers
    )
    assert bulk.status_code == 202

    cid = calendar.calendar_id
    # "one" created, "two", "three"; "one" deleted (never pushed: nothing pending
    # for it); the bulk delete of "two" and "three". No-op writes say nothing.
    assert heard == [(cid, 1), (cid, 2), (cid, 3), (cid, 2), (cid, 0)]


def test_application_calendars_have_nothing_to_push(
    api_server: ApiServer, http: httpx.Client
) -> None:
    app = create_app_calendar(http, "local-only")
    heard: list[CalendarRecord] = []
    api_server.services.local_changes.subscribe(heard.append)
    response = http.post(
        f"/v1/calendars/{app.calendar_id}/events", json=event("x"), headers=app.headers
    )
    assert response.status_code == 202
    assert heard == []


def test_a_failing_listener_never_fails_the_write(
    api_server: ApiServer, http: httpx.Client
) -> None:
    calendar = new_calendar(api_server.store)
    with api_server.store.write() as uow:
        token = uow.tokens.issue(calendar.account_pk, "access", timedelta(hours=1))

    def broken(_calendar: CalendarRecord) -> None:
        raise RuntimeError("scheduler gone")

    api_server.services.local_changes.subscribe(broken)
    response = http.post(
        f"/v1/calendars/{calendar.calendar_id}/events", json=event("kept"), headers=bearer(token)
    )
    assert response.status_code == 202
    with api_server.store.read() as uow:
        assert [e.event_id for e in uow.events.pending_pushes(calendar_pk=calendar.pk)] == ["kept"]
