"""A strict fake of Google Calendar API v3 (and its OAuth endpoints) over real HTTP.

It serves what calsync uses, with Google's semantics and error shapes:

- ``GET users/me/calendarList``; ``events.list/insert/get/patch/update/delete``,
  ``events.instances`` (with ``originalStart``), ``events.watch``, ``channels.stop``;
- ``POST /token`` (refresh_token and authorization_code + PKCE S256 grants; a refresh
  token only for ``access_type=offline``), ``GET /authorize`` (auto-consents, or refuses
  with ``deny_consent``, and redirects to the loopback redirect URI) and ``POST /revoke``.

Semantics: sync tokens for events and for the calendar list (expirable on
demand -> 410 ``fullSyncRequired``); page tokens bound to the first page's
other parameters (a later page that drops or changes one, e.g. ``syncToken``,
gets 400);
paging over a snapshot with ``maxResults`` (default 250, max 2500) and, via
``page_sizes``, short and empty pages while ``nextPageToken`` is present;
``nextSyncToken`` only on the last page; deletions kept as ``cancelled`` and
rendered with only the guaranteed fields; recurring masters with virtual
instances that become exceptions when patched or deleted; etags with
``If-Match`` (412 ``conditionNotMet``); client-chosen base32hex ids (400 when
invalid, 409 ``duplicate`` when taken); 401 for unknown or expired access
tokens; injectable 403/429/5xx faults with ``Retry-After``. It rejects what
Google rejects alongside ``syncToken``.

Layout: this module holds the server, test controls, dispatch and
events.list; `_google_events_write` the event writes, `_google_calendar_list`
the calendar list, `_google_auth_push` OAuth and push channels.

Deliberate deviations: ``singleEvents=true`` is refused (calsync never sends
it); watch addresses may be ``http://127.0.0.1`` (Google requires https).

``GoogleCalendarFake(tls=True)`` serves every endpoint over HTTPS with a
throw-away CA (`ThrowawayCA`; clients trust ``ca_file``), as a deployment behind
a TLS-intercepting proxy or a private Google-compatible endpoint would.
"""

from __future__ import annotations

import itertools
import json
import queue
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes._google_auth_push import AuthAndPushMixin
from tests.fakes._google_calendar_list import CalendarListMixin
from tests.fakes._google_events_write import EventWritesMixin
from tests.fakes._google_wire import (
    API_PREFIX,
    SYNC_FORBIDDEN,
    FakeCalendar,
    Fault,
    GoogleError,
    PageState,
    Reply,
    RequestRecord,
    WatchChannel,
    _instant,
    _json,
    _max_results,
    _now,
    _parse_ts,
    decode_page_token,
    encode_page_token,
    new_event_id,
)
from tests.fakes._graph_tls import ThrowawayCA
from tests.fakes._tls_server import TLSServer

__all__ = ["API_PREFIX", "GoogleCalendarFake", "GoogleError", "new_event_id"]


