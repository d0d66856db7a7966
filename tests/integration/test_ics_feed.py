"""ICS feeds over a real HTTP server: conditional GET, diffs, broken and empty feeds, auth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calsync.errors import CredentialsInvalid, ProviderError
from calsync.providers import registry
from calsync.providers.base import PullPage, SyncWindow
from calsync.providers.ics import IcsProvider
from tests.fixtures.feeds import FeedServer

WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


def vevent(uid: str, summary: str, extra: str = "", day: int = 1) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART:202605{day:02d}T100000Z",
        f"DTEND:202605{day:02d}T110000Z",
        f"SUMMARY:{summary}",
        *[line for line in extra.splitlines() if line],
        "END:VEVENT",
    ]
    return "\r\n".join(lines)


def feed(*vevents: str) -> str:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
    return head + "".join(v + "\r\n" for v in vevents) + "END:VCALENDAR\r\n"


def provider_for(server: FeedServer, **options: object) -> IcsProvider:
    built = registry.create("ics", "feed", {"url": server.url("cal.ics"), **options})
    assert isinstance(built, IcsProvider)
    return built


@pytest.fixture
def provider(feed_server: FeedServer) -> Iterator[IcsProvider]:
    built = provider_for(feed_server)
    yield built
    built.close()


def pull(provider: IcsProvider, cursor: str | None) -> PullPage:
    pages = list(provider.pull(provider.url, cursor, WINDOW))
    assert len(pages) == 1 and pages[0].final
    return pages[0]


def summaries(page: PullPage) -> dict[str, str]:
    return {e.remote_id: e.content.summary for e in page.changed}


def test_unchanged_feed_answers_304_and_the_page_says_unchanged(
    provider: IcsProvider, feed_server: FeedServer
) -> None:
    feed_server.write("cal.ics", feed(vevent("a", "Alpha")))
    first = pull(provider, None)
    assert summaries(first) == {"a": "Alpha"} and first.full_listing
    assert first.cursor is not None and '"etag"' in first.cursor
    second = pull(provider, first.cursor)
    assert second.unchanged and second.cursor == first.cursor and not second.changed
    assert feed_server.statuses() == [200, 304]
    conditional = feed_server.requests[-1].headers
    assert conditional["If-None-Match"].startswith('"')
    assert "If-Modified-Since" in conditional


def test_changed_feed_is_listed_in_full_with_uid_and_recurrence_ids(
    provider: IcsProvider, feed_server: FeedServer
) -> None:
    feed_server.write("cal.ics", feed(vevent("a", "Alpha"), vevent("b", "Beta")))
    cursor = pull(provider, None).cursor
    override = vevent("s", "Series (moved)", "RECURRENCE-ID:20260510T100000Z", day=11)
    feed_server.write(
        "cal.ics",
        feed(vevent("a", "Alpha v2"), vevent("s", "Series", "RRULE:FREQ=DAILY;COUNT=20"), override),
    )
    page = pull(provider, cursor)
    assert page.full_listing and not page.unchanged and not page.deleted
    # "b" is gone: absent from a complete listing, the engine deletes it.
    assert summaries(page) == {
        "a": "Alpha v2",
        "s": "Series",
        "s#20260510T100000Z": "Series (moved)",
    }
    moved = next(e for e in page.changed if e.remote_id == "s#20260510T100000Z")
    assert moved.master_remote_id == "s" and moved.ical_uid == "s"
    assert moved.content.original_start == datetime(2026, 5, 10, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>502 Bad Gateway</body></html>",
        feed(vevent("a", "Alpha"), vevent("b", "Beta"))[:150],  # cut off mid-way
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:notadate\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    ],
    ids=["html", "truncated", "bad-value"],
)
def test_broken_feed_raises_and_never_lists_as_complete(
    provider: IcsProvider, feed_server: FeedServer, body: str
) -> None:
    feed_server.write("cal.ics", feed(vevent("a", "Alpha")))
    cursor = pull(provider, None).cursor
    feed_server.write("cal.ics", body)
    with pytest.raises(ProviderError):
        pull(provider, cursor)


@pytest.mark.parametrize("body", ["", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"])
def test_empty_feed_is_not_a_complete_listing(
    provider: IcsProvider, feed_server: FeedServer, body: str
) -> None:
    feed_server.write("cal.ics", feed(vevent("a", "Alpha")))
    cursor = pull(provider, None).cursor
    feed_server.write("cal.ics", body)
    page = pull(provider, cursor)
    assert not page.changed and not page.deleted
    assert not page.full_listing and not page.unchanged


def test_basic_auth(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.basic_auth = ("bob", "s3cret")
    feed_server.write("cal.ics", feed(vevent("a", "Alpha")))
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    good = provider_for(feed_server, username="bob", password_file=str(secret))
    assert summaries(pull(good, None)) == {"a": "Alpha"}
    assert feed_server.requests[-1].headers["Authorization"].startswith("Basic ")
    with pytest.raises(CredentialsInvalid):
        pull(provider_for(feed_server), None)


def test_bearer_auth(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.bearer_token = "tok-123"
    feed_server.write("cal.ics", feed(vevent("a", "Alpha")))
    token = tmp_path / "token"
    token.write_text("tok-123\n")
    assert summaries(pull(provider_for(feed_server, bearer_token_file=str(token)), None))
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    with pytest.raises(CredentialsInvalid):
        pull(provider_for(feed_server, bearer_token_file=str(wrong)), None)


def test_missing_feed_is_a_provider_error(provider: IcsProvider) -> None:
    with pytest.raises(ProviderError):
        pull(provider, None)


def test_feed_provider_is_read_only(provider: IcsProvider, feed_server: FeedServer) -> None:
    assert provider.capabilities.read_only and not provider.capabilities.incremental
    [calendar] = provider.list_calendars()
    assert calendar.read_only and calendar.remote_id == feed_server.url("cal.ics")
    with pytest.raises(ProviderError):
        provider.delete_event(calendar.remote_id, "a", None)
