"""No cross-tenant access (design invariant 6), checked for every route of the app.

Two application-calendar accounts, A and B, each with calendars, events and
(when the channels route exists) a notification channel. For every route
registered on the app (iterated from ``app.routes``, so a new endpoint is
covered automatically) the `EXAMPLES` table holds requests A makes using B's
ids. Each must answer the documented status and its body must contain none
of B's ids, names or summaries: 0 bytes of B's data. A route missing from the
table fails `test_every_route_has_an_example`.

Afterwards B's data must be intact: A's attempts changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from tests.fixtures.api import (
    CLIENT_ID,
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    bearer,
    create_app_calendar,
    get,
    run_api_server,
)

IGNORED_METHODS = {"HEAD", "OPTIONS"}
B_SUMMARY = "B-secret-summary-7f3a"
B_DESCRIPTION = "B-secret-description-91c2"
B_EVENT_ID = "b-secret-event-id-55d1"
B_CAL_NAME = "B-secret-calendar-name-0e4b"
B_CALLBACK = "http://127.0.0.1:9/b-secret-callback-4c1f"
B_RULE_ID = "b-secret-rule-id-3d1e"


@dataclass
class World:
    server: ApiServer
    a: AppCalendar
    b: AppCalendar
    b_second_calendar: str
    b_event_uid: str
    b_feed_token: str
    b_page_tokens: dict[str, str]
    b_channel_id: str | None
    #: Everything of B's that must never appear in a response to A.
    secrets: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Example:
    """One request A sends; ``expect`` lists the acceptable statuses."""

    method: str
    path: str
    expect: frozenset[int]
    json: Any = None
    params: Any = None
    token: str = "a"  # "a", or "none" for client-credential endpoints
    note: str = ""


Builder = Callable[[World], list[Example]]


def _e(method: str, path: str, *expect: int, **kw: Any) -> Example:
    return Example(method, path, frozenset(expect), **kw)


def _creds(**extra: Any) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra}


def _event_body(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "summary": "A writes",
        "start": "2026-06-01T09:00:00Z",
        "end": "2026-06-01T10:00:00Z",
    }


_RULE: dict[str, Any] = {
    "tzid": "Europe/London",
    "weekly_periods": [{"day": "monday", "start_time": "09:00", "end_time": "17:00"}],
}


def _availability(*members: dict[str, Any]) -> dict[str, Any]:
    return {
        "participants": [{"members": list(members), "required": "all"}],
        "required_duration": {"minutes": 30},
        "query_periods": [{"start": "2026-06-01T08:00:00Z", "end": "2026-06-01T18:00:00Z"}],
    }


#: (method, route template) -> the requests A makes against B's data.
EXAMPLES: dict[tuple[str, str], Builder] = {
    ("GET", "/openapi.json"): lambda w: [_e("GET", "/openapi.json", 200, token="none")],
    ("GET", "/healthz"): lambda w: [_e("GET", "/healthz", 200, token="none")],
    # Swagger UI: a static page that loads /openapi.json; no account data.
    ("GET", "/docs"): lambda w: [_e("GET", "/docs", 200, token="none")],
    ("GET", "/docs/oauth2-redirect"): lambda w: [
        _e("GET", "/docs/oauth2-redirect", 200, token="none")
    ],
    # Operator-only (labels name every account's calendars): A's token is refused.
    ("GET", "/metrics"): lambda w: [_e("GET", "/metrics", 401)],
    # Provider push: no bearer auth; a channel that is not ours is 404 for anyone.
    ("POST", "/push/google"): lambda w: [
        _e("POST", "/push/google", 404, token="none", note="no such push channel")
    ],
    # Client-credential endpoints: A's app acting for A; nothing of B comes back.
    ("POST", "/v1/application_calendars"): lambda w: [
        _e(
            "POST",
            "/v1/application_calendars",
            200,
            json=_creds(application_calendar_id=w.a.application_calendar_id),
            token="none",
        )
    ],
    ("POST", "/oauth/token"): lambda w: [
        _e(
            "POST",
            "/oauth/token",
            200,
            json=_creds(grant_type="refresh_token", refresh_token=w.a.refresh_token),
            token="none",
        ),
        _e(
            "POST",
            "/oauth/token",
            400,
            json=_creds(grant_type="refresh_token", refresh_token=w.b.access_token),
            token="none",
            note="B's access token is not a refresh token",
        ),
    ],
    ("POST", "/oauth/token/revoke"): lambda w: [
        _e("POST", "/oauth/token/revoke", 200, json=_creds(token="csa_unknown"), token="none")
    ],
    # Account views: only A's own.
    ("GET", "/v1/account"): lambda w: [_e("GET", "/v1/account", 200)],
    ("GET", "/v1/profiles"): lambda w: [_e("GET", "/v1/profiles", 200)],
    ("GET", "/v1/userinfo"): lambda w: [_e("GET", "/v1/userinfo", 200)],
    # Calendars.
    ("GET", "/v1/calendars"): lambda w: [_e("GET", "/v1/calendars", 200)],
    ("POST", "/v1/calendars"): lambda w: [
        _e("POST", "/v1/calendars", 404, json={"profile_id": w.b.profile_id, "name": "x"})
    ],
    ("PATCH", "/v1/calendars/{calendar_id}"): lambda w: [
        _e("PATCH", f"/v1/calendars/{w.b.calendar_id}", 404, json={"name": "hijacked"}),
        _e("PATCH", f"/v1/calendars/{w.b_second_calendar}", 404, json={"metadata": {}}),
    ],
    ("DELETE", "/v1/calendars/{calendar_id}"): lambda w: [
        _e("DELETE", f"/v1/calendars/{w.b_second_calendar}", 404, json={}),
    ],
    # Events.
    ("POST", "/v1/calendars/{calendar_id}/events"): lambda w: [
        _e("POST", f"/v1/calendars/{w.b.calendar_id}/events", 404, json=_event_body(B_EVENT_ID)),
    ],
    ("DELETE", "/v1/calendars/{calendar_id}/events"): lambda w: [
        _e("DELETE", f"/v1/calendars/{w.b.calendar_id}/events", 404, json={"event_id": B_EVENT_ID}),
        _e(
            "DELETE",
            f"/v1/calendars/{w.b.calendar_id}/events",
            404,
            json={"event_uid": w.b_event_uid},
        ),
        # A's own calendar naming B's event: nothing of B's can be reached.
        _e(
            "DELETE",
            f"/v1/calendars/{w.a.calendar_id}/events",
            202,
            404,
            json={"event_uid": w.b_event_uid},
        ),
    ],
    ("DELETE", "/v1/events"): lambda w: [
        _e("DELETE", "/v1/events", 404, json={"calendar_ids": [w.b.calendar_id]}),
        _e("DELETE", "/v1/events", 404, params={"calendar_ids[]": w.b.calendar_id}),
    ],
    ("POST", "/v1/batch"): lambda w: [
        _e(
            "POST",
            "/v1/batch",
            200,
            json={
                "batch": [
                    {
                        "method": "POST",
                        "relative_url": f"/v1/calendars/{w.b.calendar_id}/events",
                        "data": _event_body("x"),
                    },
                    {
                        "method": "DELETE",
                        "relative_url": f"/v1/calendars/{w.b.calendar_id}/events",
                        "data": {"event_id": B_EVENT_ID},
                    },
                ]
            },
        )
    ],
    ("GET", "/v1/events"): lambda w: [
        _e("GET", "/v1/events", 404, params={"tzid": "Etc/UTC", "calendar_ids[]": w.b.calendar_id}),
        _e("GET", "/v1/events", 200, params={"tzid": "Etc/UTC", "include_managed": "True"}),
    ],
    ("GET", "/v1/events/pages/{token}"): lambda w: [
        _e("GET", f"/v1/events/pages/{w.b_page_tokens['events']}", 400, 404, 422),
    ],
    ("GET", "/v1/free_busy"): lambda w: [
        _e(
            "GET",
            "/v1/free_busy",
            404,
            params={"tzid": "Etc/UTC", "calendar_ids[]": w.b.calendar_id},
        ),
        _e("GET", "/v1/free_busy", 200, params={"tzid": "Etc/UTC"}),
    ],
    ("GET", "/v1/free_busy/pages/{token}"): lambda w: [
        _e("GET", f"/v1/free_busy/pages/{w.b_page_tokens['free_busy']}", 400, 404, 422),
    ],
    # The feed token is the credential; B's calendar id is not one.
    ("GET", "/ical/{feed_token}.ics"): lambda w: [
        _e("GET", f"/ical/{w.b.calendar_id}.ics", 404, token="none"),
        _e("GET", f"/ical/{w.b_feed_token}x.ics", 404, token="none"),
    ],
    # Availability: an account token asks about its own sub only; rules are per account.
    ("POST", "/v1/availability"): lambda w: [
        _e("POST", "/v1/availability", 403, json=_availability({"sub": w.b.sub})),
        _e(
            "POST",
            "/v1/availability",
            403,
            json=_availability({"sub": w.a.sub}, {"sub": w.b.sub}),
            note="B beside A",
        ),
        _e(
            "POST",
            "/v1/availability",
            422,
            json=_availability({"sub": w.a.sub, "calendar_ids": [w.b.calendar_id]}),
            note="B's calendar",
        ),
        _e(
            "POST",
            "/v1/availability",
            200,
            json=_availability(
                {"sub": w.a.sub, "managed_availability": True, "availability_rule_ids": [B_RULE_ID]}
            ),
            note="B's rule id",
        ),
    ],
    ("POST", "/v1/availability_rules"): lambda w: [
        _e(
            "POST",
            "/v1/availability_rules",
            422,
            json={**_RULE, "availability_rule_id": "a-rule", "calendar_ids": [w.b.calendar_id]},
        )
    ],
    ("GET", "/v1/availability_rules"): lambda w: [_e("GET", "/v1/availability_rules", 200)],
    ("GET", "/v1/availability_rules/{availability_rule_id}"): lambda w: [
        _e("GET", f"/v1/availability_rules/{B_RULE_ID}", 404)
    ],
    ("DELETE", "/v1/availability_rules/{availability_rule_id}"): lambda w: [
        _e("DELETE", f"/v1/availability_rules/{B_RULE_ID}", 404)
    ],
    # Channels.
    ("POST", "/v1/channels"): lambda w: [
        _e(
            "POST",
            "/v1/channels",
            404,
            422,
            json={
                "callback_url": "http://127.0.0.1:9/a",
                "filters": {"calendar_ids": [w.b.calendar_id]},
            },
        )
    ],
    ("GET", "/v1/channels"): lambda w: [_e("GET", "/v1/channels", 200)],
    ("DELETE", "/v1/channels/{channel_id}"): lambda w: [
        _e("DELETE", f"/v1/channels/{w.b_channel_id or 'chn_none'}", 404, json={})
    ],
    ("POST", "/v1/profiles/{profile_id}/revoke"): lambda w: [
        _e("POST", f"/v1/profiles/{w.b.profile_id}/revoke", 404, json={})
    ],
    ("POST", "/push/microsoft"): lambda w: [
        _e(
            "POST",
            "/push/microsoft",
            404,
            token="none",
            json={"value": [{"subscriptionId": "sub-unknown", "clientState": "x"}]},
            note="no such subscription",
        )
    ],
    # The connect flow: A holds no state or code of B's (both are bound to B's
    # browser and app), so what A can send is refused without a word of B's.
    ("GET", "/oauth/authorize"): lambda w: [
        _e(
            "GET",
            "/oauth/authorize",
            400,
            token="none",
            params={
                "response_type": "code",
                "client_id": "client-of-nobody",
                "redirect_uri": "http://127.0.0.1:9/cb",
                "scope": "read_write",
                "state": "s",
            },
            note="unknown client: an error page, no redirect",
        )
    ],
    ("GET", "/oauth/connect/{provider}"): lambda w: [
        _e("GET", "/oauth/connect/google", 400, 404, token="none", note="no pending request")
    ],
    ("POST", "/oauth/connect/caldav"): lambda w: [
        _e("POST", "/oauth/connect/caldav", 400, 404, 415, 422, token="none")
    ],
    ("GET", "/oauth/callback/{provider}"): lambda w: [
        _e(
            "GET",
            "/oauth/callback/google",
            400,
            token="none",
            params={"state": "forged", "code": "forged"},
        )
    ],
}


def _chronary(method: str, template: str) -> Builder:
    """The Chronary dialect takes organization API keys only: an account's access token
    (A's) is refused there outright, whatever id it names (tests/integration/
    test_chronary_guide.py checks isolation between organizations)."""

    def build(w: World) -> list[Example]:
        path = template.format(
            agent_id="agt_any", calendar_id=w.b.calendar_id, event_id=w.b_event_uid
        )
        body: dict[str, Any] | None = {} if method in ("POST", "PATCH") else None
        return [_e(method, path, 401, json=body, note="an access token is no API key")]

    return build


_CHRONARY_ROUTES = [
    ("GET", "/chronary/v1/agents"),
    ("POST", "/chronary/v1/agents"),
    ("GET", "/chronary/v1/agents/{agent_id}"),
    ("PATCH", "/chronary/v1/agents/{agent_id}"),
    ("DELETE", "/chronary/v1/agents/{agent_id}"),
    ("GET", "/chronary/v1/agents/{agent_id}/calendars"),
    ("POST", "/chronary/v1/agents/{agent_id}/calendars"),
    ("GET", "/chronary/v1/agents/{agent_id}/events"),
    ("GET", "/chronary/v1/calendars"),
    ("POST", "/chronary/v1/calendars"),
    ("GET", "/chronary/v1/calendars/{calendar_id}"),
    ("PATCH", "/chronary/v1/calendars/{calendar_id}"),
    ("DELETE", "/chronary/v1/calendars/{calendar_id}"),
    ("GET", "/chronary/v1/calendars/{calendar_id}/events"),
    ("POST", "/chronary/v1/calendars/{calendar_id}/events"),
    ("GET", "/chronary/v1/calendars/{calendar_id}/events/{event_id}"),
    ("PATCH", "/chronary/v1/calendars/{calendar_id}/events/{event_id}"),
    ("DELETE", "/chronary/v1/calendars/{calendar_id}/events/{event_id}"),
    ("GET", "/chronary/v1/events/{event_id}"),
    ("PATCH", "/chronary/v1/events/{event_id}"),
    ("DELETE", "/chronary/v1/events/{event_id}"),
]
EXAMPLES.update({route: _chronary(*route) for route in _CHRONARY_ROUTES})


def route_keys(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path template) of every route, looking through included routers."""
    keys: set[tuple[str, str]] = set()
    for context in iter_route_contexts(routes):
        if context.path is None:
            continue
        for method in context.methods or ():
            if method not in IGNORED_METHODS:
                keys.add((method, context.path))
    return keys


