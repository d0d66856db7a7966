"""The availability caches never change an answer: a cached server and an uncached one
(``read_cache_mb = 0``: answer, busy and series caches all off) agree over one store,
while events (single and recurring, through the API and as a sync stores them) and
availability rules change between the questions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.model import EventContent, RemoteEvent
from tests.fixtures.api import (
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    bearer,
    create_app_calendar,
    run_api_server,
)

DAY = datetime(2031, 5, 5, tzinfo=UTC)  # a Monday
API_KEY = bearer(CLIENT_SECRET)


@pytest.fixture
def pair(store_url: str) -> Iterator[tuple[ApiServer, ApiServer, list[AppCalendar]]]:
    with (
        run_api_server(store_url) as cached,
        run_api_server(store_url, read_cache_mb=0, migrate=False) as plain,
    ):
        assert cached.services.busy_cache.max_entries > 0
        assert plain.services.busy_cache.max_entries == 0
        with httpx.Client(base_url=cached.base_url, timeout=15) as http:
            members = [create_app_calendar(http, f"member-{i}") for i in range(3)]
        yield cached, plain, members


def z(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


STEP = st.tuples(
    st.sampled_from(["api", "series", "delete", "unseries", "rule", "unrule"]),
    st.integers(0, 2),  # member
    st.integers(0, 4 * 24 * 4 - 1),  # quarter hour within 4 days
    st.integers(1, 8),  # length in quarter hours
)
QUESTIONS = [
    {"response_format": "periods", "required": "all", "duration": 30},
    {"response_format": "slots", "required": 1, "duration": 60},
    {"response_format": "overlapping_slots", "required": 2, "duration": 45},
]


def _body(members: list[AppCalendar], q: dict[str, Any], managed: bool) -> dict[str, Any]:
    return {
        "participants": [
            {
                "members": [
                    {"sub": m.sub, "managed_availability": managed and i == 0}
                    for i, m in enumerate(members)
                ],
                "required": q["required"],
            }
        ],
        "required_duration": {"minutes": q["duration"]},
        "query_periods": [
            {
                "start": z(DAY + timedelta(days=d, hours=6)),
                "end": z(DAY + timedelta(days=d, hours=20)),
            }
            for d in range(4)
        ],
        "buffer": {"before": {"minutes": 10}, "after": {"minutes": 5}},
        "response_format": q["response_format"],
        "start_interval": {"minutes": 15},
        "max_results": 100,
    }


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(STEP, min_size=1, max_size=8))
def test_cached_and_uncached_answers_agree(
    pair: tuple[ApiServer, ApiServer, list[AppCalendar]],
    steps: list[tuple[str, int, int, int]],
) -> None:
    cached, plain, members = pair
    with httpx.Client(timeout=15) as http:
        for number, (kind, who, quarter, length) in enumerate(steps):
            member = members[who]
            start = DAY + timedelta(minutes=15 * quarter)
            end = start + timedelta(minutes=15 * length)
            if kind == "api":
                response = http.post(
                    f"{cached.base_url}/v1/calendars/{member.calendar_id}/events",
                    json={
                        "event_id": f"e{quarter}",
                        "summary": "x",
                        "start": z(start),
                        "end": z(end),
                    },
                    headers=member.headers,
                )
                assert response.status_code == 202, response.text
            elif kind == "series":
                with cached.store.write() as uow:
                    account = uow.accounts.get_by_sub(member.sub)
                    calendar = uow.calendars.get(account.pk, member.calendar_id)
                    content = EventContent(
                        "s", start, end, recurrence=("RRULE:FREQ=DAILY;COUNT=3",)
                    )
                    uow.events.upsert_remote_many(
                        calendar.pk, [RemoteEvent(f"s{quarter % 3}", content)]
                    )  # a few ids, so a series is also moved (a write after the rows kept)
            elif kind == "unseries":
                with cached.store.write() as uow:
                    account = uow.accounts.get_by_sub(member.sub)
                    calendar = uow.calendars.get(account.pk, member.calendar_id)
                    uow.events.delete_remote_many(calendar.pk, [f"s{quarter % 3}"])
            elif kind == "delete":
                http.request(
                    "DELETE",
                    f"{cached.base_url}/v1/calendars/{member.calendar_id}/events",
                    json={"event_id": f"e{quarter}"},
                    headers=member.headers,
                )
            elif kind == "rule":
                hour = quarter % 20
                response = http.post(
                    f"{cached.base_url}/v1/availability_rules",
                    json={
                        "availability_rule_id": "r",
                        "tzid": "Europe/Paris",
                        "weekly_periods": [
                            {"day": d, "start_time": f"{hour:02d}:00", "end_time": "22:00"}
                            for d in ("monday", "tuesday", "wednesday", "thursday")
                        ],
                    },
                    headers=members[0].headers,
                )
                assert response.status_code == 200, response.text
            else:
                http.delete(
                    f"{cached.base_url}/v1/availability_rules/r", headers=members[0].headers
                )
            for q in QUESTIONS:
                body = _body(members, q, managed=number % 2 == 0)
                answers = [
                    http.post(f"{s.base_url}/v1/availability", json=body, headers=API_KEY)
                    for s in (cached, plain)
                ]
                assert [a.status_code for a in answers] == [200, 200], answers[0].text
                assert answers[0].json() == answers[1].json()
