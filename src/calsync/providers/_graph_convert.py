"""Microsoft Graph event JSON <-> the unified model.

Reading (every request sends ``Prefer: outlook.timezone="UTC"`` and
``outlook.body-content-type="text"``):

- ``start``/``end`` are ``dateTimeTimeZone`` values; whatever zone labels them,
  they become aware UTC instants. All-day events (``isAllDay``) are floating
  midnights: their dates are kept (end exclusive, as Graph's is).
- ``content.tzid`` is ``originalStartTimeZone``: a Windows zone name mapped to
  IANA through icalendar's CLDR table (``WINDOWS_TO_OLSON``), or an IANA name Graph
  accepted as is; ``Etc/UTC`` when neither.
- ``showAs``: ``free`` is transparent, ``tentative`` a tentative busy event, the
  rest busy. Graph has one field for both, so a *free and tentative* event is
  written as free and reads back confirmed (the one lossy mapping; see README).
- ``sensitivity`` private/confidential -> ``private``.
- A series master's ``recurrence`` becomes an RRULE (`_graph_recurrence`); an
  exception carries ``original_start`` from ``originalStart`` and the master's id.
- ``transactionId`` ``calsync:<event uid>`` (and the extended property, where the
  response has it) marks events calsync created: `RemoteEvent.origin_event_uid`.

Writing never sends attendees: Graph mails an invitation to every attendee of an
event it stores, which a sync must never cause.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsync.errors import ProviderError
from calsync.model import Attendee, EventContent, Location, RemoteEvent
from calsync.providers._graph_recurrence import from_graph, to_graph

#: The named property marking events calsync pushed (PS_PUBLIC_STRINGS).
MARKER_PROPERTY = "String {00020329-0000-0000-C000-000000000046} Name calsync_event_uid"
TRANSACTION_PREFIX = "calsync:"
_OLSON_TO_WINDOWS = {olson: windows for windows, olson in WINDOWS_TO_OLSON.items()}
_RESPONSES = {
    "accepted": "accepted",
    "declined": "declined",
    "tentativelyAccepted": "tentative",
    "organizer": "accepted",
    "none": "needs_action",
    "notResponded": "needs_action",
}


# -- zones ----------------------------------------------------------------------------


def iana_name(graph_zone: str | None) -> str | None:
    """The IANA name of a zone Graph names (Windows or IANA); None when unknown."""
    if not graph_zone:
        return None
    mapped = WINDOWS_TO_OLSON.get(graph_zone)
    if mapped is not None:
        return str(mapped)
    try:
        ZoneInfo(graph_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return graph_zone


def zone_of(graph_zone: str | None) -> ZoneInfo:
    return ZoneInfo(iana_name(graph_zone) or "Etc/UTC")


def graph_zone_name(tzid: str) -> str:
    """What to send as ``timeZone``: the Windows name where CLDR has one, else the IANA name."""
    return str(_OLSON_TO_WINDOWS.get(tzid, tzid))


def _safe_zone(tzid: str) -> ZoneInfo:
    try:
        return ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Etc/UTC")


def _local(value: Any) -> tuple[datetime, str]:
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise ProviderError(f"Graph sent an invalid dateTimeTimeZone {value!r}")
    text = value["dateTime"].rstrip("Z")
    head, dot, fraction = text.partition(".")
    try:
        local = datetime.fromisoformat(head + (dot + fraction[:6] if dot else ""))
    except ValueError as exc:
        raise ProviderError(f"Graph sent an invalid dateTime {value['dateTime']!r}") from exc
    return local.replace(tzinfo=None), str(value.get("timeZone") or "UTC")


def parse_instant(value: Any) -> datetime:
    local, label = _local(value)
    if label == "UTC":  # what every read asks for (Prefer: outlook.timezone="UTC")
        return local.replace(tzinfo=UTC)
    return local.replace(tzinfo=zone_of(label)).astimezone(UTC)


def parse_offset_time(text: str) -> datetime:
    """An Edm.DateTimeOffset (``originalStart``, ``lastModifiedDateTime``)."""
    head, _dot, _rest = text.rstrip("Z").partition(".")
    try:
        parsed = datetime.fromisoformat(head)
    except ValueError as exc:
        raise ProviderError(f"Graph sent an invalid timestamp {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# -- reading --------------------------------------------------------------------------------


def origin_of(item: dict[str, Any]) -> str | None:
    transaction = item.get("transactionId")
    if isinstance(transaction, str) and transaction.startswith(TRANSACTION_PREFIX):
        return transaction[len(TRANSACTION_PREFIX) :]
    for prop in item.get("singleValueExtendedProperties") or ():
        if str(prop.get("id", "")).lower() == MARKER_PROPERTY.lower():
            return str(prop.get("value"))
    return None


def _person(value: Any, status: str | None = None) -> Attendee:
    email = (value or {}).get("emailAddress") or {}
    return Attendee(
        email=str(email.get("address") or ""),
        display_name=email.get("name") or None,
        status=status or "needs_action",
    )


def to_content(item: dict[str, Any], *, master_zone: str | None = None) -> EventContent:
    """The content of a single event, series master or exception."""
    all_day = bool(item.get("isAllDay"))
    start: date | datetime
    end: date | datetime
    if all_day:
        start, end = _local(item.get("start"))[0].date(), _local(item.get("end"))[0].date()
        tzid = "Etc/UTC"
    else:
        start, end = parse_instant(item.get("start")), parse_instant(item.get("end"))
        tzid = iana_name(item.get("originalStartTimeZone")) or "Etc/UTC"
    original: date | datetime | None = None
    if isinstance(item.get("originalStart"), str):
        instant = parse_offset_time(item["originalStart"])
        original = instant.astimezone(zone_of(master_zone or "UTC")).date() if all_day else instant
    recurrence: tuple[str, ...] = ()
    if item.get("type") == "seriesMaster" and item.get("recurrence"):
        recurrence = from_graph(item["recurrence"], start, _safe_zone(tzid))
    body = item.get("body") or {}
    description = str(body.get("content") or "").replace("\r\n", "\n")
    place = (item.get("location") or {}).get("displayName")
    show_as = item.get("showAs")
    organizer = item.get("organizer")
    return EventContent(
        summary=str(item.get("subject") or ""),
        start=start,
        end=end,
        tzid=tzid,
        description=description,
        location=Location(description=place) if place else None,
        attendees=tuple(
            _person(a, _RESPONSES.get(((a.get("status") or {}).get("response")) or "none"))
            for a in item.get("attendees") or ()
        ),
        organizer=_person(organizer, "accepted") if isinstance(organizer, dict) else None,
        transparency="transparent" if show_as == "free" else "opaque",
        status=_status(item),
        recurrence=recurrence,
        original_start=original,
        private=item.get("sensitivity") in ("private", "confidential"),
    )


def to_remote_event(item: dict[str, Any], *, master_zone: str | None = None) -> RemoteEvent:
    remote_id = item.get("id")
    if not isinstance(remote_id, str) or not remote_id:
        raise ProviderError(f"Graph sent an event without id: {sorted(item)}")
    updated = item.get("lastModifiedDateTime")
    master = item.get("seriesMasterId") if item.get("type") == "exception" else None
    return RemoteEvent(
        remote_id=remote_id,
        content=to_content(item, master_zone=master_zone),
        ical_uid=item.get("iCalUId"),
        etag=item.get("@odata.etag"),
        remote_updated=parse_offset_time(updated) if isinstance(updated, str) else None,
        master_remote_id=master if isinstance(master, str) else None,
        origin_event_uid=origin_of(item),
    )


def _status(item: dict[str, Any]) -> str:
    """``isCancelled``: an organizer cancelled the meeting; an attendee's calendar keeps it
    ("Canceled: ...") until removed, and it blocks no time any more."""
    if item.get("isCancelled") is True:
        return "cancelled"
    return "tentative" if item.get("showAs") == "tentative" else "confirmed"


def cancelled_override(remote_id: str, master_id: str, original: date | datetime) -> RemoteEvent:
    """An occurrence Graph reports removed: the series' EXDATE equivalent."""
    content = EventContent(
        summary="", start=original, end=original, status="cancelled", original_start=original
    )
    return RemoteEvent(remote_id=remote_id, content=content, master_remote_id=master_id)