class GoogleCalendarFake(EventWritesMixin, CalendarListMixin, AuthAndPushMixin):
    def __init__(
        self,
        *,
        client_id: str = "calsync-test-client",
        client_secret: str = "calsync-test-secret",  # noqa: S107 - a test double's secret
        tls: bool = False,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        #: Serve HTTPS under a throw-away CA (`ca_file`) instead of plain HTTP.
        self.tls = tls
        self._ca: ThrowawayCA | None = None
        self.lock = threading.RLock()
        self.calendars: dict[str, FakeCalendar] = {}
        self.requests: list[RequestRecord] = []
        self._page_cycle: Iterator[int] | None = None
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._etags = itertools.count(3181161784712000, 1000)
        self._sync_tokens: dict[str, tuple[str, int]] = {}
        self._pages: dict[str, PageState] = {}
        self._list_seq = itertools.count(1)
        self._list_last_seq = 0
        self._calendar_list_tokens: dict[str, int] = {}
        self._calendar_list_pages: dict[str, tuple[list[str], int]] = {}
        self._calendar_list_known: dict[str, FakeCalendar] = {}
        self._hooks: list[tuple[str, str, Callable[[], None]]] = []
        self._faults: deque[Fault] = deque()
        #: Method filters (None: any) of the API requests whose replies are lost.
        self._lost_responses: list[str | None] = []
        self._token_faults: deque[tuple[int, str]] = deque()
        self.refresh_tokens: set[str] = set()
        self.access_tokens: set[str] = set()
        self._codes: dict[str, dict[str, str]] = {}
        #: The user refuses on the consent screen (``error=access_denied``).
        self.deny_consent = False
        #: Refresh tokens revoked through ``/revoke``.
        self.revoked: list[str] = []
        self.channels: dict[str, WatchChannel] = {}
        self.notifications: list[dict[str, str]] = []
        self._outbox: queue.Queue[tuple[WatchChannel, str] | None] = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> GoogleCalendarFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One segment per reply: headers and body written separately meet
            # Nagle plus delayed ACK and cost 40 ms per request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True
            timeout = 60 if fake.tls else None  # a TLS client may never finish its handshake

            def setup(self) -> None:
                super().setup()
                if fake.tls:
                    self.request.do_handshake()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = fake.handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
                if self.path.startswith(API_PREFIX) and fake.take_lost_response(self.command):
                    self.close_connection = True  # processed, but the reply never arrives
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        if self.tls:
            self._ca = ThrowawayCA()
            self._server = TLSServer(Handler, self._ca)
        else:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self._server.daemon_threads = True
        server = self._server
        for target in (lambda: server.serve_forever(poll_interval=0.05), self._deliver):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(5)
        if self._ca is not None:
            self._ca.cleanup()

    def __enter__(self) -> GoogleCalendarFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def ca_file(self) -> Path:
        """The PEM of the CA that signed the HTTPS certificate (``tls=True`` only)."""
        assert self._ca is not None, "start() a GoogleCalendarFake(tls=True) first"
        return self._ca.ca_file

    @property
    def api_endpoint(self) -> str:
        return f"{self.base_url}{API_PREFIX}/"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def auth_uri(self) -> str:
        return f"{self.base_url}/authorize"

    # -- test controls -------------------------------------------------------------

    def shape_pages(self, sizes: list[int] | None) -> None:
        """Page sizes to cycle through (capped by maxResults); 0 makes an empty page."""
        if sizes is not None and not any(n > 0 for n in sizes):
            raise ValueError("at least one page size must be positive")
        self._page_cycle = itertools.cycle(sizes) if sizes else None

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        self.refresh_tokens.clear()
        self.access_tokens.clear()

    def expire_sync_tokens(self) -> None:
        """Expire every events sync token and every calendarList sync token."""
        with self.lock:
            self._sync_tokens.clear()
            self._calendar_list_tokens.clear()

    def on_next_request(self, method: str, path_contains: str, action: Callable[[], None]) -> None:
        """Run ``action`` just before the next matching API request is served.

        Simulates another client racing ours, e.g. an edit landing between a
        sync's pull and its push.
        """
        with self.lock:
            self._hooks.append((method, path_contains, action))

    def fail_next(
        self,
        status: int,
        reason: str = "rateLimitExceeded",
        *,
        count: int = 1,
        domain: str | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """The next ``count`` API requests (after auth) fail with this error.

        ``retry_after`` is sent as given: seconds, or a string such as an HTTP-date.
        """
        if domain is None:
            domain = "usageLimits" if status in (403, 429) else "global"
        ra = f"{retry_after:g}" if isinstance(retry_after, int | float) else retry_after
        for _ in range(count):
            self._faults.append(Fault(status, reason, domain, ra))

    def lose_next_responses(self, count: int = 1, *, method: str | None = None) -> None:
        """Process the next ``count`` API requests (with ``method``, if given),
        then drop the connection without a reply."""
        with self.lock:
            self._lost_responses += [method] * count

    def stop_losing_responses(self) -> None:
        with self.lock:
            self._lost_responses.clear()

    def take_lost_response(self, method: str) -> bool:
        with self.lock:
            for index, wanted in enumerate(self._lost_responses):
                if wanted is None or wanted == method:
                    del self._lost_responses[index]
                    return True
            return False

    def fail_next_token_request(self, status: int = 400, error: str = "invalid_grant") -> None:
        self._token_faults.append((status, error))

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method) and path_contains in r.path
        )

    def put_event(self, calendar_id: str, resource: dict[str, Any]) -> str:
        """Create an event out-of-band (another Google client); returns its id."""
        with self.lock:
            created: str = self._insert(self.calendars[calendar_id], dict(resource))["id"]
            return created

    def patch_event(self, calendar_id: str, event_id: str, fields: dict[str, Any]) -> None:
        with self.lock:
            self._patch(self.calendars[calendar_id], event_id, fields, None)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        with self.lock:
            self._delete(self.calendars[calendar_id], event_id, None)

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.calendars[calendar_id].events.get(event_id)
            return None if found is None else json.loads(json.dumps(found))

    def live_events(self, calendar_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                dict(e)
                for e in self.calendars[calendar_id].events.values()
                if e["status"] != "cancelled"
            ]

    # -- dispatch ---------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        record = RequestRecord(method, parts.path, query)
        with self.lock:
            self.requests.append(record)
        try:
            reply = self._route(method, parts.path, query, headers, body)
        except GoogleError as exc:
            reply = exc.reply()
        record.status = reply[0]
        return reply

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if path == "/token" and method == "POST":
            return self._token(parse_qs(body.decode()), headers)
        if path == "/authorize" and method == "GET":
            return self._authorize(query)
        if path == "/revoke" and method == "POST":
            return self._revoke({**query, **{k: v[-1] for k, v in parse_qs(body.decode()).items()}})
        if not path.startswith(API_PREFIX + "/"):
            raise GoogleError(404, "notFound", "Not Found")
        self._authenticate(headers)
        with self.lock:
            self._run_hook(method, path)
            if self._faults:
                fault = self._faults.popleft()
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                raise GoogleError(
                    fault.status,
                    fault.reason,
                    f"fake fault: {fault.reason}",
                    domain=fault.domain,
                    headers=extra,
                )
            segments = [unquote(s) for s in path[len(API_PREFIX) + 1 :].split("/")]
            payload = self._body(body) if method in ("POST", "PATCH", "PUT") else {}
            lower = {k.lower(): v for k, v in headers.items()}
            return self._api(method, segments, query, lower.get("if-match"), payload)

    def _run_hook(self, method: str, path: str) -> None:
        for index, (wanted, fragment, action) in enumerate(self._hooks):
            if wanted == method and fragment in path:
                del self._hooks[index]
                action()
                return

    def _api(
        self,
        method: str,
        seg: list[str],
        query: dict[str, str],
        if_match: str | None,
        payload: dict[str, Any],
    ) -> Reply:
        if seg == ["users", "me", "calendarList"] and method == "GET":
            return self._calendar_list(query)
        if seg == ["channels", "stop"] and method == "POST":
            return self._stop_channel(payload)
        if len(seg) < 3 or seg[0] != "calendars" or seg[2] != "events":
            raise GoogleError(404, "notFound", "Not Found")
        calendar = self.calendars.get(seg[1])
        if calendar is None or calendar.deleted:
            raise GoogleError(404, "notFound", "Not Found")
        rest = seg[3:]
        if not rest and method == "GET":
            return _json(200, self._list(calendar, query))
        if not rest and method == "POST":
            return _json(200, self._render(self._insert(calendar, payload), full=True))
        if rest == ["watch"] and method == "POST":
            return _json(200, self._watch(calendar, payload))
        if len(rest) == 2 and rest[1] == "instances" and method == "GET":
            return _json(200, self._instances(calendar, rest[0], query))
        if len(rest) != 1:
            raise GoogleError(404, "notFound", "Not Found")
        event_id = rest[0]
        if method == "GET":
            return _json(200, self._render(self._find(calendar, event_id), full=True))
        if method in ("PATCH", "PUT"):
            event = self._patch(calendar, event_id, payload, if_match, replace=method == "PUT")
            return _json(200, self._render(event, full=True))
        if method == "DELETE":
            self._delete(calendar, event_id, if_match)
            return 204, {}, b""
        raise GoogleError(405, "httpMethodNotAllowed", "Method not allowed")

    # -- events.list ------------------------------------------------------------------------

    def _list(self, cal: FakeCalendar, query: dict[str, str]) -> dict[str, Any]:
        size = _max_results(query, 250)
        sync_token = query.get("syncToken")
        if query.get("singleEvents") == "true":
            raise GoogleError(400, "invalid", "fake: singleEvents=true is not implemented")
        if sync_token is not None:
            for name in SYNC_FORBIDDEN:
                if name in query:
                    raise GoogleError(
                        400, "invalid", f"Parameter {name} cannot be used with syncToken."
                    )
            if query.get("showDeleted") == "false":
                raise GoogleError(
                    400, "invalid", "showDeleted=false cannot be used with syncToken."
                )
        page_token = query.get("pageToken")
        if page_token is not None:
            state = self._pages.get(decode_page_token(page_token, query))
            if state is None or state.calendar_id != cal.id:
                raise GoogleError(400, "invalid", "Invalid page token value.")
        else:
            state = self._snapshot(cal, query, sync_token)
        take = min(size, next(self._page_cycle)) if self._page_cycle else size
        batch, state.ids = state.ids[:take], state.ids[take:]
        reply: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{next(self._etags)}"',
            "summary": cal.summary,
            "updated": _now(),
            "timeZone": cal.time_zone,
            "accessRole": cal.access_role,
            "defaultReminders": [],
            "items": [self._render(cal.events[i], full=False) for i in batch],
        }
        if state.ids:
            key = secrets.token_urlsafe(12)
            self._pages[key] = state
            reply["nextPageToken"] = encode_page_token(key, query)
        else:
            token = secrets.token_urlsafe(18)
            self._sync_tokens[token] = (cal.id, state.snapshot_seq)
            reply["nextSyncToken"] = token
        return reply

    def _snapshot(
        self, cal: FakeCalendar, query: dict[str, str], sync_token: str | None
    ) -> PageState:
        if sync_token is not None:
            known = self._sync_tokens.get(sync_token)
            if known is None or known[0] != cal.id:
                raise GoogleError(
                    410,
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                )
            since = known[1]
            ids = [i for i, s in cal.seq.items() if s > since]
        else:
            show_deleted = query.get("showDeleted") == "true"
            ids = [
                i
                for i, e in cal.events.items()
                if (show_deleted or e["status"] != "cancelled") and self._in_range(e, query)
            ]
        ids.sort(key=lambda i: cal.seq[i])
        return PageState(cal.id, ids, self._last_seq)

    def _in_range(self, event: dict[str, Any], query: dict[str, str]) -> bool:
        if event.get("recurrence") or "start" not in event:
            return True  # a series may have an occurrence in any window
        start, end = _instant(event["start"]), _instant(event["end"])
        if "timeMin" in query and end <= _parse_ts(query["timeMin"]):
            return False
        return not ("timeMax" in query and start >= _parse_ts(query["timeMax"]))
