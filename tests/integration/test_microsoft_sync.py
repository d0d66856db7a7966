"""The Microsoft provider's pulls and auth against the Graph fake, beyond the contract:
window slides, removals outside the window, a fresh process, token cache and CA trust."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calsync.errors import CursorExpired
from calsync.providers import secrets_vault
from calsync.providers._graph_auth import GraphAuth
from calsync.providers.base import SyncWindow
from tests.contract.provider_contract import pull_all
from tests.fakes.graph_testing import event_body, graph_fake, weekly
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fakes.microsoft_testing import make_auth, make_provider

__all__ = ["graph_fake"]

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
WINDOW = SyncWindow(NOW - timedelta(days=10), NOW + timedelta(days=30))


def put(fake: MicrosoftGraphFake, subject: str, start: datetime) -> str:
    return fake.put_event(fake.default_calendar_id, event_body(subject, start))


def test_a_slid_window_starts_a_new_round_without_deleting_what_left_it(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    provider = make_provider(fake)
    calendar = fake.default_calendar_id
    leaving = put(fake, "Leaving", NOW - timedelta(days=9))
    doomed = put(fake, "Doomed", NOW + timedelta(days=5))
    full = pull_all(provider, calendar, None, WINDOW)
    assert set(full.changed) == {leaving, doomed}
    arriving = put(fake, "Arriving", NOW + timedelta(days=31))
    fake.delete_event(doomed)
    slid = SyncWindow(WINDOW.start + timedelta(days=2), WINDOW.end + timedelta(days=2))
    delta = pull_all(provider, calendar, full.final.cursor, slid)
    assert not delta.final.full_listing
    assert set(delta.changed) == {arriving}
    assert delta.deleted == {doomed}, "the old round's deletions are still reported"
    cursor = json.loads(str(delta.final.cursor))
    assert cursor["start"] == (slid.start.date()).strftime("%Y-%m-%dT00:00:00Z")
    again = pull_all(provider, calendar, delta.final.cursor, slid)
    assert not again.changed and not again.deleted


def test_an_event_moved_out_of_the_window_is_listed_not_deleted(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    provider = make_provider(fake)
    calendar = fake.default_calendar_id
    moving = put(fake, "Moving", NOW + timedelta(days=3))
    full = pull_all(provider, calendar, None, WINDOW)
    later = NOW + timedelta(days=90)
    fake.patch_event(
        moving, {k: v for k, v in event_body("Moving", later).items() if k != "subject"}
    )
    delta = pull_all(provider, calendar, full.final.cursor, WINDOW)
    assert delta.deleted == set(), "Graph says @removed; the event still exists"
    assert delta.changed[moving].content.start == later


def test_a_fresh_process_places_removals_with_the_cursor_s_membership(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    calendar = fake.default_calendar_id
    gone = put(fake, "Gone", NOW + timedelta(days=2))
    start = NOW + timedelta(days=1)
    master = fake.put_event(calendar, event_body("Weekly", start, recurrence=weekly(start, 4)))
    full = pull_all(make_provider(fake), calendar, None, WINDOW)
    second = start + timedelta(days=7)
    [occurrence] = [
        i["id"]
        for i in fake.instances(calendar, second, second + timedelta(hours=1))
        if i.get("seriesMasterId") == master
    ]
    fake.delete_event(gone)
    fake.delete_event(occurrence)
    before = fake.count("GET", "/calendarView/delta")
    restarted = make_provider(fake)  # another process: only the cursor is shared
    delta = pull_all(restarted, calendar, full.final.cursor, WINDOW)
    assert fake.count("GET", "/calendarView/delta") == before + 1, "no full round"
    assert delta.deleted == {gone}
    [cancelled] = [e for e in delta.changed.values() if e.content.status == "cancelled"]
    assert cancelled.master_remote_id == master and cancelled.content.original_start == second
    assert set(delta.changed) - {master} == {cancelled.remote_id}
    again = pull_all(make_provider(fake), calendar, delta.final.cursor, WINDOW)
    assert not again.changed and not again.deleted


def test_a_cursor_without_membership_reconciles_removals_it_cannot_place(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    calendar = fake.default_calendar_id
    gone = put(fake, "Gone", NOW + timedelta(days=2))
    first = make_provider(fake)
    full = pull_all(first, calendar, None, WINDOW)
    fake.delete_event(gone)
    older = json.loads(str(full.final.cursor))
    del older["series"]  # as calsync wrote it before the membership went into the cursor
    restarted = make_provider(fake)  # another process: it has not listed the calendar
    with pytest.raises(CursorExpired):
        pull_all(restarted, calendar, json.dumps(older), WINDOW)
    # The process that listed it knows the id is a single event.
    assert pull_all(first, calendar, json.dumps(older), WINDOW).deleted == {gone}


def test_a_process_that_never_listed_in_full_writes_no_membership(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    calendar = fake.default_calendar_id
    put(fake, "Known", NOW + timedelta(days=2))
    full = pull_all(make_provider(fake), calendar, None, WINDOW)
    older = json.loads(str(full.final.cursor))
    del older["series"]
    put(fake, "New", NOW + timedelta(days=3))
    # What one round lists is not every instance: it must not pass for the whole.
    delta = pull_all(make_provider(fake), calendar, json.dumps(older), WINDOW)
    assert [e.content.summary for e in delta.changed.values()] == ["New"]
    assert "series" not in json.loads(str(delta.final.cursor))


def test_the_encrypted_token_cache_spares_a_restart_the_token_request(
    graph_fake: MicrosoftGraphFake, tmp_path: Path
) -> None:
    fake = graph_fake
    keys = [secrets_vault.generate_key().encode()]
    refresh = fake.issue_refresh_token()

    def auth() -> GraphAuth:
        return GraphAuth(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            authority=fake.authority,
            refresh_token=refresh,
            ca_file=str(fake.ca_file),
            token_cache=tmp_path / "ms.cache",
            vault_keys=keys,
        )

    first = auth()
    token = first.access_token()
    assert (tmp_path / "ms.cache").read_text().startswith(secrets_vault.CIPHERTEXT_PREFIX)
    assert refresh not in (tmp_path / "ms.cache").read_text()
    before = fake.count("POST", "/token")
    assert auth().access_token() == token
    assert fake.count("POST", "/token") == before, "the restart reused the cached token"


def test_ca_file_wins_over_requests_ca_bundle(
    graph_fake: MicrosoftGraphFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets REQUESTS_CA_BUNDLE override verify=; calsync's session ignores it.
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("", encoding="ascii")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("SSL_CERT_FILE", str(bogus))
    provider = make_provider(graph_fake, auth=make_auth(graph_fake))
    assert [c.name for c in provider.list_calendars()] == ["Calendar"]


def test_a_meeting_its_organizer_cancelled_is_pulled_as_cancelled(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    calendar = fake.default_calendar_id
    meeting = put(fake, "Review", NOW + timedelta(days=2))
    provider = make_provider(fake)
    full = pull_all(provider, calendar, None, WINDOW)
    assert full.changed[meeting].content.status == "confirmed"
    fake.cancel_for_attendee(meeting)  # it stays in the attendee's calendar, isCancelled
    delta = pull_all(provider, calendar, full.final.cursor, WINDOW)
    assert delta.changed[meeting].content.status == "cancelled"
    assert delta.changed[meeting].content.summary == "Canceled: Review"
    assert not delta.deleted
