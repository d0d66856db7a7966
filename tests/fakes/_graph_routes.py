"""Request dispatch of the fake Graph server (a mixin of `MicrosoftGraphFake`).

Every request is recorded, then routed: identity endpoints first, then Graph v1.0
(authenticated by bearer token, then test hooks and injected faults, then the
endpoint). Graph permissions are checked per endpoint: reads need a Calendars.Read*
scope, writes Calendars.ReadWrite, ``/me`` User.Read; missing ones get 403
``ErrorAccessDenied``. Unknown or expired tokens get 401 ``InvalidAuthenticationToken``
with a ``WWW-Authenticate`` challenge. POST and PATCH bodies must be JSON with
``Content-Type: application/json`` (https://learn.microsoft.com/en-us/graph/api/
calendar-post-events, "Content-Type: application/json. Required.").
"""

from __future__ import annotations

import email.message
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes._graph_identity import AccessGrant
from tests.fakes._graph_render import RenderCache, RenderOptions, parse_expand, parse_select
from tests.fakes._graph_store import FakeCalendar, Item
from tests.fakes._graph_views import allow
from tests.fakes._graph_wire import (
    GRAPH_PREFIX,
    Fault,
    GraphError,
    Reply,
    RequestRecord,
    bad_request,
    decode_id,
    json_reply,
    new_guid,
    parse_prefer,
    zone,
)

READ = frozenset({"Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic"})
WRITE = frozenset({"Calendars.ReadWrite"})
USER = frozenset({"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All"})