# -- writing -----------------------------------------------------------------------------


def _when(value: date | datetime, label: str, zone: ZoneInfo) -> dict[str, str]:
    if isinstance(value, datetime):
        local = value.astimezone(zone).replace(tzinfo=None)
    else:
        local = datetime.combine(value, datetime.min.time())
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": label}


def show_as(content: EventContent) -> str:
    if content.transparency == "transparent":
        return "free"
    return "tentative" if content.status == "tentative" else "busy"


def to_body(content: EventContent, *, series: bool) -> dict[str, Any]:
    """The fields calsync owns, for a create or a PATCH (absent ones are cleared).

    ``series``: the event is a master or single (it may carry ``recurrence``), not
    an occurrence.
    """
    if content.all_day:
        label, zone = "UTC", ZoneInfo("Etc/UTC")
    else:
        zone = _safe_zone(content.tzid)
        label = graph_zone_name(zone.key)
    body: dict[str, Any] = {
        "subject": content.summary,
        "body": {"contentType": "text", "content": content.description},
        "start": _when(content.start, label, zone),
        "end": _when(content.end, label, zone),
        "isAllDay": content.all_day,
        "showAs": show_as(content),
        "sensitivity": "private" if content.private else "normal",
        "location": {"displayName": content.location.description or "" if content.location else ""},
    }
    if series:
        body["recurrence"] = (
            to_graph(content.recurrence, content.start, zone, label) if content.recurrence else None
        )
    return body


def from_graph_body(body: dict[str, Any], content: EventContent) -> EventContent:
    """``content`` as Graph lists back the ``body`` `to_body` made of it (for comparisons):
    the one lossy field settled, the rule in its canonical form."""
    status = "confirmed" if content.transparency == "transparent" else content.status
    if status not in ("confirmed", "tentative"):
        status = "confirmed"
    recurrence = content.recurrence
    if body.get("recurrence"):
        recurrence = from_graph(body["recurrence"], content.start, _safe_zone(content.tzid))
    return replace(
        content,
        status=status,
        description=content.description.replace("\r\n", "\n"),
        recurrence=recurrence,
    )


def occurrence_window(original: date | datetime) -> tuple[datetime, datetime]:
    """A window around an occurrence's original start, for ``instances``."""
    if isinstance(original, datetime):
        instant = original.astimezone(UTC)
    else:
        instant = datetime.combine(original, datetime.min.time(), tzinfo=UTC)
    return instant - timedelta(days=2), instant + timedelta(days=2)
