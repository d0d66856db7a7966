"""calendarList incremental sync (provider + fake) and page tokens bound to their query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from calsync.providers.base import SyncWindow
from calsync.providers.google import GoogleProvider
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import google_fake, make_provider

__all__ = ["google_fake"]

CAL = "work@example.com"
WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def fake(google_fake: GoogleCalendarFake) -> GoogleCalendarFake:
    google_fake.add_calendar("Work", calendar_id=CAL, primary=True)
    google_fake.add_calendar("Team", calendar_id="team@example.com")
    google_fake.add_calendar("Old", calendar_id="old@example.com")
    return google_fake


def names(provider: GoogleProvider) -> dict[str, str]:
    return {c.remote_id: c.name for c in provider.list_calendars()}


def list_queries(fake: GoogleCalendarFake) -> list[dict[str, str]]:
    return [r.query for r in fake.requests if r.path.endswith("/calendarList")]


def test_later_lists_send_the_sync_token_and_apply_only_the_changes(
    fake: GoogleCalendarFake,
) -> None:
    provider = make_provider(fake)
    assert names(provider) == {CAL: "Work", "team@example.com": "Team", "old@example.com": "Old"}
    assert "syncToken" not in list_queries(fake)[-1]

    fake.rename_calendar("team@example.com", "Team (renamed)")
    fake.remove_calendar("old@example.com")
    fake.add_calendar("New", calendar_id="new@example.com")
    # Unchanged "Work" is not in the incremental answer, yet stays listed.
    assert names(provider) == {
        CAL: "Work",
        "team@example.com": "Team (renamed)",
        "new@example.com": "New",
    }
    assert "syncToken" in list_queries(fake)[-1]
    assert names(provider) == {
        CAL: "Work",
        "team@example.com": "Team (renamed)",
        "new@example.com": "New",
    }, "a no-change incremental list keeps everything"


def test_the_config_filter_applies_to_incremental_changes(fake: GoogleCalendarFake) -> None:
    provider = make_provider(fake, calendars=["Team", "Later"])
    assert names(provider) == {"team@example.com": "Team"}
    fake.add_calendar("Later", calendar_id="later@example.com")
    fake.add_calendar("Unwanted", calendar_id="unwanted@example.com")
    assert names(provider) == {"team@example.com": "Team", "later@example.com": "Later"}


def test_expired_calendar_list_token_falls_back_to_a_full_list(fake: GoogleCalendarFake) -> None:
    provider = make_provider(fake)
    names(provider)
    names(provider)  # now holding a token
    fake.expire_calendar_list_sync_tokens()
    fake.remove_calendar("old@example.com")
    assert names(provider) == {CAL: "Work", "team@example.com": "Team"}
    statuses = [r.status for r in fake.requests if r.path.endswith("/calendarList")]
    assert statuses[-2:] == [410, 200]
    assert "syncToken" in list_queries(fake)[-2] and "syncToken" not in list_queries(fake)[-1]


def test_the_token_outlives_the_provider_instance_per_account(fake: GoogleCalendarFake) -> None:
    """The engine builds a provider per pass: the next one, same account, goes incremental."""
    refresh_token = fake.issue_refresh_token()
    names(make_provider(fake, refresh_token=refresh_token))
    fake.rename_calendar(CAL, "Work (renamed)")
    again = make_provider(fake, refresh_token=refresh_token)
    assert names(again)[CAL] == "Work (renamed)"
    names(make_provider(fake))  # another account (refresh token): its own full list
    assert ["syncToken" in q for q in list_queries(fake)] == [False, True, False]


def test_incremental_calendar_list_pages_carry_the_sync_token(fake: GoogleCalendarFake) -> None:
    provider = make_provider(fake)
    names(provider)
    for n in range(260):  # more than one page of 250
        fake.add_calendar(f"C{n}", calendar_id=f"c{n:03d}@example.com")
    listed = names(provider)
    assert len(listed) == 263
    incremental = list_queries(fake)[-2:]
    assert all("syncToken" in q for q in incremental) and "pageToken" in incremental[1]


# -- the fake, over raw HTTP ---------------------------------------------------------------


def _auth(fake: GoogleCalendarFake) -> dict[str, str]:
    reply = httpx.post(
        fake.token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": fake.issue_refresh_token(),
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
        },
    )
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.mark.parametrize(
    "extra", [{"showDeleted": "false"}, {"showHidden": "false"}, {"minAccessRole": "owner"}]
)
def test_fake_calendar_list_rejects_what_google_rejects_beside_sync_token(
    fake: GoogleCalendarFake, extra: dict[str, str]
) -> None:
    auth = _auth(fake)
    url = f"{fake.api_endpoint}users/me/calendarList"
    token = httpx.get(url, headers=auth).json()["nextSyncToken"]
    assert httpx.get(url, params={"syncToken": token, **extra}, headers=auth).status_code == 400
    assert httpx.get(url, params={"syncToken": token}, headers=auth).status_code == 200


def test_fake_calendar_list_reports_deletions_by_id(fake: GoogleCalendarFake) -> None:
    auth = _auth(fake)
    url = f"{fake.api_endpoint}users/me/calendarList"
    token = httpx.get(url, headers=auth).json()["nextSyncToken"]
    fake.remove_calendar("old@example.com")
    items = httpx.get(url, params={"syncToken": token}, headers=auth).json()["items"]
    assert items == [
        {"kind": "calendar#calendarListEntry", "etag": items[0]["etag"], "id": "old@example.com"}
        | {"deleted": True}
    ]
    full = httpx.get(url, headers=auth).json()["items"]
    assert "old@example.com" not in {e["id"] for e in full}
    events = httpx.get(f"{fake.api_endpoint}calendars/old@example.com/events", headers=auth)
    assert events.status_code == 404


def test_fake_binds_the_events_page_token_to_the_first_pages_query(
    fake: GoogleCalendarFake,
) -> None:
    auth = _auth(fake)
    url = f"{fake.api_endpoint}calendars/{CAL}/events"
    token = httpx.get(url, headers=auth).json()["nextSyncToken"]
    for n in range(3):
        fake.put_event(CAL, _timed(f"E{n}", T0 + timedelta(hours=n)))
    query = {"syncToken": token, "maxResults": "1", "showDeleted": "true"}
    first = httpx.get(url, params=query, headers=auth).json()
    page = first["nextPageToken"]
    dropped = {k: v for k, v in query.items() if k != "syncToken"}
    for wrong in (dropped, {**query, "maxResults": "2"}, {**query, "showDeleted": "false"}):
        reply = httpx.get(url, params={**wrong, "pageToken": page}, headers=auth)
        assert reply.status_code == 400, wrong
        assert reply.json()["error"]["errors"][0]["reason"] == "invalid"
    assert httpx.get(url, params={**query, "pageToken": page}, headers=auth).status_code == 200


def test_fake_binds_the_calendar_list_page_token(fake: GoogleCalendarFake) -> None:
    auth = _auth(fake)
    url = f"{fake.api_endpoint}users/me/calendarList"
    page = httpx.get(url, params={"maxResults": "1"}, headers=auth).json()["nextPageToken"]
    wrong = httpx.get(url, params={"maxResults": "1", "showDeleted": "true", "pageToken": page})
    assert wrong.status_code == 401, "unauthenticated first"
    wrong = httpx.get(
        url, params={"maxResults": "1", "showDeleted": "true", "pageToken": page}, headers=auth
    )
    assert wrong.status_code == 400
    right = httpx.get(url, params={"maxResults": "1", "pageToken": page}, headers=auth)
    assert right.status_code == 200


def test_provider_pages_incremental_pulls_with_the_same_query(fake: GoogleCalendarFake) -> None:
    provider = make_provider(fake, page_size=2)
    pages = list(provider.pull(CAL, None, WINDOW))
    cursor = pages[-1].cursor
    ids = [fake.put_event(CAL, _timed(f"E{n}", T0 + timedelta(hours=n))) for n in range(5)]
    fake.shape_pages([1, 0, 2])
    pages = list(provider.pull(CAL, cursor, WINDOW))
    assert sorted(e.remote_id for p in pages for e in p.changed) == sorted(ids)
    incremental = [r for r in fake.requests if r.path.endswith("/events")][-len(pages) :]
    assert len(incremental) > 2 and all(r.status == 200 for r in incremental)
    assert all(r.query.get("syncToken") == cursor for r in incremental)


def _timed(summary: str, start: datetime) -> dict[str, object]:
    end = start + timedelta(minutes=30)
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": end.isoformat(), "timeZone": "Europe/Berlin"},
    }


def test_a_calendar_deleted_from_the_fakes_table_is_listed_as_removed(
    fake: GoogleCalendarFake,
) -> None:
    provider = make_provider(fake)
    names(provider)
    del fake.calendars["old@example.com"]  # out of band, as some tests do
    assert names(provider) == {CAL: "Work", "team@example.com": "Team"}
    assert "syncToken" in list_queries(fake)[-1]
