"""The fake Graph server's delta pages are serialised instance by instance
(`render_instance_json`, the shared part of each stored item cached as JSON): they must
be the very objects `render_instance` renders, for every kind of instance and every
request option, and a write must show in the next rendering (a new item, a new cache
entry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes._graph_render import (
    RenderCache,
    RenderOptions,
    render_instance,
    render_instance_json,
)
from tests.fakes._graph_store import Instance, item_instances
from tests.fakes.microsoft_graph import MicrosoftGraphFake

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = (START - timedelta(days=7), START + timedelta(days=60))
MARKER = "String {00020329-0000-0000-C000-000000000046} Name calsync_event_uid"


def _when(moment: datetime, zone: str = "W. Europe Standard Time") -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone}


def _populate(fake: MicrosoftGraphFake) -> str:
    cal = fake.default_calendar_id
    fake.put_event(
        cal,
        {
            "subject": 'Quotes " and \\ and ünïcode ☃',
            "body": {"contentType": "html", "content": "<p>Hi &amp; bye</p>"},
            "location": {"displayName": "Room 1"},
            "attendees": [{"emailAddress": {"address": "a@example.com", "name": "A"}}],
            "start": _when(START),
            "end": _when(START + timedelta(hours=1)),
            "transactionId": "calsync:uid-1",
            "singleValueExtendedProperties": [{"id": MARKER, "value": "uid-1"}],
        },
    )
    fake.put_event(
        cal,
        {
            "subject": "All day",
            "isAllDay": True,
            "start": {"dateTime": "2026-03-03T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-04T00:00:00", "timeZone": "UTC"},
        },
    )
    return fake.put_event(
        cal,
        {
            "subject": "Weekly",
            "start": _when(START, "Pacific Standard Time"),
            "end": _when(START + timedelta(minutes=30), "Pacific Standard Time"),
            "transactionId": "calsync:uid-2",
            "recurrence": {
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": ["monday"],
                    "firstDayOfWeek": "sunday",
                },
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 6},
            },
        },
    )


def _instances(fake: MicrosoftGraphFake) -> list[Instance]:
    cal = fake.calendars[fake.default_calendar_id]
    return [i for item in cal.items.values() for i in item_instances(item, *WINDOW)]


def _both(
    fake: MicrosoftGraphFake, instance: Instance, options: RenderOptions, cache: RenderCache
) -> tuple[dict[str, Any], dict[str, Any]]:
    organizer = fake._organizer()
    expected = render_instance(instance, options, organizer)
    return expected, json.loads(render_instance_json(instance, options, organizer, cache))


def test_bytes_are_the_rendered_objects_for_every_kind_and_option() -> None:
    fake = MicrosoftGraphFake()
    master_id = _populate(fake)
    occurrences = [i for i in _instances(fake) if i.type == "occurrence"]
    fake.patch_event(occurrences[1].id, {"subject": "Moved one"})  # -> an exception
    fake.delete_event(occurrences[2].id)  # cancelled: no instance any more
    fake.cancel_for_attendee(occurrences[3].id)  # an isCancelled exception
    instances = _instances(fake)
    assert {i.type for i in instances} == {"singleInstance", "occurrence", "exception"}
    assert sum(i.type == "exception" for i in instances) == 2
    assert all(i.top_id == master_id for i in instances if i.type != "singleInstance")
    marker = frozenset(
        {("string", "00020329-0000-0000-c000-000000000046", "name", "calsync_event_uid")}
    )
    for options in (
        RenderOptions(zone_name="UTC", text_body=True),
        RenderOptions(),
        RenderOptions(zone_name="Tokyo Standard Time", expand=marker),
        RenderOptions(zone_name="UTC", select=frozenset({"subject", "start"})),
    ):
        cache: RenderCache = {}
        for _ in range(2):  # the second pass serves the shared parts from the cache
            for instance in instances:
                expected, got = _both(fake, instance, options, cache)
                assert got == expected


def test_a_write_shows_in_the_next_rendering() -> None:
    fake = MicrosoftGraphFake()
    master_id = _populate(fake)
    options = RenderOptions(zone_name="UTC", text_body=True)
    cache: RenderCache = {}
    before = [i for i in _instances(fake) if i.top_id == master_id]
    for instance in before:
        assert _both(fake, instance, options, cache)[1]["subject"] == "Weekly"
    fake.patch_event(master_id, {"subject": "Renamed"})
    after = [i for i in _instances(fake) if i.top_id == master_id]
    assert len(after) == len(before) == 6
    for instance in after:
        expected, got = _both(fake, instance, options, cache)
        assert got == expected
        assert got["subject"] == "Renamed"
