"""CalDAV XML parsing, and sync-collection cases Radicale never produces (507, 409/412)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from calsync.errors import CursorExpired
from calsync.providers import _caldav_xml as dav
from calsync.providers._caldav_http import Reply
from calsync.providers.base import SyncWindow
from calsync.providers.caldav import CalDAVProvider

CAL = "http://127.0.0.1:1/alice/cal/"
WINDOW = SyncWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


def multistatus(*responses: str, token: str | None = None) -> bytes:
    tail = f"<D:sync-token>{token}</D:sync-token>" if token else ""
    return (
        '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav">' + "".join(responses) + tail + "</D:multistatus>"
    ).encode()


def member(
    href: str, etag: str | None = None, status: str | None = None, data: str | None = None
) -> str:
    if status:
        status_line = f"<D:status>HTTP/1.1 {status}</D:status>"
        return f"<D:response><D:href>{href}</D:href>{status_line}</D:response>"
    props = f"<D:getetag>{etag}</D:getetag>"
    if data is not None:
        props += f"<C:calendar-data>{data}</C:calendar-data>"
    return (
        f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>{props}</D:prop>"
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )


def ics(uid: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTART:20260101T100000Z\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


class ScriptedTransport:
    """Answers REPORTs from a script; records what was asked."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.sent: list[tuple[str, bytes]] = []

    def send(
        self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Reply:
        self.sent.append((method, body))
        return self.replies.pop(0)


def provider_with(replies: list[Reply]) -> tuple[CalDAVProvider, ScriptedTransport]:
    provider = CalDAVProvider(CAL)
    transport = ScriptedTransport(replies)
    provider._http = transport  # type: ignore[assignment]
    return provider, transport


def test_parse_multistatus_members_statuses_and_token() -> None:
    parsed = dav.parse_multistatus(
        multistatus(
            member("/alice/cal/a.ics", '"1"'),
            member("/alice/cal/b.ics", status="404 Not Found"),
            token="tok-2",
        )
    )
    assert parsed.sync_token == "tok-2"
    assert [(m.href, m.status, m.text(dav.GETETAG)) for m in parsed.members] == [
        ("/alice/cal/a.ics", None, '"1"'),
        ("/alice/cal/b.ics", 404, None),
    ]
    assert dav.error_conditions(b'<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>') == {
        "valid-sync-token"
    }
    assert dav.error_conditions(b"not xml") == set()


def test_canonical_href_ignores_quoting_differences() -> None:
    assert dav.canonical_href("http://h/a%40b/c d.ics") == dav.canonical_href("/a@b/c%20d.ics")
    assert dav.canonical_href("/a@b/c%20d.ics") == "/a@b/c%20d.ics"


def test_truncated_sync_collection_is_repeated_with_the_new_token() -> None:
    truncated = multistatus(
        member("/alice/cal/a.ics", '"1"'),
        member("/alice/cal/b.ics", '"1"'),
        member("/alice/cal/", status="507 Insufficient Storage"),
        token="tok-1",
    )
    rest = multistatus(
        member("/alice/cal/c.ics", '"1"'),
        member("/alice/cal/a.ics", status="404 Not Found"),
        token="tok-2",
    )
    multiget = multistatus(
        member("/alice/cal/b.ics", '"1"', data=ics("b")),
        member("/alice/cal/c.ics", '"1"', data=ics("c")),
    )
    provider, transport = provider_with(
        [Reply(207, {}, truncated), Reply(207, {}, rest), Reply(207, {}, multiget)]
    )
    pages = list(provider.pull(CAL, "tok-0", WINDOW))
    assert b"<D:sync-token>tok-0</D:sync-token>" in transport.sent[0][1]
    assert b"<D:sync-token>tok-1</D:sync-token>" in transport.sent[1][1]
    assert b"<D:href>/alice/cal/a.ics</D:href>" not in transport.sent[2][1]
    [page] = pages
    assert {e.remote_id for e in page.changed} == {"/alice/cal/b.ics", "/alice/cal/c.ics"}
    assert page.deleted == ("/alice/cal/a.ics",)
    assert page.cursor == "tok-2" and not page.full_listing


@pytest.mark.parametrize("status", [403, 409, 412])
def test_invalid_token_statuses_all_mean_cursor_expired(status: int) -> None:
    body = b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'
    provider, _ = provider_with([Reply(status, {}, body)])
    with pytest.raises(CursorExpired):
        next(iter(provider.pull(CAL, "stale", WINDOW)))


def test_server_without_sync_collection_falls_back_to_etags() -> None:
    unsupported = b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:supported-report/></D:error>'
    ctag = multistatus(
        "<D:response><D:href>/alice/cal/</D:href><D:propstat><D:prop>"
        '<CS:getctag xmlns:CS="http://calendarserver.org/ns/">c1</CS:getctag></D:prop>'
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )
    listing = multistatus(member("/alice/cal/", '"x"'), member("/alice/cal/a.ics", '"1"'))
    multiget = multistatus(member("/alice/cal/a.ics", '"1"', data=ics("a")))
    provider, transport = provider_with(
        [
            Reply(207, {}, ctag),  # the ctag read before the first sync-collection
            Reply(403, {}, unsupported),
            Reply(207, {}, ctag),
            Reply(207, {}, listing),
            Reply(207, {}, multiget),
        ]
    )
    [page] = list(provider.pull(CAL, None, WINDOW))
    assert [e.remote_id for e in page.changed] == ["/alice/cal/a.ics"] and page.full_listing
    assert page.cursor is not None and page.cursor.startswith('ctag:{"ctag":"c1"')
    assert [m for m, _ in transport.sent] == [
        "PROPFIND",
        "REPORT",
        "PROPFIND",
        "PROPFIND",
        "REPORT",
    ]


def _ctag_reply(value: str) -> Reply:
    return Reply(
        207,
        {},
        multistatus(
            "<D:response><D:href>/alice/cal/</D:href><D:propstat><D:prop>"
            f'<CS:getctag xmlns:CS="http://calendarserver.org/ns/">{value}</CS:getctag>'
            "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        ),
    )


def test_an_unchanged_ctag_makes_the_no_op_pass_one_propfind() -> None:
    # First pass: the ctag is read before the sync-collection and kept in the cursor.
    first = multistatus(member("/alice/cal/a.ics", '"1"'), token="tok-1")
    multiget = multistatus(member("/alice/cal/a.ics", '"1"', data=ics("a")))
    provider, transport = provider_with(
        [_ctag_reply("c1"), Reply(207, {}, first), Reply(207, {}, multiget)]
    )
    [page] = list(provider.pull(CAL, None, WINDOW))
    assert page.cursor is not None and page.cursor.startswith("sync:")
    # No change: one PROPFIND, no REPORT, the same cursor back.
    provider, transport = provider_with([_ctag_reply("c1")])
    [noop] = list(provider.pull(CAL, page.cursor, WINDOW))
    assert noop.unchanged and noop.cursor == page.cursor
    assert [m for m, _ in transport.sent] == ["PROPFIND"]
    # A changed ctag: the sync-collection runs from the stored token.
    later = multistatus(member("/alice/cal/a.ics", status="404 Not Found"), token="tok-2")
    provider, transport = provider_with([_ctag_reply("c2"), Reply(207, {}, later)])
    [changed] = list(provider.pull(CAL, page.cursor, WINDOW))
    assert changed.deleted == ("/alice/cal/a.ics",)
    assert b"<D:sync-token>tok-1</D:sync-token>" in transport.sent[1][1]
    assert changed.cursor is not None and '"ctag":"c2"' in changed.cursor
