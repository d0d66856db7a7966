"""`content_fingerprint`: equal content, equal print; any content change, a new print."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from calsync.model import Attendee, EventContent, Location, RemoteEvent, content_fingerprint
from calsync.model.events import ATTENDEE_STATUSES, STATUSES, TRANSPARENCIES

texts = st.text(max_size=12)
optional_texts = st.none() | texts
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1))
attendees = st.builds(
    Attendee, email=texts, display_name=optional_texts, status=st.sampled_from(ATTENDEE_STATUSES)
)
locations = st.builds(Location, description=optional_texts, lat=optional_texts, long=optional_texts)

#: A strategy for every field of EventContent, so a test can swap any one of them.
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "summary": texts,
    "start": instants | days,
    "end": instants | days,
    "tzid": st.sampled_from(["Etc/UTC", "Europe/Berlin", "America/New_York"]),
    "description": texts,
    "location": st.none() | locations,
    "attendees": st.lists(attendees, max_size=3).map(tuple),
    "organizer": st.none() | attendees,
    "transparency": st.sampled_from(TRANSPARENCIES),
    "status": st.sampled_from(STATUSES),
    "recurrence": st.lists(
        st.sampled_from(
            ["RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY;COUNT=3", "EXDATE:20300101T000000Z"]
        ),
        max_size=2,
    ).map(tuple),
    "original_start": st.none() | instants | days,
    "url": optional_texts,
    "color": optional_texts,
    "private": st.booleans(),
    "recurrence_id": st.none()
    | st.sampled_from(
        ["RECURRENCE-ID;RANGE=THISANDFUTURE:20300101T000000Z", "RECURRENCE-ID:20300101T090000"]
    ),
}

contents = st.builds(EventContent, **FIELD_VALUES)


def test_every_field_has_a_strategy() -> None:
    # A field added to EventContent must be added here too, or the
    # "any field change" property silently stops covering it.
    assert {f.name for f in dataclasses.fields(EventContent)} == set(FIELD_VALUES)


@given(contents)
def test_equal_content_gives_an_equal_fingerprint(content: EventContent) -> None:
    rebuilt = EventContent(
        **{f.name: getattr(content, f.name) for f in dataclasses.fields(content)}
    )
    assert rebuilt == content
    assert content_fingerprint(rebuilt) == content_fingerprint(content)
    assert content.fingerprint() == content_fingerprint(content)


@given(contents, st.data())
def test_changing_any_field_changes_the_fingerprint(
    content: EventContent, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(FIELD_VALUES)), label="field")
    value = data.draw(FIELD_VALUES[name], label="value")
    assume(value != getattr(content, name))
    changed = dataclasses.replace(content, **{name: value})
    assert content_fingerprint(changed) != content_fingerprint(content)


@given(contents, instants)
def test_a_date_and_a_midnight_instant_are_different_content(
    content: EventContent, instant: datetime
) -> None:
    midnight = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    as_date = dataclasses.replace(content, start=midnight.date())
    as_instant = dataclasses.replace(content, start=midnight)
    assert content_fingerprint(as_date) != content_fingerprint(as_instant)


@given(contents, texts, texts, optional_texts, optional_texts, st.none() | instants)
def test_remote_identity_does_not_affect_the_fingerprint(
    content: EventContent,
    remote_a: str,
    remote_b: str,
    etag_a: str | None,
    etag_b: str | None,
    updated: datetime | None,
) -> None:
    a = RemoteEvent(remote_id=remote_a, content=content, etag=etag_a, origin_event_uid="evt_1")
    b = RemoteEvent(
        remote_id=remote_b,
        content=dataclasses.replace(content),
        etag=etag_b,
        ical_uid="other@example",
        remote_updated=updated,
        master_remote_id=remote_a,
    )
    assert content_fingerprint(a.content) == content_fingerprint(b.content)


def test_fingerprint_is_pinned() -> None:
    # Fingerprints are stored; a change to the canonical form silently turns
    # every stored event into "changed", so it must be a deliberate, migrated
    # change. This digest pins the form (and proves it ignores hash seeds).
    start = datetime(2030, 5, 1, 9, tzinfo=UTC)
    content = EventContent(summary="Standup", start=start, end=start + timedelta(minutes=15))
    assert content_fingerprint(content) == (
        "bda6646af9844bcb7800d47d8cdb5b8bf5d85be1b162230d2d38b8573d79ea3d"
    )


@given(contents)
def test_all_day_follows_the_type_of_start(content: EventContent) -> None:
    assert content.all_day is (not isinstance(content.start, datetime))
    assert content.recurring is bool(content.recurrence)


def test_fingerprints_stored_before_recurrence_id_existed_stay_valid() -> None:
    # Pinned from the code before `recurrence_id` was added: rows already in a
    # store must not all look changed to the next sync.
    series = EventContent(
        summary="Standup ",
        start=datetime(2026, 3, 2, 14, tzinfo=UTC),
        end=datetime(2026, 3, 2, 15, tzinfo=UTC),
        tzid="America/New_York",
        description="d",
        location=Location("room", "1.5", "2"),
        attendees=(Attendee("a@x", "A", "accepted"),),
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=6",),
    )
    override = EventContent(
        summary="moved",
        start=date(2026, 3, 3),
        end=date(2026, 3, 4),
        original_start=date(2026, 3, 2),
        status="cancelled",
    )
    assert series.fingerprint() == (
        "54b3545683da03a8c341274e1ec549575b09270817230f5d1c604851fe57badf"
    )
    assert override.fingerprint() == (
        "12a9df07b372639b1405f111b517bdd5ba57830e2d801a76a24d67e7d1f2aebb"
    )
    ranged = dataclasses.replace(
        override, recurrence_id="RECURRENCE-ID;RANGE=THISANDFUTURE;VALUE=DATE:20260302"
    )
    assert ranged.fingerprint() != override.fingerprint()
