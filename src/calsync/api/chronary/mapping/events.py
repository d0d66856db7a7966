"""Events: Chronary's fields onto the shared event body, and stored events back out.

In: a Chronary body becomes the body the Cronofy upsert takes (``summary``,
``start``/``end`` with the calendar's zone, ``recurrence`` lines), which the
shared parser (`calsync.api.params.parse_event_body`) validates; a PATCH is
the stored event's body with the given fields replaced.

* ``recurrence_rule`` is an RRULE value without its name: ``RRULE:`` + it;
  ``recurrence_exdates`` become ``EXDATE`` lines (UTC, or dates for all-day).
* ``all_day`` events take the date part of ``start_time``/``end_time``; an end
  with a time of day other than midnight is inclusive, so it becomes the next day.
* Timed events are written in the calendar's zone, so a rule repeats in its
  local time (a weekly 09:00 stays 09:00 across a DST change).

Out: ``source`` is ``internal`` for events written through either API
(calsync manages them) and ``external_ical`` for events synced from a
provider or a feed. All-day boundaries come out as midnight UTC of their date.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from calsync.api.chronary.mapping import timestamp
from calsync.api.expand import recurrence_properties
from calsync.model import EventContent
from calsync.model.events import EventTime
from calsync.store.records import EventRecord
from calsync.store.repos.chronary import EventExtras

UTC_ZONE = "Etc/UTC"


def new_event_id() -> str:
    """The app-side id (Cronofy's ``event_id``) of an event created through this dialect."""
    return f"chronary_{secrets.token_urlsafe(12)}"


def _boundary(value: object, all_day: bool, tzid: str, *, end: bool) -> object:
    if not isinstance(value, str) or not all_day:
        return {"time": value, "tzid": tzid} if isinstance(value, str) else value
    day_text = value[:10]
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        return value  # the shared parser reports it
    clock = value[10:].lstrip("Tt ").rstrip("Zz")
    if end and clock and clock.split("+")[0].split("-")[0] not in ("00:00", "00:00:00"):
        day += timedelta(days=1)
    return day.isoformat()


def _time_text(value: EventTime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return datetime.combine(value, datetime.min.time(), UTC).isoformat().replace("+00:00", "Z")


def exdate_line(value: EventTime) -> str:
    if isinstance(value, datetime):
        return "EXDATE:" + value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return "EXDATE;VALUE=DATE:" + value.strftime("%Y%m%d")


def recurrence_rule(content: EventContent) -> str | None:
    for line in content.recurrence:
        name, _, value = line.partition(":")
        if name.upper().split(";")[0] == "RRULE":
            return value
    return None


def recurrence_exdates(content: EventContent) -> list[str]:
    lines = [line for line in content.recurrence if line.upper().startswith("EXDATE")]
    if not lines:
        return []
    found: list[str] = []
    try:
        properties = recurrence_properties([*lines, "RRULE:FREQ=DAILY"])
    except (ValueError, TypeError, KeyError, IndexError):
        return []
    for name, value in properties:
        if name != "EXDATE":
            continue
        for entry in value if isinstance(value, list) else [value]:
            for item in entry.dts:
                moment = item.dt
                if isinstance(moment, datetime) and moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                found.append(
                    moment.isoformat() if not isinstance(moment, datetime) else _time_text(moment)
                )
    return found


def _other_lines(content: EventContent) -> list[str]:
    """Recurrence lines this dialect does not edit (RDATE), kept as they are."""
    return [line for line in content.recurrence if line.upper().startswith("RDATE")]


def recurrence_lines(rule: str | None, exdates: list[str], kept: list[str]) -> list[str] | None:
    if rule is None:
        return None
    return [f"RRULE:{rule.removeprefix('RRULE:')}", *kept, *exdates]


def stored_body(record: EventRecord) -> dict[str, Any]:
    """The stored event as the Cronofy upsert body that would write it again."""
    content = record.content
    body: dict[str, Any] = {
        "event_id": record.event_id,
        "summary": content.summary,
        "description": content.description,
        "tzid": content.tzid,
        "start": content.start.isoformat()
        if content.all_day
        else {"time": _time_text(content.start), "tzid": content.tzid},
        "end": content.end.isoformat()
        if content.all_day
        else {"time": _time_text(content.end), "tzid": content.tzid},
        "transparency": content.transparency,
        "url": content.url,
        "color": content.color,
    }
    if content.location is not None:
        body["location"] = {
            "description": content.location.description,
            "lat": content.location.lat,
            "long": content.location.long,
        }
    if content.recurrence:
        body["recurrence"] = list(content.recurrence)
    return body


def upsert_body(
    fields: dict[str, Any], calendar_tzid: str | None, stored: EventRecord | None
) -> dict[str, Any]:
    """The Cronofy upsert body for a create (``stored`` None) or a PATCH's ``fields``."""
    body: dict[str, Any] = (
        stored_body(stored) if stored is not None else {"event_id": new_event_id()}
    )
    content = stored.content if stored is not None else None
    all_day = bool(fields.get("all_day", content.all_day if content else False))
    tzid = calendar_tzid or (content.tzid if content else None) or UTC_ZONE
    if content is not None and not content.all_day:
        tzid = content.tzid
    if "title" in fields:
        body["summary"] = fields["title"]
    if "description" in fields:
        body["description"] = fields["description"] or ""
    for name, key in (("start_time", "start"), ("end_time", "end")):
        if name in fields:
            body[key] = _boundary(fields[name], all_day, tzid, end=key == "end")
        elif content is not None and "all_day" in fields and all_day != content.all_day:
            stored_value = content.start if key == "start" else content.end
            body[key] = _boundary(_time_text(stored_value), all_day, tzid, end=False)
    body["tzid"] = tzid
    if "recurrence_rule" in fields or "recurrence_exdates" in fields:
        rule = fields.get("recurrence_rule", recurrence_rule(content) if content else None)
        exdate_values = fields.get("recurrence_exdates")
        if exdate_values is None:
            kept_exdates = [
                line
                for line in (content.recurrence if content else ())
                if line.upper().startswith("EXDATE")
            ]
        else:
            kept_exdates = [exdate_line_of(v) for v in exdate_values]
        lines = recurrence_lines(rule, kept_exdates, _other_lines(content) if content else [])
        if lines is None:
            body.pop("recurrence", None)
        else:
            body["recurrence"] = lines
    return body


def exdate_line_of(value: str) -> str:
    """An ISO instant (``2026-01-15T09:00:00Z``) or date (``2026-01-15``) as an EXDATE
    line; anything else as given (the shared recurrence check then refuses it)."""
    if len(value) == 10:
        try:
            return exdate_line(date.fromisoformat(value))
        except ValueError:
            return f"EXDATE:{value}"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return f"EXDATE:{value}"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return exdate_line(moment)


def event_json(
    record: EventRecord,
    extras: EventExtras | None,
    *,
    content: EventContent | None = None,
    start: EventTime | None = None,
    end: EventTime | None = None,
    instance_of: str | None = None,
    original_start: EventTime | None = None,
    instance_id: str | None = None,
) -> dict[str, Any]:
    """One event; with ``instance_of`` one expanded occurrence of that series."""
    content = content or record.content
    updated = record.updated if extras is None else max(record.updated, extras.updated_at)
    return {
        "id": instance_id or record.event_uid,
        "object": "event",
        "calendar_id": record.calendar_id,
        "title": content.summary,
        "description": content.description or None,
        "start_time": _time_text(start if start is not None else content.start),
        "end_time": _time_text(end if end is not None else content.end),
        "all_day": content.all_day,
        "status": content.status,
        "source": "internal" if record.managed else "external_ical",
        "metadata": extras.metadata if extras is not None else {},
        "reminders": extras.reminders if extras is not None else None,
        "recurrence_rule": None if instance_of else recurrence_rule(content),
        "recurrence_exdates": [] if instance_of else recurrence_exdates(content),
        "recurring_event_id": instance_of,
        "original_start_time": _time_text(original_start) if original_start is not None else None,
        "hold_expires_at": None,
        "hold_priority": None,
        "created_at": timestamp(record.created),
        "updated_at": timestamp(updated),
    }
