"""Google event JSON <-> model, deterministic ids, and HTTP error classification."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import httplib2  # type: ignore[import-untyped]
from googleapiclient.errors import HttpError
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import (
    CredentialsInvalid,
    PreconditionFailed,
    RateLimited,
    TransientProviderError,
)
from calsync.model import Attendee, EventContent, Location
from calsync.providers._google_convert import (
    event_id_for,
    instance_id,
    is_deletion,
    to_body,
    to_remote_event,
)
from calsync.providers._google_http import ApiError, classify

GOOGLE_ID = re.compile(r"^[a-v0-9]{5,1024}$")


@given(st.text(min_size=1, max_size=200))
def test_event_ids_are_valid_base32hex_and_deterministic(uid: str) -> None:
    first = event_id_for(uid)
    assert GOOGLE_ID.match(first)
    assert event_id_for(uid) == first


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_distinct_uids_get_distinct_ids(a: str, b: str) -> None:
    assert (event_id_for(a) == event_id_for(b)) == (a == b)


instants = st.integers(0, 60 * 24 * 365).map(
    lambda m: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=m)
)


@st.composite
def contents(draw: st.DrawFn) -> EventContent:
    all_day = draw(st.booleans())
    text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
    if all_day:
        first = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 400)))
        start: date | datetime = first
        end: date | datetime = first + timedelta(days=draw(st.integers(1, 5)))
        tzid = "Etc/UTC"
    else:
        start = draw(instants)
        end = start + timedelta(minutes=draw(st.integers(0, 600)))
        tzid = draw(st.sampled_from(["Etc/UTC", "Europe/Berlin", "America/New_York"]))
    return EventContent(
        summary=draw(text),
        start=start,
        end=end,
        tzid=tzid,
        description=draw(text),
        location=draw(st.none() | text.filter(bool).map(lambda t: Location(description=t))),
        attendees=tuple(
            Attendee(email=f"p{n}@example.com", status=s)
            for n, s in enumerate(
                draw(
                    st.lists(
                        st.sampled_from(["needs_action", "accepted", "declined", "tentative"]),
                        max_size=3,
                    )
                )
            )
        ),
        transparency=draw(st.sampled_from(["opaque", "transparent"])),
        status=draw(st.sampled_from(["confirmed", "tentative"])),
        recurrence=draw(st.sampled_from([(), ("RRULE:FREQ=WEEKLY;COUNT=3",)])),
        private=draw(st.booleans()),
        url=draw(st.none() | st.just("https://example.com/e")),
    )


@given(contents())
def test_body_and_back_keeps_the_content(content: EventContent) -> None:
    body = json.loads(json.dumps(to_body(content, origin_event_uid="evt_x")))
    event = to_remote_event({**body, "id": "abcde", "etag": '"1"'}, "Europe/Paris")
    assert event.content == content
    assert event.origin_event_uid == "evt_x"


def test_cancelled_instance_is_a_cancelled_override_and_not_a_deletion() -> None:
    item = {
        "id": "master_20261207T090000Z",
        "status": "cancelled",
        "recurringEventId": "master",
        "originalStartTime": {"dateTime": "2026-12-07T10:00:00+01:00"},
    }
    assert not is_deletion(item)
    event = to_remote_event(item, None)
    assert event.master_remote_id == "master"
    assert event.content.status == "cancelled"
    assert event.content.original_start == datetime(2026, 12, 7, 9, tzinfo=UTC)
    assert is_deletion({"id": "single", "status": "cancelled"})


def test_event_without_zone_takes_the_calendar_zone() -> None:
    item = {
        "id": "abcde",
        "start": {"dateTime": "2026-12-07T10:00:00+01:00"},
        "end": {"dateTime": "2026-12-07T11:00:00+01:00"},
    }
    assert to_remote_event(item, "Europe/Berlin").content.tzid == "Europe/Berlin"
    assert to_remote_event(item, None).content.tzid == "Etc/UTC"


def test_instance_ids_follow_googles_shape() -> None:
    assert instance_id("abc", datetime(2026, 3, 1, 15, tzinfo=UTC)) == "abc_20260301T150000Z"
    assert instance_id("abc", date(2026, 3, 1)) == "abc_20260301"


def _http_error(status: int, reason: str, domain: str = "global", **headers: str) -> HttpError:
    body = {
        "error": {
            "errors": [{"domain": domain, "reason": reason, "message": reason}],
            "code": status,
            "message": reason,
        }
    }
    response = httplib2.Response({"status": str(status), **headers})
    return HttpError(response, json.dumps(body).encode(), uri="http://127.0.0.1/x")


def test_classify_maps_statuses_and_reasons() -> None:
    limited = classify(
        _http_error(403, "userRateLimitExceeded", "usageLimits", **{"retry-after": "12"}), "op"
    )
    assert isinstance(limited, RateLimited) and limited.retry_after == 12.0
    assert isinstance(classify(_http_error(429, "rateLimitExceeded"), "op"), RateLimited)
    assert isinstance(classify(_http_error(401, "authError"), "op"), CredentialsInvalid)
    assert isinstance(classify(_http_error(412, "conditionNotMet"), "op"), PreconditionFailed)
    assert isinstance(classify(_http_error(502, "backendError"), "op"), TransientProviderError)
    forbidden = classify(_http_error(403, "forbiddenForNonOrganizer"), "op")
    assert isinstance(forbidden, ApiError) and forbidden.status == 403
    assert forbidden.reasons == ("forbiddenForNonOrganizer",)
