"""schemathesis, with every one of its checks, against the live ``/openapi.json``.

The server is real uvicorn over a real store (SQLite and PostgreSQL); the run
is schemathesis' own engine, as ``schemathesis run --checks all`` runs it:
examples, coverage, fuzzing and stateful phases, positive and negative data,
and every check it has, among them response status and body conformance,
positive data accepted, negative data rejected, ``Allow`` on 405, auth not
ignored and deleted resources gone. The document must therefore say exactly
what the server does.

Two things are set up around it, each for a reason the test names:

* ``filter_failure`` drops a "valid data rejected" report only when the 422
  (or OAuth 400) is one of the rules JSON Schema cannot state, which the
  schema documents in words (`BEYOND_SCHEMA`): an event's end before its
  start, a read's ``to`` before its ``from``, recurrence lines that do not
  parse, a bulk delete naming its targets twice, availability periods out of
  order or spanning more than 35 days, a group requiring more members than it
  has, a weekly period ending before it starts, and state (a duplicate
  calendar name, a deleted calendar, a callback host that does not resolve,
  an unknown refresh token).
  Any other failure, and any other status for these, still fails the test.
* Channel callbacks are pinned to a refused port on 127.0.0.1, so no request
  ever leaves the host and no DNS lookup is made for a generated host name.

In this environment ``urllib3-future`` (pulled in by caldav through niquests)
replaces urllib3, and schemathesis' requests transport counts a connection
pool's entries in a way that pool does not support. Only that count is
replaced (it decides whether to resend a request whose keep-alive connection
was dropped); every request still goes through requests to the real server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import schemathesis.transport.requests as st_requests
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from schemathesis.openapi.checks import RejectedPositiveData

from tests.fixtures.api import ApiServer, create_app_calendar, run_api_server
from tests.fixtures.chronary import PREFIX as CHRONARY_PREFIX

pytestmark = pytest.mark.slow

#: Examples per operation and phase. Small enough for a loaded 2-core CI box
#: (about a minute per back end); every operation is still run in every phase,
#: and the coverage phase adds its boundary cases on top.
MAX_EXAMPLES = 6
#: Steps per stateful scenario (create a calendar, put an event in it, delete it...).
MAX_STEPS = 6
#: Channel creation POSTs to the callback; every such request stays on this host.
SAFE_CALLBACK = "http://127.0.0.1:9/fuzz-callback"
#: The schema's callback_url pattern (ChannelCreate).
VALID_CALLBACK = re.compile("[Hh][Tt][Tt][Pp][Ss]?://[!-~]+")

#: Rules the schema states in words because JSON Schema cannot: operation label
#: -> (field, description fragment) pairs a 422 may carry for schema-valid input.
BEYOND_SCHEMA: dict[str, set[tuple[str, str]]] = {
    "POST /v1/calendars/{calendar_id}/events": {
        ("end", "end must not be before start"),
        ("end", "an all-day end must be after its start"),
        ("end", "both be times or both be dates"),
        ("recurrence", "not valid RRULE/RDATE/EXDATE lines"),
        ("recurrence", "rules repeating more than hourly"),
        ("calendar_id", "the calendar has been deleted"),  # state: api.md's 422
    },
    "DELETE /v1/calendars/{calendar_id}/events": {
        ("calendar_id", "the calendar has been deleted"),
    },
    "GET /v1/events": {("to", "to must be after from")},
    "GET /v1/free_busy": {("to", "to must be after from")},
    "DELETE /v1/events": {
        ("delete_all", "give delete_all or calendar_ids, not both"),
        ("delete_all", "give delete_all=true or calendar_ids"),
        ("delete_all", "given in the query and the body"),
    },
    "POST /v1/calendars": {("name", "a calendar with this name already exists")},
    "PATCH /v1/calendars/{calendar_id}": {("name", "a calendar with this name already exists")},
    "POST /v1/availability": {
        ("query_periods.N.end", "the end must be after the start"),
        ("available_periods.N.end", "the end must be after the start"),
        ("participants.N.members.N.available_periods.N.end", "the end must be after the start"),
        ("query_periods", "within 35 days of the earliest start"),
        ("available_periods", "within 35 days of the earliest start"),
        ("query_slots", "within 35 days of the earliest start"),
        ("participants.N.required", "a number from 1 to the number of members"),
        ("participants.N.required", "more than the group's"),
        ("participants.N.members.N.calendar_ids", "unknown calendar id"),  # state
        ("participants.N.members.N.sub", "unknown sub"),  # state (the API key only)
    },
    "POST /v1/availability_rules": {
        ("weekly_periods.N.end_time", "the end must be after the start"),
        ("calendar_ids", "unknown calendar id"),  # state
    },
    "POST /v1/channels": {
        ("callback_url", "does not resolve"),
        ("callback_url", "must not point to a loopback, private or reserved address"),
        ("filters.calendar_ids", "unknown calendar id"),
    },
}
#: RFC 6749 §5.2: a well-formed request for an unknown grant is 400 invalid_grant.
OAUTH_STATE_ERRORS = {"invalid_grant"}


def explained_by_documented_rule(label: str, status: int, body: bytes) -> bool:
    """Whether a rejected schema-valid request broke a rule the schema states in words."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return False
    if label.startswith("POST /oauth/token") and status == 400:
        return isinstance(data, dict) and data.get("error") in OAUTH_STATE_ERRORS
    rules = BEYOND_SCHEMA.get(label)
    if status != 422 or not rules or not isinstance(data, dict):
        return False
    problems = [
        # List positions are numbered in the field path (``participants.0.required``).
        (re.sub(r"\.[0-9]+(?=\.|$)", ".N", field), entry.get("description", ""))
        for field, entries in data.get("errors", {}).items()
        for entry in entries
    ]
    return bool(problems) and all(
        any(field == rule_field and text in description for rule_field, text in rules)
        for field, description in problems
    )