class RoutesMixin:
    lock: threading.RLock
    calendars: dict[str, FakeCalendar]
    requests: list[RequestRecord]
    access_tokens: dict[str, AccessGrant]
    _faults: deque[Fault]
    _hooks: list[tuple[str, str, Callable[[], None]]]

    if TYPE_CHECKING:
        # Provided by the other mixins and by MicrosoftGraphFake itself.
        @property
        def base_url(self) -> str: ...
        @property
        def default_calendar_id(self) -> str: ...
        def _identity(
            self, method: str, segments: list[str], query: dict[str, str], body: bytes, headers: Any
        ) -> Reply | None: ...
        def _create_subscription(self, body: dict[str, Any]) -> Reply: ...
        def _subscriptions_api(
            self, method: str, rest: list[str], body: dict[str, Any]
        ) -> Reply: ...
        def _me(self) -> dict[str, Any]: ...
        def _batch(
            self, method: str, query: dict[str, str], headers: Any, body: bytes
        ) -> Reply: ...
        def _calendars_list(self, path: str, query: dict[str, str]) -> Reply: ...
        def _calendar_body(self, cal: FakeCalendar) -> dict[str, Any]: ...
        def _calendar_view(
            self, cal: FakeCalendar, path: str, query: dict[str, str], options: RenderOptions
        ) -> Reply: ...
        def _delta(
            self,
            cal: FakeCalendar,
            path: str,
            query: dict[str, str],
            options: RenderOptions,
            prefer: dict[str, str],
        ) -> Reply: ...
        def _preference_applied(self, prefer: dict[str, str]) -> dict[str, str]: ...
        def _events_list(
            self, cal: FakeCalendar, path: str, query: dict[str, str], options: RenderOptions
        ) -> Reply: ...
        def _create_event(self, cal: FakeCalendar, body: dict[str, Any]) -> tuple[Item, bool]: ...
        def _render_item(
            self,
            item: Item,
            options: RenderOptions,
            default_zone: str | None = "UTC",
            cache: RenderCache | None = None,
        ) -> dict[str, Any]: ...
        def _locate(
            self, event_id: str, scope: FakeCalendar | None
        ) -> tuple[FakeCalendar, Item, datetime | None]: ...
        def _instances(
            self,
            master: Item,
            original: Any,
            path: str,
            query: dict[str, str],
            options: RenderOptions,
        ) -> Reply: ...
        def _event_view(
            self,
            cal: FakeCalendar,
            master: Item,
            original: Any,
            options: RenderOptions,
            zone: str | None,
        ) -> dict[str, Any]: ...
        def _patch_event(
            self,
            event_id: str,
            body: dict[str, Any],
            if_match: str | None,
            scope: FakeCalendar | None,
        ) -> tuple[Item, datetime | None]: ...
        def _delete_event(
            self, event_id: str, if_match: str | None, scope: FakeCalendar | None
        ) -> None: ...

    # -- Graph authentication ----------------------------------------------------------------

    def _authenticate(self, headers: Any) -> frozenset[str]:
        """The scopes of the request's bearer token; 401 as Graph answers otherwise."""
        value = headers.get("Authorization", "")
        challenge = {
            "WWW-Authenticate": f'Bearer realm="", authorization_uri="{self.base_url}/common/'
            'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
        }
        if not value.startswith("Bearer ") or not value[7:].strip():
            raise GraphError(
                401, "InvalidAuthenticationToken", "Access token is empty.", headers=challenge
            )
        grant = self.access_tokens.get(value[7:].strip())
        if grant is None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "CompactToken parsing failed with error code: 80049217",
                headers=challenge,
            )
        if grant.expires <= time.time():
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
                headers=challenge,
            )
        return grant.scopes

    # -- dispatch -------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str] | email.message.Message,
        body: bytes,
    ) -> Reply:
        if not isinstance(headers, email.message.Message):
            message = email.message.Message()
            for name, value in headers.items():
                message[name] = value
            headers = message
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        record = RequestRecord(
            method, parts.path, query, {k.lower(): v for k, v in headers.items()}, body
        )
        with self.lock:
            self.requests.append(record)
        request_id = headers.get("client-request-id") or new_guid()
        try:
            status, reply_headers, payload = self._route(method, parts.path, query, headers, body)
        except GraphError as exc:
            status, reply_headers, payload = exc.reply(request_id)
        if parts.path.startswith(GRAPH_PREFIX + "/"):
            reply_headers = {
                **reply_headers,
                "request-id": request_id,
                "client-request-id": request_id,
                "Cache-Control": "private",
            }
        record.status = status
        return status, reply_headers, payload

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> Reply:
        segments = [unquote(s) for s in path.strip("/").split("/")]
        identity = self._identity(method, segments, query, body, headers)
        if identity is not None:
            return identity
        if not path.startswith(GRAPH_PREFIX + "/"):
            raise GraphError(404, "NotFound", f"fake: nothing is served at {path}")
        if [s.lower() for s in segments[1:]] == ["$batch"]:
            return self._batch(method, query, headers, body)
        return self._graph(method, path, segments[1:], query, headers, body)

    @staticmethod
    def _need(scopes: frozenset[str], wanted: frozenset[str]) -> None:
        if not scopes & wanted:
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )

    def _raise_fault(self, method: str, path: str) -> None:
        for index, fault in enumerate(self._faults):
            if (fault.method in (None, method)) and fault.path_contains in path:
                del self._faults[index]
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                raise GraphError(fault.status, fault.code, fault.message, headers=extra)

    def _run_hook(self, method: str, path: str) -> None:
        for index, (wanted, fragment, action) in enumerate(self._hooks):
            if wanted == method and fragment in path:
                del self._hooks[index]
                action()
                return

    @staticmethod
    def _json_body(headers: Any, body: bytes) -> dict[str, Any]:
        if not str(headers.get("Content-Type", "")).startswith("application/json"):
            raise GraphError(
                415, "BadRequest", "fake (strict): Content-Type must be application/json."
            )
        try:
            parsed = json.loads(body or b"")
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise bad_request(
                "Unable to read JSON request payload. Please ensure Content-Type header is set "
                "and payload is of valid JSON format."
            )
        return parsed

    def _graph(
        self,
        method: str,
        path: str,
        segs: list[str],
        query: dict[str, str],
        headers: Any,
        body: bytes,
    ) -> Reply:
        scopes = self._authenticate(headers)
        with self.lock:
            self._run_hook(method, path)
            self._raise_fault(method, path)
        prefer = parse_prefer(headers.get_all("Prefer") or [])
        payload = self._json_body(headers, body) if method in ("POST", "PATCH") and body else {}
        if method == "PATCH" and not body:
            payload = self._json_body(headers, body)
        if [s.lower() for s in segs[:1]] == ["subscriptions"]:
            self._need(scopes, READ)
            if len(segs) == 1 and method == "POST":
                allow(query, set())
                return self._create_subscription(payload)
            with self.lock:
                return self._subscriptions_api(method, segs[1:], payload)
        with self.lock:
            status, reply_headers, reply_body = self._mailbox(
                method, path, segs, query, prefer, payload, scopes, headers
            )
        if 200 <= status < 300 and "Preference-Applied" not in reply_headers:
            applied = self._preference_applied(
                {k: v for k, v in prefer.items() if k.startswith("outlook.")}
            )
            reply_headers = {**reply_headers, **applied}
        return status, reply_headers, reply_body

    def _calendar(self, calendar_id: str) -> FakeCalendar:
        kind, _ = decode_id(calendar_id)
        calendar = self.calendars.get(calendar_id) if kind == "cal" else None
        if calendar is None:
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return calendar

    def _mailbox(
        self,
        method: str,
        path: str,
        segs: list[str],
        query: dict[str, str],
        prefer: dict[str, str],
        payload: dict[str, Any],
        scopes: frozenset[str],
        headers: Any,
    ) -> Reply:
        lower = [s.lower() for s in segs]
        if not lower or lower[0] != "me":
            raise bad_request(f"Resource not found for the segment '{segs[0] if segs else ''}'.")
        rest, low = segs[1:], lower[1:]
        if not rest and method == "GET":
            self._need(scopes, USER)
            allow(query, {"$select"})
            return self._json_reply(self._me())
        if low == ["calendars"] and method == "GET":
            self._need(scopes, READ)
            return self._calendars_list(path, query)
        scope: FakeCalendar | None
        if low[:1] == ["calendar"]:
            cal = scope = self.calendars[self.default_calendar_id]
            rest, low = rest[1:], low[1:]
        elif low[:1] == ["calendars"] and len(rest) >= 2:
            cal = scope = self._calendar(rest[1])
            rest, low = rest[2:], low[2:]
        else:
            cal, scope = self.calendars[self.default_calendar_id], None
        if not rest and method == "GET" and scope is not None:
            self._need(scopes, READ)
            allow(query, {"$select"})
            return self._json_reply(self._calendar_body(cal))
        if "outlook.timezone" in prefer:
            zone(prefer["outlook.timezone"])
        options = RenderOptions(
            zone_name=prefer.get("outlook.timezone"),
            text_body=prefer.get("outlook.body-content-type", "").lower() == "text",
            expand=parse_expand(query.get("$expand")),
            select=parse_select(query.get("$select")),
        )
        if low == ["calendarview"] and method == "GET":
            self._need(scopes, READ)
            return self._calendar_view(cal, path, query, options)
        if low == ["calendarview", "delta"] and method == "GET":
            self._need(scopes, READ)
            return self._delta(cal, path, query, options, prefer)
        if not low or low[0] != "events" or len(rest) > 3:
            raise bad_request(f"Resource not found for the segment '{'/'.join(rest)}'.")
        if len(rest) == 1 and method == "GET":
            self._need(scopes, READ)
            return self._events_list(cal, path, query, options)
        if len(rest) == 1 and method == "POST":
            self._need(scopes, WRITE)
            allow(query, set())
            item, _ = self._create_event(cal, payload)
            return self._json_reply(self._render_item(item, options, None), 201)
        if len(rest) == 3 and low[2] == "instances" and method == "GET":
            self._need(scopes, READ)
            _, top, original = self._locate(rest[1], scope)
            return self._instances(top, original, path, query, options)
        if len(rest) != 2:
            raise bad_request(f"Resource not found for the segment '{'/'.join(rest)}'.")
        if method == "GET":
            self._need(scopes, READ)
            allow(query, {"$select", "$expand"})
            found_cal, top, original = self._locate(rest[1], scope)
            return self._json_reply(self._event_view(found_cal, top, original, options, "UTC"))
        if_match = headers.get("If-Match")
        if method == "PATCH":
            self._need(scopes, WRITE)
            allow(query, set())
            item, _ = self._patch_event(rest[1], payload, if_match, scope)
            return self._json_reply(self._render_item(item, options, None))
        if method == "DELETE":
            self._need(scopes, WRITE)
            allow(query, set())
            self._delete_event(rest[1], if_match, scope)
            return 204, {}, b""
        raise GraphError(405, "ErrorInvalidRequest", f"The method {method} is not allowed here.")

    @staticmethod
    def _json_reply(body: dict[str, Any], status: int = 200) -> Reply:
        return json_reply(status, body)
