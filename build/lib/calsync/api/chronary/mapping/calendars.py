"""Calendars: a calsync calendar as Chronary's ``Calendar``.

``agent_id`` is the agent that stands for the calendar's account (null for
the organization's own calendars); ``provider``/``external_id`` say where a
synced calendar comes from, and ``read_only`` is the provider's word.
"""

from __future__ import annotations

from typing import Any

from calsync.api.calendars import LOCAL_PROVIDERS, ical_url
from calsync.api.chronary.mapping import timestamp
from calsync.store.records import CalendarRecord

#: A calendar without a zone of its own (some providers list none) shows UTC.
DEFAULT_TIMEZONE = "UTC"


def calendar_json(
    calendar: CalendarRecord, *, agent_id: str | None, org_id: str, base_url: str
) -> dict[str, Any]:
    synced = calendar.provider_name not in LOCAL_PROVIDERS
    return {
        "id": calendar.calendar_id,
        "object": "calendar",
        "org_id": org_id,
        "name": calendar.name,
        "timezone": calendar.timezone or DEFAULT_TIMEZONE,
        "agent_id": agent_id,
        "metadata": calendar.metadata or {},
        "ical_url": ical_url(calendar, base_url),
        "external_id": calendar.remote_id if synced else None,
        "provider": calendar.provider_name if synced else None,
        "read_only": calendar.readonly,
        "deleted_at": None,
        "created_at": timestamp(calendar.created_at),
        "updated_at": timestamp(calendar.updated_at),
    }
