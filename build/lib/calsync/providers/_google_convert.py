"""Google Calendar event JSON <-> the unified model.

Reading decisions (the engine and the read API rely on them):

- ``start.date`` makes an all-day event (``date`` start, exclusive ``date`` end).
- ``start.dateTime`` (RFC 3339 with an offset) becomes an aware UTC instant;
  ``content.tzid`` is ``start.timeZone``, else the calendar's zone from the list
  response, else ``Etc/UTC``.
- ``recurrence[]`` lines are kept verbatim (Google stores them without DTSTART).
- An instance (``recurringEventId``) carries ``original_start`` from
  ``originalStartTime`` and ``master_remote_id`` = ``recurringEventId``.
- A *cancelled instance* carries only ``id, recurringEventId, originalStartTime``:
  it becomes an override with ``status="cancelled"`` whose start and end are the
  original start (the EXDATE equivalent; the read API filters cancelled overrides).
- Any other cancelled event is a deletion, reported by id only.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.errors import ProviderError
from calsync.model import Attendee, EventContent, Location, RemoteEvent

#: extendedProperties.private key marking events calsync pushed.
ORIGIN_KEY = "calsync_event_uid"

_RESPONSE_TO_STATUS = {
    "needsAction": "needs_action",
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "tentative",
}
_STATUS_TO_RESPONSE = {v: k for k, v in _RESPONSE_TO_STATUS.items()}
_BASE32HEX = str.maketrans("ABCDEFGHIJKLMNOPQRSTUV", "abcdefghijklmnopqrstuv")


def event_id_for(event_uid: str) -> str:
    """A deterministic Google event id for our ``event_uid``.

    base32hex (``a-v0-9``) of SHA-256: 52 characters, inside Google's 5-1024
    limit whatever the uid looks like, and the same on every retry, so a
    repeated insert is answered by 409 instead of creating a duplicate.
    """
    digest = hashlib.sha256(event_uid.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").rstrip("=").translate(_BASE32HEX)


def instance_id(master_id: str, original_start: date | datetime) -> str:
    """Google's id of one occurrence: ``{master}_{YYYYMMDDTHHMMSSZ}`` (or ``_{YYYYMMDD}``)."""
    if isinstance(original_start, datetime):
        return f"{master_id}_{to_utc(original_start).strftime('%Y%m%dT%H%M%SZ')}"
    return f"{master_id}_{original_start.strftime('%Y%m%d')}"


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_rfc3339(text: str) -> datetime:
    try:
        return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise ProviderError(f"Google sent an invalid timestamp {text!r}") from exc


def _parse_time(value: Any) -> date | datetime:
    if not isinstance(value, dict):
        raise ProviderError(f"Google sent an invalid event time {value!r}")
    if isinstance(value.get("dateTime"), str):
        return parse_rfc3339(value["dateTime"])
    if isinstance(value.get("date"), str):
        try:
            return date.fromisoformat(value["date"])
        except ValueError as exc:
            raise ProviderError(f"Google sent an invalid date {value['date']!r}") from exc
    raise ProviderError(f"Google sent an event time without date or dateTime: {value!r}")


def _person(value: Any) -> Attendee:
    return Attendee(
        email=str(value.get("email", "")),
        display_name=value.get("displayName"),
        status=_RESPONSE_TO_STATUS.get(value.get("responseStatus", ""), "needs_action"),
    )


def is_deletion(item: dict[str, Any]) -> bool:
    """A cancelled event that is not an instance of a series: gone."""
    return item.get("status") == "cancelled" and not item.get("recurringEventId")


def to_remote_event(item: dict[str, Any], calendar_zone: str | None) -> RemoteEvent:
    """One ``events#event`` (not a deletion) as a `RemoteEvent`."""
    remote_id = item.get("id")
    if not isinstance(remote_id, str) or not remote_id:
        raise ProviderError(f"Google sent an event without id: {item!r}")
    master = item.get("recurringEventId")
    original = _parse_time(item["originalStartTime"]) if "originalStartTime" in item else None
    if item.get("status") == "cancelled":
        if original is None:
            raise ProviderError(f"cancelled instance {remote_id!r} has no originalStartTime")
        content = EventContent(
            summary="", start=original, end=original, status="cancelled", original_start=original
        )
    else:
        content = _content(item, original, calendar_zone)
    private = (item.get("extendedProperties") or {}).get("private") or {}
    updated = item.get("updated")
    return RemoteEvent(
        remote_id=remote_id,
        content=content,
        ical_uid=item.get("iCalUID"),
        etag=item.get("etag"),
        remote_updated=parse_rfc3339(updated) if isinstance(updated, str) else None,
        master_remote_id=master if isinstance(master, str) else None,
        origin_event_uid=private.get(ORIGIN_KEY),
    )


def _content(
    item: dict[str, Any], original: date | datetime | None, calendar_zone: str | None
) -> EventContent:
    start = _parse_time(item.get("start"))
    end = _parse_time(item.get("end"))
    zone = (item.get("start") or {}).get("timeZone") or calendar_zone or "Etc/UTC"
    location = item.get("location")
    organizer = item.get("organizer")
    status = item.get("status", "confirmed")
    return EventContent(
        summary=item.get("summary", ""),
        start=start,
        end=end,
        tzid="Etc/UTC" if isinstance(start, date) and not isinstance(start, datetime) else zone,
        description=item.get("description", ""),
        location=Location(description=location) if location else None,
        attendees=tuple(_person(a) for a in item.get("attendees", ())),
        organizer=_person(organizer) if isinstance(organizer, dict) else None,
        transparency="transparent" if item.get("transparency") == "transparent" else "opaque",
        status=status if status in ("confirmed", "tentative") else "confirmed",
        recurrence=tuple(item.get("recurrence", ())),
        original_start=original,
        url=(item.get("source") or {}).get("url"),
        private=item.get("visibility") in ("private", "confidential"),
    )


# -- writing ----------------------------------------------------------------------


def _zone(tzid: str) -> ZoneInfo:
    try:
        return ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Etc/UTC")


def _time_body(value: date | datetime, tzid: str) -> dict[str, str]:
    if isinstance(value, datetime):
        zone = _zone(tzid)
        # Written in the event's zone so a recurrence repeats in local time.
        return {"dateTime": to_utc(value).astimezone(zone).isoformat(), "timeZone": zone.key}
    return {"date": value.isoformat()}


def to_body(content: EventContent, *, origin_event_uid: str | None) -> dict[str, Any]:
    """The fields we own, for insert or patch. Absent optional fields are cleared on patch."""
    body: dict[str, Any] = {
        "summary": content.summary,
        "description": content.description,
        "location": content.location.description if content.location else "",
        "start": _time_body(content.start, content.tzid),
        "end": _time_body(content.end, content.tzid),
        "transparency": content.transparency,
        "status": content.status,
        "visibility": "private" if content.private else "default",
        "attendees": [
            {
                "email": a.email,
                **({"displayName": a.display_name} if a.display_name else {}),
                "responseStatus": _STATUS_TO_RESPONSE.get(a.status, "needsAction"),
            }
            for a in content.attendees
        ],
    }
    if content.recurrence:
        body["recurrence"] = list(content.recurrence)
    if content.url:
        body["source"] = {"url": content.url, "title": content.summary or content.url}
    if origin_event_uid is not None:
        body["extendedProperties"] = {"private": {ORIGIN_KEY: origin_event_uid}}
    return body


def rfc3339(value: date | datetime) -> str:
    """``originalStart`` for events.instances: an instant, or midnight UTC of a date."""
    if isinstance(value, datetime):
        return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{value.isoformat()}T00:00:00Z"
