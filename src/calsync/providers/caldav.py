"""CalDAV (RFC 4791) with RFC 6578 sync-collection; ``provider = "caldav"``.

Identity:

- A calendar's ``remote_id`` is its collection URL.
- A resource's master (or single) event has ``remote_id`` = the resource href
  (a canonical percent-encoded path, see `canonical_href`).
- An override inside the same resource has ``remote_id`` = href + ``#`` +
  RECURRENCE-ID in UTC basic form (``20260301T140000Z``, or ``20260301`` for a
  date), ``master_remote_id`` = href.

What the engine must know about pulls:

- A changed resource is always reported *whole*: its master and every override
  it still holds. An override the engine knows under that master but that is
  absent from the pull has been removed from the resource.
- A deleted resource is reported by its href only; the engine deletes the
  children whose ``master_remote_id`` is that href.

Cursors: an RFC 6578 sync token as the server gave it; or, for servers without
sync-collection (or with ``sync_collection = false``), ``ctag:`` + JSON
``{"ctag": ..., "etags": {name: etag}}`` (names relative to the collection).
The etag map is dropped when the encoded cursor would exceed
`MAX_ETAG_CURSOR_BYTES`; a changed ctag then costs one full listing, which the
engine reconciles (``full_listing=True``) instead of an etag diff.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from calsync.errors import CursorExpired, ProviderError
from calsync.model import EventContent, RemoteCalendar, RemoteEvent
from calsync.providers import _caldav_xml as dav
from calsync.providers._caldav_config import CONFIG_SECTION, DEFAULT_MULTIGET_BATCH
from calsync.providers._caldav_cursors import (
    CTAG_CURSOR_PREFIX,
    _decode_etag_cursor,
    _decode_sync_cursor,
    _encode_etag_cursor,
    _encode_sync_cursor,
)
from calsync.providers._caldav_http import (
    CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    XML_HEADERS,
    DavTransport,
    RequestHook,
)
from calsync.providers._calendar_filter import no_calendar_matches
from calsync.providers._options import (
    opt_bool,
    opt_int,
    opt_seconds,
    opt_secret,
    opt_str,
    opt_str_list,
)
from calsync.providers.base import Capabilities, PullPage, SyncWindow, WriteResult
from calsync.providers.registry import ProviderSpec

if TYPE_CHECKING:
    from calsync.providers._caldav_write import CalDAVWriter
    from calsync.providers._ical import ParsedEvent

__all__ = [
    "CONFIG_SECTION",
    "CTAG_CURSOR_PREFIX",
    "DEFAULT_MULTIGET_BATCH",
    "SPEC",
    "CalDAVProvider",
    "create_caldav_provider",
]

log = logging.getLogger(__name__)

#: More 507 rounds than this means the server is not making progress.
_MAX_SYNC_ROUNDS = 10_000


class CalDAVProvider:
    capabilities = Capabilities(
        read_only=False,
        incremental=True,
        push_channels=False,
        create_calendar=False,
        series_as_unit=True,
    )

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        calendars: Sequence[str] = (),
        multiget_batch: int = DEFAULT_MULTIGET_BATCH,
        sync_collection: bool = True,
        timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        request_hook: RequestHook | None = None,
        account: str | None = None,
    ) -> None:
        self.calendar_filter = tuple(calendars)
        self.multiget_batch = multiget_batch
        self.use_sync_collection = sync_collection
        self._http = DavTransport(
            url,
            username=username,
            password=password,
            hook=request_hook,
            timeout=timeout,
            connect_timeout=connect_timeout,
            account=account,
        )
        #: The configured URL, its userinfo (if any) taken out as the credentials.
        self.url = self._http.url
        self._writer_instance: CalDAVWriter | None = None
        #: Collection URL -> the getctag the calendar listing just reported: the
        #: first pull of that calendar in this pass uses it instead of asking again.
        self._listed_ctags: dict[str, str] = {}

    # -- calendars ---------------------------------------------------------------

    def list_calendars(self) -> Sequence[RemoteCalendar]:
        home_url = self._home_url()
        reply = self._http.send(
            "PROPFIND",
            home_url,
            dav.propfind_body(
                dav.RESOURCETYPE,
                dav.DISPLAYNAME,
                dav.CALENDAR_COLOR,
                dav.GETCTAG,
                dav.SUPPORTED_COMPONENTS,
            ),
            {**XML_HEADERS, "Depth": "1"},
        )
        members = self._multistatus(reply.status, reply.body, f"PROPFIND {home_url}").members
        found: list[RemoteCalendar] = []
        names: list[str] = []
        for member in members:
            resourcetype = member.props.get(dav.RESOURCETYPE)
            if resourcetype is None or resourcetype.find(dav.CALENDAR_COLLECTION) is None:
                continue
            if not _supports_events(member):
                continue
            url = urljoin(home_url, member.href)
            name = member.text(dav.DISPLAYNAME) or url.rstrip("/").rpartition("/")[2]
            names.append(name)
            if self.calendar_filter and not self._selected(url, name):
                continue
            color = member.text(dav.CALENDAR_COLOR)
            ctag = member.text(dav.GETCTAG)
            if ctag is not None:
                self._listed_ctags[url] = ctag
            found.append(RemoteCalendar(remote_id=url, name=name, color=color, version=ctag))
        if self.calendar_filter and not found:
            raise no_calendar_matches(self.calendar_filter, names)
        return found

    def _home_url(self) -> str:
        """The calendar home (RFC 4791 §6.2.1), found by the `caldav` library: the
        current-user-principal (RFC 5397) of ``url``, then its calendar-home-set;
        without either property ``url`` is taken for the principal, then the home."""
        client = self._http.client
        principal = self._http.call("CalDAV principal discovery at", client.principal, url=self.url)
        home = self._http.call(
            "CalDAV calendar-home-set at",
            lambda: principal.calendar_home_set,
            url=str(principal.url),
        )
        return str(home.url)

    def _selected(self, url: str, name: str) -> bool:
        path = dav.canonical_href(url).rstrip("/")
        for wanted in self.calendar_filter:
            if wanted == name or dav.canonical_href(wanted).rstrip("/") == path:
                return True
        return False

    # -- pull ----------------------------------------------------------------------

    def pull(
        self, calendar_remote_id: str, cursor: str | None, window: SyncWindow
    ) -> Iterator[PullPage]:
        url = calendar_remote_id
        if not self.use_sync_collection or (cursor or "").startswith(CTAG_CURSOR_PREFIX):
            yield from self._pull_by_etags(url, cursor)
            return
        token, known_ctag = _decode_sync_cursor(cursor)
        # The ctag is read BEFORE the sync-collection: a change landing between
        # the two shows up in the REPORT and leaves the stored ctag stale, so the
        # next pass asks again. Never the other way round, which could miss it.
        # Bare-token cursors (stored before ctags were kept) skip the check; the
        # next full listing (a new calendar, an expired token) starts keeping one.
        ctag: str | None = None
        if cursor is None or known_ctag is not None:
            listed = self._listed_ctags.pop(url, None)
            ctag = listed if listed is not None else self._getctag(url)
        if cursor is not None and ctag is not None and ctag == known_ctag:
            # Nothing changed: one cheap PROPFIND instead of a sync-collection,
            # which servers such as Radicale answer by walking every item.
            yield PullPage(final=True, cursor=cursor, unchanged=True, expected_total=0)
            return
        delta = self._sync_collection(url, token)
        if delta is None:
            if cursor is not None:
                raise CursorExpired(f"{url}: the server no longer offers sync-collection")
            yield from self._pull_by_etags(url, None)
            return
        changed, deleted, new_token = delta
        new_cursor = _encode_sync_cursor(new_token, ctag)
        yield from self._emit(url, changed, deleted, new_cursor, full_listing=cursor is None)

    def _sync_collection(
        self, url: str, cursor: str | None
    ) -> tuple[list[str], list[str], str] | None:
        """Changed hrefs, removed hrefs and the new token; None when unsupported."""
        token = cursor or ""
        collection = dav.canonical_href(url).rstrip("/")
        changed: dict[str, None] = {}
        deleted: dict[str, None] = {}
        for _ in range(_MAX_SYNC_ROUNDS):
            reply = self._http.send(
                "REPORT", url, dav.sync_collection_body(token), {**XML_HEADERS, "Depth": "0"}
            )
            if reply.status in (403, 409, 412):
                conditions = dav.error_conditions(reply.body)
                if "valid-sync-token" in conditions:
                    if token:
                        raise CursorExpired(f"{url}: the server no longer accepts our sync token")
                    raise ProviderError(f"{url}: the server refused an initial sync-collection")
                if "supported-report" in conditions:
                    return None
            if reply.status in (400, 405, 415, 501):
                return None
            listing = self._multistatus(reply.status, reply.body, f"sync-collection {url}")
            truncated = False
            for member in listing.members:
                href = dav.canonical_href(member.href)
                if href.rstrip("/") == collection:
                    truncated = truncated or member.status == 507
                    continue
                if member.status == 404:
                    deleted[href] = None
                    changed.pop(href, None)
                elif member.ok:
                    changed[href] = None
                    deleted.pop(href, None)
            if not listing.sync_token:
                raise ProviderError(f"{url}: sync-collection reply carries no sync-token")
            token = listing.sync_token
            if not truncated:
                return list(changed), list(deleted), token
        raise ProviderError(f"{url}: sync-collection kept truncating without progress")

    def _pull_by_etags(self, url: str, cursor: str | None) -> Iterator[PullPage]:
        """The fallback for servers without sync-collection: ctag, then an etag diff."""
        collection = dav.canonical_href(url).rstrip("/") + "/"
        previous_ctag, previous_etags = _decode_etag_cursor(url, cursor)
        ctag = self._ctag(url)
        if cursor is not None and ctag is not None and ctag == previous_ctag:
            yield PullPage(final=True, cursor=cursor, unchanged=True, expected_total=0)
            return
        listing = self._etag_listing(url)
        names = {_relative(href, collection): etag for href, etag in listing.items()}
        if previous_etags is None:
            changed, deleted, full = list(listing), [], True
        else:
            changed = [
                href
                for href, etag in listing.items()
                if etag is None or previous_etags.get(_relative(href, collection)) != etag
            ]
            deleted = [collection + name for name in previous_etags if name not in names]
            full = False
        new_cursor = _encode_etag_cursor(ctag, names)
        yield from self._emit(url, changed, deleted, new_cursor, full_listing=full)

    def _getctag(self, url: str) -> str | None:
        """The collection's getctag alone (asking for DAV:sync-token too would make
        the server compute it, which costs as much as a sync-collection)."""
        reply = self._http.send(
            "PROPFIND", url, dav.propfind_body(dav.GETCTAG), {**XML_HEADERS, "Depth": "0"}
        )
        if reply.status != 207:
            return None  # no ctag support: every pass asks sync-collection
        for member in self._multistatus(reply.status, reply.body, f"PROPFIND {url}").members:
            value = member.text(dav.GETCTAG)
            if value:
                return value
        return None

    def _ctag(self, url: str) -> str | None:
        reply = self._http.send(
            "PROPFIND",
            url,
            dav.propfind_body(dav.GETCTAG, dav.SYNC_TOKEN),
            {**XML_HEADERS, "Depth": "0"},
        )
        for member in self._multistatus(reply.status, reply.body, f"PROPFIND {url}").members:
            value = member.text(dav.GETCTAG) or member.text(dav.SYNC_TOKEN)
            if value:
                return value
        return None

    def _etag_listing(self, url: str) -> dict[str, str | None]:
        reply = self._http.send(
            "PROPFIND",
            url,
            dav.propfind_body(dav.GETETAG, dav.RESOURCETYPE),
            {**XML_HEADERS, "Depth": "1"},
        )
        collection = dav.canonical_href(url).rstrip("/")
        listing: dict[str, str | None] = {}
        for member in self._multistatus(reply.status, reply.body, f"PROPFIND {url}").members:
            href = dav.canonical_href(member.href)
            resourcetype = member.props.get(dav.RESOURCETYPE)
            if href.rstrip("/") == collection or (resourcetype is not None and len(resourcetype)):
                continue
            listing[href] = member.text(dav.GETETAG)
        return listing

    def _emit(
        self,
        url: str,
        changed: list[str],
        deleted: list[str],
        cursor: str,
        *,
        full_listing: bool,
    ) -> Iterator[PullPage]:
        """Multiget the changed hrefs in batches, one page per batch.

        The next batch is fetched on a helper thread while this one is
        converted: the server works on batch k+1 (on the other core, for a
        local server) while we parse batch k. Requests still go out one at a
        time, in order.
        """
        batches = [
            changed[i : i + self.multiget_batch]
            for i in range(0, len(changed), self.multiget_batch)
        ] or [[]]
        gone: list[str] = list(deleted)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="caldav-multiget") as fetcher:
            pending = fetcher.submit(self._fetch_multiget, url, batches[0]) if batches[0] else None
            for index, batch in enumerate(batches):
                listing = None if pending is None else pending.result()
                following = batches[index + 1] if index + 1 < len(batches) else None
                pending = (
                    fetcher.submit(self._fetch_multiget, url, following) if following else None
                )
                events, missing = ((), []) if listing is None else self._convert(listing, batch)
                if not full_listing:
                    gone.extend(missing)
                last = index == len(batches) - 1
                yield PullPage(
                    changed=events,
                    deleted=tuple(dict.fromkeys(gone)) if last else (),
                    final=last,
                    cursor=cursor if last else None,
                    full_listing=full_listing and last,
                    expected_total=len(changed),
                )

    def _fetch_multiget(self, url: str, hrefs: list[str]) -> dav.Multistatus:
        reply = self._http.send(
            "REPORT", url, dav.multiget_body(hrefs), {**XML_HEADERS, "Depth": "1"}
        )
        return self._multistatus(reply.status, reply.body, f"calendar-multiget {url}")

    def _convert(
        self, listing: dav.Multistatus, hrefs: list[str]
    ) -> tuple[tuple[RemoteEvent, ...], list[str]]:
        """Each resource parsed once (`_ical_fast`); hrefs the server did not return."""
        # Imported here: icalendar (~60 ms) is needed only when events arrive, never
        # by a pass that finds nothing changed (issue #11).
        from calsync.providers import _ical_fast

        events: dict[str, RemoteEvent] = {}
        seen: set[str] = set()
        for member in listing.members:
            href = dav.canonical_href(member.href)
            data = member.raw_text(dav.CALENDAR_DATA)
            if not member.ok or data is None:
                continue
            seen.add(href)
            try:
                parsed = _ical_fast.parse_events(data)
            except ProviderError as exc:
                # One unreadable resource must not block the whole calendar.
                log.warning("skipping unparsable CalDAV resource %s: %s", href, exc)
                continue
            for event in remote_events(href, parsed, member.text(dav.GETETAG)):
                events.setdefault(event.remote_id, event)
        missing = [h for h in hrefs if h not in seen]
        return tuple(events.values()), missing

    def _multistatus(self, status: int, body: bytes, what: str) -> dav.Multistatus:
        if status == 404:
            raise ProviderError(f"{what}: not found (HTTP 404)")
        if status != 207:
            raise ProviderError(f"{what}: unexpected HTTP {status}")
        try:
            return dav.parse_multistatus(body)
        except dav.MultistatusError as exc:
            raise ProviderError(f"{what}: {exc}") from exc

    # -- writes (see _caldav_write) --------------------------------------------------

    def create_event(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None = None,
    ) -> WriteResult:
        return self._writer.create(
            calendar_remote_id, event_uid, content, master_remote_id=master_remote_id
        )

    def update_event(
        self, calendar_remote_id: str, remote_id: str, content: EventContent, etag: str | None
    ) -> WriteResult:
        return self._writer.update(calendar_remote_id, remote_id, content, etag)

    def delete_event(self, calendar_remote_id: str, remote_id: str, etag: str | None) -> None:
        self._writer.delete(calendar_remote_id, remote_id, etag)

    @property
    def _writer(self) -> CalDAVWriter:
        if self._writer_instance is None:
            from calsync.providers._caldav_write import CalDAVWriter  # icalendar: see _convert

            self._writer_instance = CalDAVWriter(self._http)
        return self._writer_instance

    def close(self) -> None:
        self._http.close()


def remote_events(
    href: str, parsed: Sequence[ParsedEvent], etag: str | None
) -> Iterator[RemoteEvent]:
    """One resource -> its master (remote_id = href) and overrides (href#RECURRENCE-ID)."""
    for event in parsed:
        key = event.recurrence_key
        yield RemoteEvent(
            remote_id=href if key is None else f"{href}#{key}",
            content=event.content,
            ical_uid=event.uid,
            etag=etag,
            remote_updated=event.remote_updated,
            master_remote_id=None if key is None else href,
            origin_event_uid=event.origin_event_uid,
        )


def _supports_events(member: dav.Member) -> bool:
    components = member.props.get(dav.SUPPORTED_COMPONENTS)
    if components is None or not len(components):
        return True
    return any(c.get("name", "").upper() == "VEVENT" for c in components)


def _relative(href: str, collection: str) -> str:
    return href[len(collection) :] if href.startswith(collection) else href


def create_caldav_provider(account_name: str, options: Mapping[str, Any]) -> CalDAVProvider:
    """The factory behind ``provider = "caldav"``."""
    url = opt_str(account_name, options, "url", required=True)
    assert url is not None
    return CalDAVProvider(
        url,
        username=opt_str(account_name, options, "username"),
        password=opt_secret(account_name, options, "password_file"),
        calendars=opt_str_list(account_name, options, "calendars"),
        multiget_batch=opt_int(account_name, options, "multiget_batch", DEFAULT_MULTIGET_BATCH),
        sync_collection=opt_bool(account_name, options, "sync_collection", True),
        timeout=opt_seconds(account_name, options, "timeout", DEFAULT_READ_TIMEOUT),
        account=account_name,
    )


SPEC = ProviderSpec(
    name="caldav",
    factory=create_caldav_provider,
    config_section=CONFIG_SECTION,
    description="CalDAV servers, incremental via sync-collection.",
)
