"""Google provider against the fake server: paging, expiry, recurrence, idempotent inserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from calsync.errors import CursorExpired
from calsync.ids import new_id
from calsync.model import EventContent
from calsync.providers.base import PullPage, SyncWindow
from calsync.providers.google import GoogleProvider, event_id_for
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import google_fake, make_provider

__all__ = ["google_fake"]

WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))
CAL = "work@example.com"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin


@pytest.fixture
def fake(google_fake: GoogleCalendarFake) -> GoogleCalendarFake:
    google_fake.add_calendar("Work", calendar_id=CAL, primary=True)
    return google_fake


def timed(summary: str, start: datetime, minutes: int = 60) -> dict[str, object]:
    end = start + timedelta(minutes=minutes)
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": end.isoformat(), "timeZone": "Europe/Berlin"},
    }


def pull(provider: GoogleProvider, cursor: str | None) -> list[PullPage]:
    pages = list(provider.pull(CAL, cursor, WINDOW))
    assert pages[-1].final and pages[-1].cursor
    assert all(not p.final and p.cursor is None and not p.full_listing for p in pages[:-1])
    return pages


def test_paging_with_short_and_empty_pages_lists_everything_once(fake: GoogleCalendarFake) -> None:
    ids = {fake.put_event(CAL, timed(f"E{n}", T0 + timedelta(hours=n))) for n in range(10)}
    fake.shape_pages([0, 3, 0, 1])
    provider = make_provider(fake, page_size=4)
    pages = pull(provider, None)
    listed = [e.remote_id for p in pages for e in p.changed]
    assert sorted(listed) == sorted(ids)
    assert any(not p.changed for p in pages[:-1]), "an empty page came with a nextPageToken"
    assert len(pages) == fake.count("GET", "/events")
    assert pages[-1].full_listing


def test_expired_sync_token_raises_cursor_expired_before_any_page(fake: GoogleCalendarFake) -> None:
    fake.put_event(CAL, timed("One", T0))
    provider = make_provider(fake)
    cursor = pull(provider, None)[-1].cursor
    fake.expire_sync_tokens()
    with pytest.raises(CursorExpired):
        provider.pull(CAL, cursor, WINDOW)  # the call itself raises
    assert fake.requests[-1].status == 410
    assert pull(provider, None)[-1].full_listing, "a full resync works afterwards"


def test_incremental_reports_deletion_and_change(fake: GoogleCalendarFake) -> None:
    keep = fake.put_event(CAL, timed("Keep", T0))
    gone = fake.put_event(CAL, timed("Gone", T0 + timedelta(hours=2)))
    provider = make_provider(fake)
    cursor = pull(provider, None)[-1].cursor
    fake.patch_event(CAL, keep, {"summary": "Kept"})
    fake.cancel_event(CAL, gone)
    delta = pull(provider, cursor)
    assert {e.remote_id: e.content.summary for p in delta for e in p.changed} == {keep: "Kept"}
    assert [d for p in delta for d in p.deleted] == [gone]
    assert not delta[-1].full_listing
    assert "syncToken" in fake.requests[-1].query
    assert "timeMin" not in fake.requests[-1].query


def test_insert_after_a_lost_response_creates_exactly_one_event(fake: GoogleCalendarFake) -> None:
    provider = make_provider(fake)
    event_uid = new_id("evt")
    content = EventContent(summary="Once", start=T0, end=T0 + timedelta(hours=1))
    fake.lose_next_responses(1)
    result = provider.create_event(CAL, event_uid, content)
    assert result.remote_id == event_id_for(event_uid)
    assert [e["id"] for e in fake.live_events(CAL)] == [result.remote_id]
    assert fake.count("POST", "/events") == 2, "the insert was sent again"
    assert any(r.status == 409 for r in fake.requests)
    assert result.etag == fake.live_events(CAL)[0]["etag"]
    pulled = [e for p in pull(provider, None) for e in p.changed]
    assert [e.origin_event_uid for e in pulled] == [event_uid]


def test_recurrence_with_moved_and_cancelled_instances(fake: GoogleCalendarFake) -> None:
    master = fake.put_event(
        CAL, {**timed("Weekly", T0), "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"]}
    )
    week2, week3 = T0 + timedelta(days=7), T0 + timedelta(days=14)
    moved_id = f"{master}_{week2:%Y%m%dT%H%M%SZ}"
    fake.patch_event(CAL, moved_id, timed("Weekly (moved)", week2 + timedelta(hours=2)))
    fake.cancel_event(CAL, f"{master}_{week3:%Y%m%dT%H%M%SZ}")
    provider = make_provider(fake)
    pages = pull(provider, None)
    events = {e.remote_id: e for p in pages for e in p.changed}
    assert not [d for p in pages for d in p.deleted], "a cancelled instance is not a deletion"
    assert events[master].content.recurrence == ("RRULE:FREQ=WEEKLY;COUNT=5",)
    assert events[master].content.tzid == "Europe/Berlin"
    moved = events[moved_id]
    assert moved.master_remote_id == master
    assert moved.content.original_start == week2
    assert moved.content.start == week2 + timedelta(hours=2)
    cancelled = [e for e in events.values() if e.content.status == "cancelled"]
    assert len(cancelled) == 1
    assert cancelled[0].master_remote_id == master
    assert cancelled[0].content.original_start == week3


def test_provider_writes_overrides_through_instances(fake: GoogleCalendarFake) -> None:
    provider = make_provider(fake)
    series = EventContent(
        summary="Standup",
        start=T0,
        end=T0 + timedelta(minutes=15),
        tzid="Europe/Berlin",
        recurrence=("RRULE:FREQ=DAILY;COUNT=3",),
    )
    master = provider.create_event(CAL, new_id("evt"), series)
    cursor = pull(provider, None)[-1].cursor
    day2 = T0 + timedelta(days=1)
    moved = EventContent(
        summary="Standup (late)",
        start=day2 + timedelta(hours=1),
        end=day2 + timedelta(hours=1, minutes=15),
        tzid="Europe/Berlin",
        original_start=day2,
    )
    override = provider.create_event(CAL, new_id("evt"), moved, master_remote_id=master.remote_id)
    provider.delete_event(CAL, f"{master.remote_id}_{T0 + timedelta(days=2):%Y%m%dT%H%M%SZ}", None)
    delta = {e.remote_id: e for p in pull(provider, cursor) for e in p.changed}
    assert delta[override.remote_id].content.summary == "Standup (late)"
    assert delta[override.remote_id].master_remote_id == master.remote_id
    statuses = sorted(e.content.status for e in delta.values())
    assert statuses == ["cancelled", "confirmed"]


def test_cancelled_events_carry_only_the_guaranteed_fields(fake: GoogleCalendarFake) -> None:
    gone = fake.put_event(CAL, timed("Gone", T0))
    fake.cancel_event(CAL, gone)
    token = _access_token(fake)
    reply = httpx.get(
        f"{fake.api_endpoint}calendars/{CAL}/events",
        params={"showDeleted": "true"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200
    assert set(reply.json()["items"][0]) == {"kind", "etag", "id", "status"}


@pytest.mark.parametrize("param", ["timeMin", "updatedMin", "q", "iCalUID", "orderBy"])
def test_fake_rejects_sync_token_with_forbidden_parameters(
    fake: GoogleCalendarFake, param: str
) -> None:
    token = _access_token(fake)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{fake.api_endpoint}calendars/{CAL}/events"
    sync = httpx.get(url, headers=auth).json()["nextSyncToken"]
    reply = httpx.get(url, params={"syncToken": sync, param: "2026-01-01T00:00:00Z"}, headers=auth)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == 400 and error["errors"][0]["reason"] == "invalid"
    assert httpx.get(url, params={"syncToken": sync}, headers=auth).status_code == 200


def test_fake_rejects_invalid_and_duplicate_ids(fake: GoogleCalendarFake) -> None:
    auth = {"Authorization": f"Bearer {_access_token(fake)}"}
    url = f"{fake.api_endpoint}calendars/{CAL}/events"
    body = timed("X", T0)
    assert httpx.post(url, json={**body, "id": "UPPER_case"}, headers=auth).status_code == 400
    assert httpx.post(url, json={**body, "id": "abcdefw"}, headers=auth).status_code == 400
    assert httpx.post(url, json={**body, "id": "abcdef012"}, headers=auth).status_code == 200
    again = httpx.post(url, json={**body, "id": "abcdef012"}, headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["errors"][0]["reason"] == "duplicate"


def _access_token(fake: GoogleCalendarFake) -> str:
    reply = httpx.post(
        fake.token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": fake.issue_refresh_token(),
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
        },
    )
    token: str = reply.json()["access_token"]
    return token
