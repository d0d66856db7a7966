"""Read-only iCalendar subscriptions (an ``.ics`` URL); ``provider = "ics"``.

Pull is one conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the
cursor). A 304 is a final page with ``unchanged=True``. Otherwise the whole
feed is parsed and every event is listed; the engine diffs that listing
against its store by remote id, which is the UID, or ``UID#RECURRENCE-ID``
(UTC basic form) for an override (``master_remote_id`` = the UID).

Feeds have no tombstones, so deletions come only from a *complete* listing:

- a feed that does not parse raises `ProviderError` (nothing is deleted);
- a feed without any component (besides VTIMEZONE) is returned with
  ``full_listing=False``: an empty feed is far more often a server hiccup than
  a cleared calendar. A feed holding only to-dos or journal entries is a real,
  complete calendar that has no events, and does list as complete.

Cursor: JSON ``{"etag": ..., "last_modified": ...}`` of the last good response.

The calendar's name is ``calendar_name`` when configured, else the feed's
``X-WR-CALNAME``, else the host and the last path segment of the URL, never
the URL itself: a feed URL is often its own credential (``?token=…``,
``/private-…/``). Reading ``X-WR-CALNAME`` needs the feed, so discovery
(hourly) downloads it; the pull that follows revalidates that download with a
conditional GET instead of downloading the feed again. A download that failed
at discovery is the pull's error, without asking again (the engine pulls
right after discovering).
Error messages show the URL with `calsync.redaction.redact_url`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from calsync.errors import (
    CredentialsInvalid,
    ProviderError,
    RateLimited,
    TransientProviderError,
    UserError,
)
from calsync.model import EventContent, RemoteCalendar, RemoteEvent
from calsync.providers import _ical
from calsync.providers._failures import http_status_text, request_failure, retry_after, where
from calsync.providers._ics_config import CONFIG_SECTION
from calsync.providers._options import opt_seconds, opt_secret, opt_str
from calsync.providers.base import Capabilities, PullPage, SyncWindow, WriteResult
from calsync.providers.registry import ProviderSpec
from calsync.redaction import is_capability

__all__ = ["CONFIG_SECTION", "SPEC", "IcsProvider", "create_ics_provider"]

#: Feeds larger than this are refused rather than parsed (memory guard).
MAX_FEED_BYTES = 64 * 1024 * 1024


class IcsProvider:
    capabilities = Capabilities(
        read_only=True,
        incremental=False,
        push_channels=False,
        create_calendar=False,
        series_as_unit=True,
    )

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if url.startswith("webcal://"):
            url = "https://" + url[len("webcal://") :]
        self.url = url
        self.configured_name = name
        self.name = name or fallback_name(url)
        #: Discovery's download of a feed (or why it failed), for the pull that follows.
        self._prefetched: dict[str, httpx.Response | ProviderError] = {}
        headers = {"User-Agent": "calsync", "Accept": "text/calendar, */*;q=0.5"}
        if bearer_token is not None:
            headers["Authorization"] = f"Bearer {bearer_token}"
        auth = httpx.BasicAuth(username, password or "") if username is not None else None
        self._client = httpx.Client(
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            transport=transport,
        )

    def list_calendars(self) -> Sequence[RemoteCalendar]:
        name = self.configured_name or self._feed_name()
        return [RemoteCalendar(remote_id=self.url, name=name, read_only=True)]

    def _feed_name(self) -> str:
        """``X-WR-CALNAME``, else `fallback_name`. A failed download is kept for
        the pull to report: discovery must not fail where the pull would."""
        try:
            response = self._get(self.url, {})
        except ProviderError as exc:
            self._prefetched[self.url] = exc
            return self.name
        self._prefetched[self.url] = response
        return feed_calendar_name(response.content) or self.name

    def pull(
        self, calendar_remote_id: str, cursor: str | None, window: SyncWindow
    ) -> Iterator[PullPage]:
        validators = _decode_cursor(cursor)
        prefetched = self._prefetched.pop(calendar_remote_id, None)
        if isinstance(prefetched, ProviderError):
            raise prefetched
        if prefetched is not None:
            response = self._revalidate(calendar_remote_id, prefetched)
            if cursor is not None and _same_version(validators, response):
                yield PullPage(final=True, cursor=cursor, unchanged=True, expected_total=0)
                return
        else:
            headers: dict[str, str] = {}
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
            response = self._get(calendar_remote_id, headers)
            if response.status_code == 304 and cursor is not None:
                yield PullPage(final=True, cursor=cursor, unchanged=True, expected_total=0)
                return
        try:
            events, has_content = parse_feed(response.content)
        except ProviderError as exc:
            raise ProviderError(
                f"{where('GET', calendar_remote_id)}: {exc.message}; check that url is an "
                "iCalendar (.ics) feed"
            ) from exc
        new_cursor = json.dumps(
            {
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        yield PullPage(
            changed=events,
            final=True,
            cursor=new_cursor,
            full_listing=has_content,
            expected_total=len(events),
        )

    def _revalidate(self, url: str, prefetched: httpx.Response) -> httpx.Response:
        """The feed as it is now: ``prefetched`` if a conditional GET says it is current."""
        headers: dict[str, str] = {}
        if prefetched.headers.get("ETag"):
            headers["If-None-Match"] = prefetched.headers["ETag"]
        if prefetched.headers.get("Last-Modified"):
            headers["If-Modified-Since"] = prefetched.headers["Last-Modified"]
        response = self._get(url, headers)
        return prefetched if response.status_code == 304 and headers else response

    def _get(self, url: str, headers: Mapping[str, str]) -> httpx.Response:
        request = where("GET", url)
        try:
            response = self._client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            timeout = self._client.timeout.read
            raise request_failure(exc, "GET", url, timeout=timeout) from exc
        status = response.status_code
        answered = http_status_text(status)
        if status in (401, 403):
            raise CredentialsInvalid(
                f"{request}: {answered}, the feed refused our credentials; check username "
                "and password_file, or bearer_token_file"
            )
        if status in (429, 503):
            raise RateLimited(
                f"{request}: {answered}",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise TransientProviderError(f"{request}: {answered}; the feed's server failed")
        if status not in (200, 304):
            raise ProviderError(f"{request}: {answered}; check url")
        if len(response.content) > MAX_FEED_BYTES:
            raise ProviderError(f"{request}: feed larger than {MAX_FEED_BYTES} bytes")
        return response

    def create_event(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None = None,
    ) -> WriteResult:
        raise ProviderError("ICS feeds are read-only")

    def update_event(
        self, calendar_remote_id: str, remote_id: str, content: EventContent, etag: str | None
    ) -> WriteResult:
        raise ProviderError("ICS feeds are read-only")

    def delete_event(self, calendar_remote_id: str, remote_id: str, etag: str | None) -> None:
        raise ProviderError("ICS feeds are read-only")

    def close(self) -> None:
        self._client.close()


def parse_feed(data: bytes) -> tuple[tuple[RemoteEvent, ...], bool]:
    """Every event of a feed, keyed UID or UID#RECURRENCE-ID, and whether the feed has content.

    `ProviderError` if the feed is broken. "Has content" means at least one
    component besides VTIMEZONE (an event, but also a to-do or journal entry):
    only such a feed is trusted as a complete listing. A UID listed twice keeps
    its last occurrence, as calendar clients do.
    """
    text = data.strip()
    if not text:
        return (), False
    # icalendar accepts a feed cut off mid-way; listing it as complete would delete the rest.
    if not (text[:15].upper() == b"BEGIN:VCALENDAR" and text[-13:].upper() == b"END:VCALENDAR"):
        raise ProviderError("the feed is not a complete VCALENDAR (truncated or not iCalendar)")
    calendar = _ical.parse_calendar(data)
    has_content = any(c.name != "VTIMEZONE" for c in calendar.subcomponents)
    events: dict[str, RemoteEvent] = {}
    for parsed in _ical.events_of(calendar):
        key = parsed.recurrence_key
        remote_id = parsed.uid if key is None else f"{parsed.uid}#{key}"
        events[remote_id] = RemoteEvent(
            remote_id=remote_id,
            content=parsed.content,
            ical_uid=parsed.uid,
            remote_updated=parsed.remote_updated,
            master_remote_id=None if key is None else parsed.uid,
            origin_event_uid=parsed.origin_event_uid,
        )
    return tuple(events.values()), has_content


#: A VCALENDAR property line (after unfolding): ``X-WR-CALNAME;params:value``.
_CALNAME = re.compile(rb"^X-WR-CALNAME(?:;[^:\r\n]*)?:(.*?)\r?$", re.IGNORECASE | re.MULTILINE)
_FOLD = re.compile(rb"\r?\n[ \t]")
_TEXT_ESCAPES = {"n": " ", "N": " ", ",": ",", ";": ";", "\\": "\\"}
#: Calendar properties come before the first component; no need to read further.
_HEADER_SCAN_BYTES = 64 * 1024


def feed_calendar_name(data: bytes) -> str | None:
    """The feed's ``X-WR-CALNAME`` (RFC 5545 text, unescaped), if it has one."""
    head = data[:_HEADER_SCAN_BYTES]
    first_component = re.search(rb"\nBEGIN:(?!VCALENDAR)", head, re.IGNORECASE)
    if first_component is not None:
        head = head[: first_component.start()]
    match = _CALNAME.search(_FOLD.sub(b"", head))
    if match is None:
        return None
    raw = match.group(1).decode("utf-8", "replace")
    name = re.sub(r"\\(.)", lambda m: _TEXT_ESCAPES.get(m.group(1), m.group(1)), raw)
    return " ".join(name.split())[:255] or None