def _send(http: httpx.Client, world: World, example: Example) -> httpx.Response:
    headers = bearer(world.a.access_token) if example.token == "a" else {}
    body = example.json if example.json is not None else {}
    return http.request(
        example.method, example.path, json=body, params=example.params, headers=headers
    )


def _b_world(server: ApiServer, http: httpx.Client) -> World:
    a = create_app_calendar(http, "tenant-a")
    b = create_app_calendar(http, "tenant-b-secret-app-id")
    keys = route_keys(server.app.routes)
    created = http.post(
        "/v1/calendars", json={"profile_id": b.profile_id, "name": B_CAL_NAME}, headers=b.headers
    )
    assert created.status_code == 200, created.text
    second = created.json()["calendar"]
    for calendar_id, n in ((b.calendar_id, 2), (second["calendar_id"], 1)):
        for i in range(n):
            body = {
                **_event_body(
                    f"{B_EVENT_ID}-{i}" if i or calendar_id != b.calendar_id else B_EVENT_ID
                ),
                "summary": B_SUMMARY,
                "description": B_DESCRIPTION,
            }
            response = http.post(
                f"/v1/calendars/{calendar_id}/events", json=body, headers=b.headers
            )
            assert response.status_code == 202, response.text
    # A calendar of A's with an event too, so A's reads are not trivially empty.
    http.post(f"/v1/calendars/{a.calendar_id}/events", json=_event_body("a-1"), headers=a.headers)

    page_tokens: dict[str, str] = {}
    params = {
        "tzid": "Etc/UTC",
        "from": "2026-05-01",
        "to": "2026-07-01",
        "include_managed": "True",
    }
    for kind in ("events", "free_busy"):
        page = http.request("GET", f"/v1/{kind}", params=params, json={}, headers=b.headers)
        assert page.status_code == 200, page.text
        next_page = page.json()["pages"].get("next_page")
        assert next_page, "page_size=1 must give B a second page"
        page_tokens[kind] = next_page.rsplit("/", 1)[1]
    events = http.request("GET", "/v1/events", params=params, json={}, headers=b.headers).json()[
        "events"
    ]
    event_uid = events[0]["event_uid"]

    channel_id = None
    if ("POST", "/v1/channels") in keys:
        channel = http.post(
            "/v1/channels",
            json={"callback_url": B_CALLBACK, "filters": {"calendar_ids": [b.calendar_id]}},
            headers=b.headers,
        )
        assert channel.status_code == 200, channel.text
        channel_id = channel.json()["channel"]["channel_id"]

    if ("POST", "/v1/availability_rules") in keys:
        rule = http.post(
            "/v1/availability_rules",
            json={**_RULE, "availability_rule_id": B_RULE_ID, "calendar_ids": [b.calendar_id]},
            headers=b.headers,
        )
        assert rule.status_code == 200, rule.text

    calendars = get(http, "/v1/calendars", b.access_token).json()["calendars"]
    feed_token = calendars[0]["ical_url"].rsplit("/", 1)[1].removesuffix(".ics")
    world = World(
        server=server,
        a=a,
        b=b,
        b_second_calendar=second["calendar_id"],
        b_event_uid=event_uid,
        b_feed_token=feed_token,
        b_page_tokens=page_tokens,
        b_channel_id=channel_id,
    )
    world.secrets = {
        b.sub,
        b.profile_id,
        b.calendar_id,
        b.access_token,
        b.refresh_token,
        b.application_calendar_id,
        second["calendar_id"],
        B_CAL_NAME,
        B_SUMMARY,
        B_DESCRIPTION,
        B_EVENT_ID,
        event_uid,
        feed_token,
        *(e["event_uid"] for e in events),
        *([channel_id, B_CALLBACK] if channel_id else []),
        B_RULE_ID,
    }
    return world