@pytest.fixture
def fuzz_server(store_url: str) -> Iterator[ApiServer]:
    with run_api_server(
        store_url, rate_limit_per_second=1_000_000, rate_limit_per_minute=1_000_000
    ) as server:
        yield server


@pytest.fixture
def requests_transport_on_urllib3_future(monkeypatch: pytest.MonkeyPatch) -> None:
    """See the module docstring: only the pool count is replaced."""
    monkeypatch.setattr(st_requests, "_count_opened_connections", lambda session: 0)


def load_schema(base_url: str, token: str) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261207,
            "headers": {"Authorization": f"Bearer {token}"},
            "workers": 1,
            "request-timeout": 30,
            "checks": {"enabled": True},
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"max-steps": MAX_STEPS}},
            "suppress-health-check": ["all"],
            # No state carried between runs (nor files left in the work tree).
            "cache": {"enabled": False},
        }
    )
    whole = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    # The Chronary dialect (its own error body, org API keys) is held to its
    # contract by the official SDK instead: tests/integration/test_chronary_*.py.
    schema = whole.exclude(path_regex=f"^{re.escape(CHRONARY_PREFIX)}/")

    @schema.hook("map_body")
    def pin_callbacks(context: Any, body: Any) -> Any:
        operation = getattr(context, "operation", None)
        label = operation.label if operation is not None else None
        if label == "POST /v1/channels" and isinstance(body, dict):
            url = body.get("callback_url")
            # Only a valid URL is pinned: an invalid one is a negative case's point.
            if isinstance(url, str) and len(url) <= 2048 and VALID_CALLBACK.fullmatch(url):
                body["callback_url"] = SAFE_CALLBACK
        return body

    @schema.hook("filter_failure")
    def keep_unless_documented(context: Any, failure: Any, case: Any, response: Any) -> bool:
        if not isinstance(failure, RejectedPositiveData):
            return True
        return not explained_by_documented_rule(
            case.operation.label, response.status_code, response.content or b""
        )

    return schema


def describe(event: events.ScenarioFinished) -> list[str]:
    found = []
    for checks in event.recorder.checks.values():
        for check in checks:
            info = check.failure_info
            if info is None:
                continue
            failure = info.failure
            found.append(
                f"[{event.phase.value}] {event.label}: {check.name}: "
                f"{failure.title}\n{failure.message}\n{info.code_sample}"
            )
    return found


@pytest.mark.usefixtures("requests_transport_on_urllib3_future")
def test_the_schema_says_exactly_what_the_server_does(fuzz_server: ApiServer) -> None:
    with httpx.Client(base_url=fuzz_server.base_url, timeout=30) as client:
        app = create_app_calendar(client, "fuzz")
        schema = load_schema(fuzz_server.base_url, app.access_token)
        operations = {op.ok().label for op in schema.get_all_operations()}
        assert len(operations) >= 20, operations

        failures: list[str] = []
        errors: list[str] = []
        tested: set[str] = set()
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                if event.label is not None and event.status.value != "skip":
                    tested.add(event.label)
                failures.extend(describe(event))
            elif isinstance(event, events.NonFatalError):
                errors.append(f"{event.label}: {event.info.format()}")
            elif isinstance(event, events.FatalError):
                errors.append(f"fatal: {event.exception}")
        assert not errors, "\n\n".join(errors)
        assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
        # Every operation of the document was exercised, not skipped.
        assert operations <= tested, sorted(operations - tested)
        assert client.get("/healthz").status_code == 200  # still healthy after the barrage