def fallback_name(url: str) -> str:
    """``host/last-segment``, without the query and without a token-like segment."""
    parts = urlsplit(url)
    host = parts.hostname or "feed"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    segment = unquote(parts.path.rstrip("/").rpartition("/")[2])
    if not segment or is_capability(segment):
        return host
    return f"{host}/{segment}"


def _same_version(validators: Mapping[str, str], response: httpx.Response) -> bool:
    """Whether ``response`` is the version the cursor was made from (a 304, in effect)."""
    etag: str | None = response.headers.get("ETag")
    if validators.get("etag") or etag:
        return validators.get("etag") == etag
    modified: str | None = response.headers.get("Last-Modified")
    return modified is not None and validators.get("last_modified") == modified


def _decode_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor:
        return {}
    try:
        payload = json.loads(cursor)
    except ValueError:
        return {}  # an unreadable cursor just means an unconditional GET
    if not isinstance(payload, dict):
        return {}
    return {k: v for k, v in payload.items() if isinstance(v, str) and v}


def create_ics_provider(account_name: str, options: Mapping[str, Any]) -> IcsProvider:
    """The factory behind ``provider = "ics"``."""
    url = opt_str(account_name, options, "url", required=True)
    assert url is not None
    if not url.startswith(("http://", "https://", "webcal://")):
        raise UserError(f"account {account_name!r}: url must be http, https or webcal")
    return IcsProvider(
        url,
        name=opt_str(account_name, options, "calendar_name"),
        username=opt_str(account_name, options, "username"),
        password=opt_secret(account_name, options, "password_file"),
        bearer_token=opt_secret(account_name, options, "bearer_token_file"),
        timeout=opt_seconds(account_name, options, "timeout", 30.0),
    )


SPEC = ProviderSpec(
    name="ics",
    factory=create_ics_provider,
    config_section=CONFIG_SECTION,
    description="Read-only iCalendar feeds, fetched with conditional GETs.",
)
