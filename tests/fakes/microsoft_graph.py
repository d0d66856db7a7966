"""A strict fake of Microsoft Graph (calendar) and the Microsoft identity platform over real HTTPS.

One server on 127.0.0.1 with a throw-away CA (`ca_file`) serves:

- the identity endpoints msal calls with ``authority=fake.authority`` and
  ``instance_discovery=False``: tenant discovery, ``authorize`` (PKCE S256, auto-consent,
  `deny_consent`), ``token`` (authorization_code and refresh_token, AADSTS error
  bodies), signing keys (`_graph_identity`);
- Graph v1.0 under `graph_endpoint`: ``/me``, ``/me/calendars`` (paged),
  ``/me/calendar``, events of a calendar, ``calendarView``, ``calendarView/delta``
  (`_graph_delta`), event create/get/update/delete with ``transactionId``, ``If-Match``
  and extended properties (`_graph_events`, `_graph_render`), ``instances``, the six
  recurrence patterns and three ranges (`_graph_recurrence`), ``/subscriptions`` with
  the validation handshake, notifications and lifecycle events (`_graph_subscriptions`),
  and JSON batching, ``POST /$batch`` (`_graph_batch`).

Every behaviour cites the Microsoft page it follows in the module that implements it;
where the pages are silent or ambiguous the fake takes the stricter reading and says
so ("strict"). Errors use Graph's body ``{"error": {"code", "message", "innerError"}}``.

Test controls: `fail_next` (any status, e.g. 429/503 with an integer or fractional
``Retry-After``), `lose_next_responses` (process, then drop the connection),
`on_next_request` (another client racing ours), `expire_delta_tokens` (410),
`shape_pages` / `empty_first_page` / `repeat_items` (delta paging),
`revoke_refresh_tokens` / `expire_access_tokens` / `fail_next_token_request`
(identity), `send_lifecycle_event` / `expire_subscription`, and a back door that
edits the mailbox as another client would (`add_calendar`, `put_event`,
`patch_event`, `delete_event`, ...). `requests` records every request; `count`
counts them; `deliveries` records every notification POST.

Deliberate deviations: only ``/me`` (not ``/users/{id}``) is served; notification URLs
may be plain ``http`` on loopback; ``$orderby``/``$search`` are refused as not
implemented, and ``$filter`` is served only as ``type eq '<eventType>'`` on a list of
events (`_graph_views`).
"""

from __future__ import annotations

import itertools
import ssl
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.fakes._graph_batch import BatchMixin
from tests.fakes._graph_delta import DeltaMixin
from tests.fakes._graph_events import EventWritesMixin
from tests.fakes._graph_identity import IdentityMixin
from tests.fakes._graph_render import RenderCache, RenderOptions, render_instance
from tests.fakes._graph_routes import RoutesMixin
from tests.fakes._graph_store import FakeCalendar, item_instances
from tests.fakes._graph_subscriptions import SubscriptionsMixin
from tests.fakes._graph_tls import ThrowawayCA
from tests.fakes._graph_views import ViewsMixin
from tests.fakes._graph_wire import (
    GRAPH_PREFIX,
    Fault,
    GraphError,
    RequestRecord,
    new_calendar_id,
    new_change_key,
    occurrence_id,
)
from tests.fakes._tls_server import TLSServer

__all__ = ["GraphError", "MicrosoftGraphFake", "occurrence_id"]

_DEFAULT_FAULTS = {
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable."),
    504: ("UnknownError", "Gateway timeout."),
}


