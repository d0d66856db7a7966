"""CalDAV pulls against real Radicale: full, incremental, deletions, expiry, fallback, batching."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calsync.errors import CredentialsInvalid, CursorExpired
from calsync.providers.base import PullPage, SyncWindow
from calsync.providers.caldav import CTAG_CURSOR_PREFIX, CalDAVProvider
from tests.fixtures.radicale import RadicaleCalendar, make_caldav_provider, vevent_ics

WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


def simple(uid: str, summary: str, day: int = 1) -> str:
    return vevent_ics(
        uid,
        f"""
DTSTAMP:20260101T000000Z
DTSTART:202603{day:02d}T140000Z
DTEND:202603{day:02d}T150000Z
SUMMARY:{summary}
""",
    )


def pull(
    provider: CalDAVProvider, calendar: RadicaleCalendar, cursor: str | None
) -> list[PullPage]:
    pages = list(provider.pull(calendar.url, cursor, WINDOW))
    assert pages and pages[-1].final
    assert all(not p.final and p.cursor is None for p in pages[:-1])
    return pages


def changed(pages: list[PullPage]) -> dict[str, str]:
    return {e.remote_id: e.content.summary for p in pages for e in p.changed}


def deleted(pages: list[PullPage]) -> set[str]:
    return {rid for p in pages for rid in p.deleted}


@pytest.fixture
def provider(radicale_calendar: RadicaleCalendar) -> Iterator[CalDAVProvider]:
    built = make_caldav_provider(radicale_calendar)
    yield built
    built.close()


def test_list_calendars_finds_the_calendar_with_name_and_ctag(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    calendars = provider.list_calendars()
    assert [c.remote_id for c in calendars] == [radicale_calendar.url]
    assert calendars[0].name.startswith("cal-")
    assert calendars[0].version


def test_wrong_password_is_credentials_invalid(
    radicale_calendar: RadicaleCalendar, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-password"
    bad.write_text("nope")
    provider = make_caldav_provider(radicale_calendar, password_file=str(bad))
    with pytest.raises(CredentialsInvalid):
        list(provider.pull(radicale_calendar.url, None, WINDOW))


def test_initial_then_incremental_sync_reports_changes_and_deletions(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    a = radicale_calendar.put("a.ics", simple("a", "Alpha"))
    b = radicale_calendar.put("b.ics", simple("b", "Beta", 2))
    first = pull(provider, radicale_calendar, None)
    assert changed(first) == {a: "Alpha", b: "Beta"}
    assert first[-1].full_listing and not deleted(first)
    assert all(e.etag for p in first for e in p.changed)
    cursor = first[-1].cursor
    assert cursor and not cursor.startswith(CTAG_CURSOR_PREFIX)

    quiet = pull(provider, radicale_calendar, cursor)
    assert not changed(quiet) and not deleted(quiet) and not quiet[-1].full_listing

    radicale_calendar.put("b.ics", simple("b", "Beta v2", 2))
    c = radicale_calendar.put("c.ics", simple("c", "Gamma", 3))
    radicale_calendar.delete("a.ics")
    delta = pull(provider, radicale_calendar, quiet[-1].cursor)
    assert changed(delta) == {b: "Beta v2", c: "Gamma"}
    assert deleted(delta) == {a}
    assert not delta[-1].full_listing
    assert delta[-1].cursor != cursor


def test_expired_sync_token_raises_cursor_expired_before_any_page(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    radicale_calendar.put("a.ics", simple("a", "Alpha"))
    cursor = pull(provider, radicale_calendar, None)[-1].cursor
    radicale_calendar.drop_sync_tokens()
    # Radicale only looks the old token up when the collection changed since.
    radicale_calendar.put("b.ics", simple("b", "Beta"))
    pages = provider.pull(radicale_calendar.url, cursor, WINDOW)
    with pytest.raises(CursorExpired):
        next(pages)
    # The engine's answer: a full pull again, which works.
    again = pull(provider, radicale_calendar, None)
    assert len(changed(again)) == 2 and again[-1].full_listing


def test_garbage_token_is_cursor_expired(
    provider: CalDAVProvider, radicale_calendar: RadicaleCalendar
) -> None:
    with pytest.raises(CursorExpired):
        pull(provider, radicale_calendar, "http://radicale.org/ns/sync/" + "0" * 64 + "x")


def test_ctag_etag_fallback_without_sync_collection(radicale_calendar: RadicaleCalendar) -> None:
    provider = make_caldav_provider(radicale_calendar, sync_collection=False)
    a = radicale_calendar.put("a.ics", simple("a", "Alpha"))
    b = radicale_calendar.put("b.ics", simple("b", "Beta", 2))
    first = pull(provider, radicale_calendar, None)
    assert changed(first) == {a: "Alpha", b: "Beta"} and first[-1].full_listing
    cursor = first[-1].cursor
    assert cursor is not None and cursor.startswith(CTAG_CURSOR_PREFIX)

    same = pull(provider, radicale_calendar, cursor)
    assert same[-1].unchanged and same[-1].cursor == cursor and not changed(same)

    radicale_calendar.put("a.ics", simple("a", "Alpha v2"))
    radicale_calendar.delete("b.ics")
    c = radicale_calendar.put("c.ics", simple("c", "Gamma", 3))
    delta = pull(provider, radicale_calendar, cursor)
    assert changed(delta) == {a: "Alpha v2", c: "Gamma"}
    assert deleted(delta) == {b}
    assert not delta[-1].full_listing and not delta[-1].unchanged

    # A sync token is not a valid cursor for the fallback: start over.
    with pytest.raises(CursorExpired):
        pull(provider, radicale_calendar, "http://radicale.org/ns/sync/" + "0" * 64)


def test_multiget_batches_never_exceed_the_batch_size(radicale_calendar: RadicaleCalendar) -> None:
    # 600 events in batches of 250 prove the bound as well as 1,200 in 500s would, at half
    # the cost: Radicale's first look at a bulk-loaded calendar dominates (~15 ms/event).
    count, batch = 600, 250
    radicale_calendar.write_files(
        {f"bulk-{n:04d}.ics": simple(f"bulk-{n}", f"Bulk {n}", 1 + n % 28) for n in range(count)}
    )
    requests: list[tuple[str, bytes]] = []
    provider = CalDAVProvider(
        radicale_calendar.server.principal_url,
        username=radicale_calendar.server.username,
        password=radicale_calendar.server.password,
        multiget_batch=batch,
        request_hook=lambda method, url, body: requests.append((method, body)),
    )
    pages = pull(provider, radicale_calendar, None)
    multigets = [body for method, body in requests if b"calendar-multiget" in body]
    sizes = [body.count(b"<D:href>") for body in multigets]
    assert sizes == [250, 250, 100]
    assert [len(p.changed) for p in pages] == sizes, "one page per multiget batch"
    assert all(method != "GET" for method, _ in requests), "never one GET per object"
    assert len(changed(pages)) == count and pages[-1].full_listing
    assert pages[0].expected_total == count
