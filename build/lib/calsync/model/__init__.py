"""The unified calendar model: plain dataclasses shared by providers, sync, store and API.

Nothing here knows about SQL, HTTP or any provider. Times are either aware UTC
``datetime`` instants or, for all-day events, ``date`` values (end exclusive).
"""

from calsync.model.calendars import RemoteCalendar
from calsync.model.events import (
    Attendee,
    EventContent,
    EventTime,
    Location,
    RemoteEvent,
    content_fingerprint,
    round_trip_key,
    round_trip_view,
)

__all__ = [
    "Attendee",
    "EventContent",
    "EventTime",
    "Location",
    "RemoteCalendar",
    "RemoteEvent",
    "content_fingerprint",
    "round_trip_key",
    "round_trip_view",
]
