"""The README's API examples, run as written against a real server.

The pycronofy snippet and the recurring event body are taken out of README.md
(the first code block after their headings), so the documentation cannot drift
from what calsync answers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.api import CLIENT_ID, CLIENT_SECRET, ApiServer, AppCalendar, bearer, get

README = Path(__file__).resolve().parents[2] / "README.md"


def code_block(heading: str, language: str) -> str:
    """The first ``language`` fenced block after the line ``heading``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    match = re.compile(rf"^```{language}\n(.*?)^```$", re.MULTILINE | re.DOTALL).search(text, start)
    assert match, f"no ```{language} block after {heading!r} in README.md"
    return match.group(1)


def test_pycronofy_snippet_talks_to_calsync(
    api_server: ApiServer, app_calendar: AppCalendar
) -> None:
    snippet = code_block("## Using pycronofy (or another Cronofy client)", "python")
    scope: dict[str, Any] = {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "ACCESS_TOKEN": app_calendar.access_token,
        "REFRESH_TOKEN": app_calendar.refresh_token,
        "CALSYNC_URL": api_server.base_url,
    }
    exec(compile(snippet, "README.md", "exec"), scope)  # noqa: S102 - our own README
    client = scope["client"]
    assert [c["calendar_id"] for c in scope["calendars"]] == [app_calendar.calendar_id]
    # refresh_authorization went to calsync's /oauth/token: a new working access token
    # and the same refresh token.
    assert client.auth.access_token != app_calendar.access_token
    assert client.auth.refresh_token == app_calendar.refresh_token
    assert [c["calendar_id"] for c in client.list_calendars()] == [app_calendar.calendar_id]


def occurrences(http: httpx.Client, token: str) -> list[dict[str, Any]]:
    response = get(
        http,
        "/v1/events",
        token,
        params={
            "from": "2026-03-01",
            "to": "2026-03-20",
            "tzid": "Europe/Berlin",
            "include_managed": "true",  # events written through the API, as in Cronofy
        },
    )
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def test_recurring_event_example_gives_the_documented_occurrences(
    http: httpx.Client, app_calendar: AppCalendar
) -> None:
    body = json.loads(code_block("### Recurring events", "json"))
    path = f"/v1/calendars/{app_calendar.calendar_id}/events"
    answer = http.post(path, json=body, headers=app_calendar.headers)
    assert answer.status_code == 202, answer.text

    events = occurrences(http, app_calendar.access_token)
    # "five (2, 6, 9, 11 and 13 March, 09:00 Berlin time)", each marked recurring.
    assert [e["start"] for e in events] == [
        f"2026-03-{day:02d}T08:00:00Z" for day in (2, 6, 9, 11, 13)
    ]
    assert all(e["recurring"] is True and e["event_id"] == "standup" for e in events)

    # "an update without `recurrence` makes the event a single one again".
    single = {k: v for k, v in body.items() if k != "recurrence"}
    answer = http.post(path, json=single, headers=bearer(app_calendar.access_token))
    assert answer.status_code == 202, answer.text
    (event,) = occurrences(http, app_calendar.access_token)
    assert event["start"] == "2026-03-02T08:00:00Z" and not event.get("recurring")