class MicrosoftGraphFake(
    IdentityMixin,
    EventWritesMixin,
    DeltaMixin,
    SubscriptionsMixin,
    ViewsMixin,
    BatchMixin,
    RoutesMixin,
):
    def __init__(
        self,
        *,
        client_id: str = "8a7c3e0f-2b1d-4c59-9e6a-1f0b7d3c5a21",
        client_secret: str = "calsync~graph.fake-secret",  # noqa: S107 - a test double's secret
        tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47",
        tenant_domain: str = "contoso.onmicrosoft.com",
        user_id: str = "bb8775a4-4d8c-42cf-a1d4-4d58c2bb668f",
        user_principal_name: str = "AdeleV@contoso.onmicrosoft.com",
        user_display_name: str = "Adele Vance",
        redirect_uris: tuple[str, ...] | None = None,
        default_page_size: int = 10,
        empty_first_page: bool = True,
        access_token_lifetime: int = 3599,
        max_subscription_minutes: int = 4230,
        validation_timeout: float = 10.0,
        notification_timeout: float = 3.0,
        notification_retry_delays: tuple[float, ...] = (0.2, 1.0),
        default_calendar_name: str = "Calendar",
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.tenant_id, self.tenant_domain = tenant_id, tenant_domain
        self.user_id, self.user_principal_name = user_id, user_principal_name
        self.user_display_name = user_display_name
        #: None: any loopback http redirect URI (any port) is registered.
        self.redirect_uris = redirect_uris
        self.default_page_size, self.empty_first_page = default_page_size, empty_first_page
        self.access_token_lifetime = access_token_lifetime
        self.max_subscription_minutes = max_subscription_minutes
        self.validation_timeout, self.notification_timeout = (
            validation_timeout,
            notification_timeout,
        )
        self.notification_retry_delays = notification_retry_delays
        #: The authorize endpoint redirects with error=access_denied while this is set.
        self.deny_consent = False
        #: Every event of a delta round is sent a second time, on a later page.
        self.repeat_items = False
        #: The error code of the 410 an expired delta token gets.
        self.sync_reset_code = "SyncStateNotFound"
        self.lock = threading.RLock()
        self.calendars: dict[str, FakeCalendar] = {}
        self.requests: list[RequestRecord] = []
        #: The individual requests of every ``$batch`` (`_graph_batch`).
        self.batched: list[RequestRecord] = []
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._generation = 157
        self._transactions: dict[str, str] = {}
        self._render_cache: RenderCache = {}
        self._page_sizes: list[int] | None = None
        self._faults: deque[Fault] = deque()
        self._lost: list[list[Any]] = []
        self._cut: list[list[Any]] = []
        self._hooks: list[tuple[str, str, Callable[[], None]]] = []
        self._init_identity()
        self._init_delta()
        self._init_subscriptions()
        self._ca: ThrowawayCA | None = None
        self._server: TLSServer | None = None
        self._threads: list[threading.Thread] = []
        self.add_calendar(default_calendar_name, default=True)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MicrosoftGraphFake:
        fake = self
        self._ca = ThrowawayCA()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one segment per reply (headers + body), see the Google fake
            disable_nagle_algorithm = True
            timeout = 60

            def setup(self) -> None:
                super().setup()
                self.request.do_handshake()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = fake.handle(self.command, self.path, self.headers, body)
                if fake._take_lost_response(self.path):
                    self.close_connection = True  # processed, but the reply never arrives
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if fake._take_lost_response(self.path, cut=True):
                    # The connection breaks while the body arrives: half of it, then EOF.
                    self.wfile.write(payload[: len(payload) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = TLSServer(Handler, self._ca)
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
        self._stop_delivery()
        for thread in self._threads:
            thread.join(5)
        if self._ca is not None:
            self._ca.cleanup()

    def __enter__(self) -> MicrosoftGraphFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def graph_endpoint(self) -> str:
        """What the provider uses as ``graph_endpoint`` (no trailing slash)."""
        return f"{self.base_url}{GRAPH_PREFIX}"

    @property
    def ca_file(self) -> Path:
        """The throw-away CA certificate (PEM): msal ``verify=``, httpx ``verify=``."""
        assert self._ca is not None, "start() the fake first"
        return self._ca.ca_file

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the throw-away CA (httpx ``verify=``)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    @property
    def default_calendar_id(self) -> str:
        return next(c.id for c in self.calendars.values() if c.is_default)

    # -- test controls: faults -----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        code: str | None = None,
        *,
        count: int = 1,
        message: str | None = None,
        retry_after: float | str | None = None,
        method: str | None = None,
        path_contains: str = "",
    ) -> None:
        """The next ``count`` matching Graph requests (after authentication) fail so.

        ``retry_after`` is sent as given: ``2`` -> ``2``, ``0.5`` -> ``0.5``, or a string
        such as an HTTP-date. Throttled Outlook requests get 429 ``ApplicationThrottled``
        with a ``Retry-After`` in seconds (https://learn.microsoft.com/en-us/graph/throttling).
        """
        default_code, default_message = _DEFAULT_FAULTS.get(status, ("generalException", "Fault."))
        after = f"{retry_after:g}" if isinstance(retry_after, int | float) else retry_after
        for _ in range(count):
            self._faults.append(
                Fault(
                    status,
                    code or default_code,
                    message or default_message,
                    after,
                    method,
                    path_contains,
                )
            )

    def lose_next_responses(self, count: int = 1, path_contains: str = GRAPH_PREFIX + "/") -> None:
        """Process the next ``count`` matching requests, then drop the connection unanswered."""
        with self.lock:
            self._lost.append([count, path_contains])

    def cut_next_responses(self, count: int = 1, path_contains: str = GRAPH_PREFIX + "/") -> None:
        """Answer the next ``count`` matching requests with their headers and half the
        body, then drop the connection (a network fault while the answer arrives)."""
        with self.lock:
            self._cut.append([count, path_contains])

    def _take_lost_response(self, path: str, *, cut: bool = False) -> bool:
        with self.lock:
            for entry in self._cut if cut else self._lost:
                if entry[0] > 0 and entry[1] in path:
                    entry[0] -= 1
                    return True
            return False

    def on_next_request(self, method: str, path_contains: str, action: Callable[[], None]) -> None:
        """Run ``action`` just before the next matching Graph request is served."""
        with self.lock:
            self._hooks.append((method, path_contains, action))

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        return sum(
            1
            for r in list(self.requests)
            if (method is None or r.method == method) and path_contains in r.path
        )

    # -- test controls: the mailbox, edited as another client would ---------------------------

    def add_calendar(
        self, name: str, *, default: bool = False, color: str = "auto", can_edit: bool = True
    ) -> str:
        with self.lock:
            calendar = FakeCalendar(
                new_calendar_id(), name, new_change_key(), color, "", default, can_edit
            )
            self.calendars[calendar.id] = calendar
            return calendar.id

    def rename_calendar(self, calendar_id: str, name: str) -> None:
        with self.lock:
            calendar = self.calendars[calendar_id]
            calendar.name, calendar.change_key = name, new_change_key()

    def remove_calendar(self, calendar_id: str) -> None:
        with self.lock:
            del self.calendars[calendar_id]

    def put_event(self, calendar_id: str, body: dict[str, Any]) -> str:
        """Create an event (Graph body); returns its id. Invalid bodies raise `GraphError`."""
        with self.lock:
            item, _ = self._create_event(self.calendars[calendar_id], body)
            return item.id

    def patch_event(self, event_id: str, fields: dict[str, Any]) -> None:
        """PATCH an event, occurrence or exception by id (an occurrence becomes an exception)."""
        with self.lock:
            self._patch_event(event_id, fields, None, None)

    def delete_event(self, event_id: str) -> None:
        """Delete an event or series, or cancel one occurrence."""
        with self.lock:
            self._delete_event(event_id, None, None)

    def cancel_for_attendee(self, event_id: str) -> None:
        """What an organizer's cancellation of a meeting (or of one occurrence) leaves in
        an attendee's mailbox: the event stays listed, with ``isCancelled`` and a
        "Canceled: " subject, until the attendee removes it; an occurrence becomes an
        exception (``isCancelled`` is read-only to clients: "Set to true if the event
        has been canceled")."""
        with self.lock:
            _, top, _ = self._locate(event_id, None)
            subject = top.fields.get("subject", "")
            changed, original = self._patch_event(
                event_id, {"subject": f"Canceled: {subject}"}, None, None
            )
            cal, top, _ = self._locate(event_id, None)
            marked = replace(changed, fields={**changed.fields, "isCancelled": True})
            if original is None:
                cal.items[top.id] = marked
            else:
                cal.items[top.id] = replace(top, exceptions={**top.exceptions, original: marked})

    def event(self, event_id: str) -> dict[str, Any] | None:
        """The event as ``GET /me/events/{id}`` shows it (UTC), or None when there is none."""
        with self.lock:
            try:
                cal, top, original = self._locate(event_id, None)
            except GraphError:
                return None
            return self._event_view(cal, top, original, RenderOptions(), "UTC")

    def extended_properties(self, event_id: str) -> list[dict[str, str]]:
        with self.lock:
            _, top, original = self._locate(event_id, None)
            item = top.exceptions.get(original, top) if original is not None else top
            return list(item.fields.get("singleValueExtendedProperties", []))

    def instances(self, calendar_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The calendar view (singles, occurrences, exceptions) in UTC, ordered by start."""
        with self.lock:
            cal = self.calendars[calendar_id]
            found = [i for item in cal.items.values() for i in item_instances(item, start, end)]
            found.sort(key=lambda i: (i.start, i.id))
            return [render_instance(i, RenderOptions(), self._organizer()) for i in found]

    def event_ids(self, calendar_id: str) -> list[str]:
        """Ids of the stored single events and series masters of a calendar."""
        with self.lock:
            return list(self.calendars[calendar_id].items)