@pytest.fixture
def world(store_url: str) -> Iterator[tuple[World, httpx.Client]]:
    with (
        run_api_server(store_url, page_size=1) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        yield _b_world(server, http), http


def test_every_route_has_an_example(store_url: str) -> None:
    with run_api_server(store_url, migrate=False) as server:
        keys = route_keys(server.app.routes)
    missing = sorted(keys - set(EXAMPLES))
    assert not missing, f"add ownership examples for: {missing}"
    assert ("GET", "/v1/calendars") in keys


def test_no_cross_tenant_access(world: tuple[World, httpx.Client]) -> None:
    w, http = world
    keys = route_keys(w.server.app.routes)
    problems: list[str] = []
    for key in sorted(keys):
        for example in EXAMPLES[key](w):
            response = _send(http, w, example)
            label = f"{example.method} {example.path} {example.note}".strip()
            if response.status_code not in example.expect:
                problems.append(
                    f"{label}: status {response.status_code}, expected {sorted(example.expect)}"
                    f": {response.text[:300]}"
                )
            leaked = sorted(s for s in w.secrets if s in response.text)
            if leaked:
                problems.append(f"{label}: response contains B's {leaked}")
            for name, value in response.headers.items():
                if any(s in value for s in w.secrets):
                    problems.append(f"{label}: header {name} contains B's data")
    assert not problems, "\n".join(problems)

    # B's data is intact: none of A's attempts changed anything.
    calendars = get(http, "/v1/calendars", w.b.access_token).json()["calendars"]
    by_id = {c["calendar_id"]: c for c in calendars}
    assert by_id[w.b_second_calendar]["calendar_name"] == B_CAL_NAME
    assert by_id[w.b_second_calendar]["calendar_deleted"] is False
    assert by_id[w.b.calendar_id]["calendar_name"] == w.b.application_calendar_id
    events = []
    url = "/v1/events"
    params: dict[str, str] | None = {
        "tzid": "Etc/UTC",
        "from": "2026-05-01",
        "to": "2026-07-01",
        "include_managed": "True",
    }
    while True:
        page = http.request("GET", url, params=params, json={}, headers=w.b.headers).json()
        events.extend(page["events"])
        if "next_page" not in page["pages"]:
            break
        url, params = page["pages"]["next_page"], None
    assert sorted(e["summary"] for e in events) == [B_SUMMARY] * 3
    assert all(not e.get("deleted") for e in events)
    if w.b_channel_id is not None:
        channels = get(http, "/v1/channels", w.b.access_token).json()["channels"]
        assert [c["channel_id"] for c in channels] == [w.b_channel_id]
    rules = get(http, "/v1/availability_rules", w.b.access_token).json()["availability_rules"]
    assert [r["availability_rule_id"] for r in rules] == [B_RULE_ID]
