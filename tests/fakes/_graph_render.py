"""How the fake Graph server renders events.

- Times: ``Prefer: outlook.timezone`` sets the zone of ``start``/``end``; without it
  reads (GET, calendarView, delta, instances) are in UTC
  (https://learn.microsoft.com/en-us/graph/api/event-get, "If the Prefer:
  outlook.timezone header is not specified, the start and end times are returned in
  UTC"), while create and update answer in the event's own zones (the example
  responses of https://learn.microsoft.com/en-us/graph/api/calendar-post-events).
  All-day events are floating: midnight of their dates, labelled with the zone asked
  for.
- Bodies come back as HTML unless ``Prefer: outlook.body-content-type="text"`` (event-get:
  "If the header is not specified, the body property is returned in HTML format").
- ``singleValueExtendedProperties`` appear only when expanded with
  ``$expand=singleValueExtendedProperties($filter=id eq '...')``
  (https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get).
- Occurrences carry the master's ``@odata.etag`` (the instances example in
  https://learn.microsoft.com/en-us/graph/api/event-list-instances), ``recurrence: null``,
  ``seriesMasterId`` and ``originalStart``; a ``transactionId`` is returned only when one
  was set (https://learn.microsoft.com/en-us/graph/api/resources/event).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tests.fakes._graph_store import Instance, Item, instants, local_of, occurrence_starts
from tests.fakes._graph_wire import (
    bad_request,
    copy_json,
    format_instant,
    format_local,
    format_whole_instant,
    zone,
)

_HTML_WRAP = (
    '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    "\r\n</head>\r\n<body>\r\n{}\r\n</body>\r\n</html>\r\n"
)
#: json.dumps' own encoder for a str (ensure_ascii), without its per-call overhead.
_q = json.encoder.encode_basestring_ascii
_WEB_LINK = "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item"
_EXPAND_RE = re.compile(r"^singleValueExtendedProperties\(\$filter=(.+)\)$", re.IGNORECASE)
_ID_EQ_RE = re.compile(r"^id eq '([^']+)'$")
_PROPERTY_ID_RE = re.compile(
    r"^(String|Integer|Boolean|SystemTime|Binary|Double|Float|Long|Short|Currency|"
    r"ApplicationTime|CLSID)\s+(?:\{([0-9a-fA-F-]{36})\}\s+(Name|Id)\s+(\S.*)|(0x[0-9a-fA-F]{1,4}))$",
    re.IGNORECASE,
)


def property_key(property_id: str) -> tuple[str, ...]:
    """A singleValueExtendedProperty id, normalised for comparison (GUIDs ignore case)."""
    match = _PROPERTY_ID_RE.match(property_id.strip())
    if match is None:
        raise bad_request(
            f"The extended property id '{property_id}' is not valid.",
            "ErrorInvalidExtendedProperty",
        )
    kind, guid, name_or_id, name, tag = match.groups()
    if tag:
        return (kind.lower(), tag.lower())
    return (kind.lower(), guid.lower(), name_or_id.lower(), name)


def normal_property_id(property_id: str) -> str:
    match = _PROPERTY_ID_RE.match(property_id.strip())
    assert match is not None
    kind, guid, name_or_id, name, tag = match.groups()
    if tag:
        return f"{kind} {tag}"
    return f"{kind} {{{guid.lower()}}} {name_or_id} {name}"


RenderCache = dict[tuple[Any, ...], tuple[Item, Any]]


@dataclass(frozen=True)
class RenderOptions:
    zone_name: str | None = None
    text_body: bool = False
    expand: frozenset[tuple[str, ...]] | None = None
    select: frozenset[str] | None = None


def parse_expand(value: str | None) -> frozenset[tuple[str, ...]] | None:
    if value is None:
        return None
    match = _EXPAND_RE.match(value.strip())
    if match is None:
        raise bad_request(
            f"fake: $expand={value} is not served; only "
            "singleValueExtendedProperties($filter=id eq '...') is.",
            "BadRequest",
        )
    keys = []
    for clause in re.split(r"\s+or\s+", match.group(1).strip()):
        id_match = _ID_EQ_RE.match(clause.strip())
        if id_match is None:
            raise bad_request(f"Invalid filter clause '{clause}'.", "BadRequest")
        keys.append(property_key(id_match.group(1)))
    return frozenset(keys)


def parse_select(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise bad_request("Invalid $select.", "BadRequest")
    return names


def _text_of(body: dict[str, Any]) -> str:
    if body.get("contentType", "text").lower() == "html":
        without_tags = re.sub(r"<[^>]+>", " ", body.get("content", ""))
        return re.sub(r"\s+", " ", html.unescape(without_tags)).strip()
    return str(body.get("content", ""))


def _body(body: dict[str, Any], text: bool) -> dict[str, str]:
    if text:
        return {"contentType": "text", "content": _text_of(body)}
    if body.get("contentType", "text").lower() == "html":
        return {"contentType": "html", "content": str(body.get("content", ""))}
    content = str(body.get("content", ""))
    wrapped = _HTML_WRAP.format(html.escape(content)) if content else ""
    return {"contentType": "html", "content": wrapped}


def _location(location: dict[str, Any] | None) -> dict[str, Any]:
    if not location or not location.get("displayName"):
        return {
            "displayName": "",
            "locationType": "default",
            "uniqueIdType": "unknown",
            "address": {},
            "coordinates": {},
        }
    return {
        "locationType": "default",
        "uniqueId": location["displayName"],
        "uniqueIdType": "private",
        **copy_json(location),
    }


def _when(instant: datetime, stored: dict[str, Any], all_day: bool, label: str) -> dict[str, str]:
    if all_day:
        local_date = instant.astimezone(zone(stored["timeZone"])).date()
        return {"dateTime": f"{local_date.isoformat()}T00:00:00.0000000", "timeZone": label}
    return {"dateTime": format_local(instant.astimezone(zone(label))), "timeZone": label}


def _base(item: Item, organizer: dict[str, Any]) -> dict[str, Any]:
    """What every rendering of ``item`` has in common, whatever the request's options."""
    fields = item.fields
    body = fields.get("body") or {"contentType": "text", "content": ""}
    location = fields.get("location") or {}
    return {
        "createdDateTime": format_instant(item.created),
        "lastModifiedDateTime": format_instant(item.modified),
        "changeKey": item.change_key,
        "categories": list(fields.get("categories", [])),
        "originalStartTimeZone": fields["start"]["timeZone"],
        "originalEndTimeZone": fields["end"]["timeZone"],
        "reminderMinutesBeforeStart": fields.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": fields.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": fields.get("subject", ""),
        "bodyPreview": _text_of(body)[:255],
        "importance": fields.get("importance", "normal"),
        "sensitivity": fields.get("sensitivity", "normal"),
        "isAllDay": bool(fields.get("isAllDay")),
        "isCancelled": bool(fields.get("isCancelled")),
        "isOrganizer": True,
        "responseRequested": fields.get("responseRequested", True),
        "showAs": fields.get("showAs", "busy"),
        "onlineMeetingUrl": None,
        "isOnlineMeeting": fields.get("isOnlineMeeting", False),
        "onlineMeetingProvider": fields.get("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": fields.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": fields.get("hideAttendees", False),
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "location": _location(location),
        "locations": [_location(location)] if location.get("displayName") else [],
        "attendees": [
            {
                "type": "required",
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                **copy_json(a),
            }
            for a in fields.get("attendees", [])
        ],
        "organizer": organizer,
        "onlineMeeting": None,
        "recurrence": copy_json(fields.get("recurrence")),
    }


def prepare(item: Item, organizer: dict[str, Any]) -> Item:
    """Work out, at write time, what rendering the item needs (its instants, its base),
    as a server stores what it serves: a listing then only assembles."""
    instants(item)
    if item.type == "seriesMaster":
        occurrence_starts(item, date.min, date.min)  # walks a series with an end once
    item.__dict__["_base"] = (organizer, _base(item, organizer))
    _base_json(item, organizer)
    return item


def _base_json(item: Item, organizer: dict[str, Any]) -> tuple[str, str]:
    """The base as JSON (the members without braces, and ``recurrence`` apart, which an
    occurrence renders null): stored with the item, as its base is (`prepare`)."""
    memo = item.__dict__.get("_base_json")
    if memo is None or memo[0] != organizer:
        base = item.__dict__.get("_base")
        if base is None or base[0] != organizer:
            base = (organizer, _base(item, organizer))
            item.__dict__["_base"] = base
        members = dict(base[1])
        recurrence = json.dumps(members.pop("recurrence"))
        memo = (organizer, (json.dumps(members)[1:-1], recurrence))
        item.__dict__["_base_json"] = memo
    found: tuple[str, str] = memo[1]
    return found


def _shared(item: Item, options: RenderOptions, organizer: dict[str, Any]) -> dict[str, Any]:
    """What every instance rendered from ``item`` with these options has in common."""
    memo = item.__dict__.get("_base")
    if memo is None or memo[0] != organizer:
        memo = (organizer, _base(item, organizer))
        item.__dict__["_base"] = memo
    fields = item.fields
    shared = dict(memo[1])
    body = fields.get("body") or {"contentType": "text", "content": ""}
    shared["body"] = _body(body, options.text_body)
    if options.expand is not None:
        shared["singleValueExtendedProperties"] = [
            copy_json(p)
            for p in fields.get("singleValueExtendedProperties", [])
            if property_key(p["id"]) in options.expand
        ]
    return shared


def render(
    *,
    item: Item,
    instance_id: str,
    event_type: str,
    start: datetime,
    end: datetime,
    original_start: datetime | None,
    series_master_id: str | None,
    options: RenderOptions,
    default_zone: str | None,
    organizer: dict[str, Any],
    cache: RenderCache | None = None,
) -> dict[str, Any]:
    """One event as Graph shows it; ``default_zone`` None means each time in its own zone.

    ``cache`` keeps the instance-independent part of each item (items never change; a
    write makes a new one), shared by the occurrences of a series and across responses.
    Only for replies serialised at once: the shared nested objects must not be mutated.
    """
    key = (id(item), options.text_body, options.expand)
    cached = cache.get(key) if cache is not None else None
    if cached is not None and cached[0] is item:
        shared = cached[1]
    else:
        shared = _shared(item, options, organizer)
        if cache is not None:
            if len(cache) > 50_000:
                cache.clear()
            cache[key] = (item, shared)
    fields = item.fields
    all_day = shared["isAllDay"]
    recurrence = shared["recurrence"]
    start_label = options.zone_name or default_zone or fields["start"]["timeZone"]
    end_label = options.zone_name or default_zone or fields["end"]["timeZone"]
    occurrence = event_type == "occurrence"
    ical_uid = item.ical_uid
    if original_start is not None:
        ical_uid = f"{item.ical_uid[:-8]}{original_start.date().isoformat().replace('-', '')}"
    event: dict[str, Any] = {
        "@odata.etag": item.etag,
        "id": instance_id,
        **shared,
        "iCalUId": ical_uid,
        "seriesMasterId": series_master_id,
        "type": event_type,
        "webLink": f"https://outlook.office365.com/owa/?itemid={instance_id}&exvsurl=1&path=/calendar/item",
        "start": _when(start, fields["start"], all_day, start_label),
        "end": _when(end, fields["end"], all_day, end_label),
        "recurrence": None if occurrence else recurrence,
    }
    if original_start is not None:
        event["originalStart"] = format_whole_instant(original_start)
    if fields.get("transactionId") and not occurrence:
        event["transactionId"] = fields["transactionId"]
    if options.select is not None:
        keep = options.select | {"@odata.etag", "id", "singleValueExtendedProperties"}
        event = {k: v for k, v in event.items() if k in keep}
    # Without a cache the caller may keep or change what it gets: nothing shared.
    return event if cache is not None else copy_json(event)


def render_instance(
    instance: Instance,
    options: RenderOptions,
    organizer: dict[str, Any],
    default_zone: str | None = "UTC",
    cache: RenderCache | None = None,
) -> dict[str, Any]:
    return render(
        item=instance.source,
        instance_id=instance.id,
        event_type=instance.type,
        start=instance.start,
        end=instance.end,
        original_start=instance.original_start,
        series_master_id=instance.top_id if instance.type != "singleInstance" else None,
        options=options,
        default_zone=default_zone,
        organizer=organizer,
        cache=cache,
    )


def render_instance_json(
    instance: Instance,
    options: RenderOptions,
    organizer: dict[str, Any],
    cache: RenderCache,
    default_zone: str | None = "UTC",
) -> bytes:
    """`render_instance` as JSON bytes, for a listing's reply (delta pages).

    The same object as ``json.dumps(render_instance(...))`` gives (only ``recurrence``
    comes last): the part an item's instances share (most of each event) is serialised
    once per stored item version and request options and kept in ``cache`` (items never
    change; a write makes a new one), so the 8 occurrences of a series, and later pages
    and rounds, splice it in rather than serialising it again. ``$select`` (never with
    delta) renders the object as usual.
    """
    if options.select is not None:
        event = render_instance(instance, options, organizer, default_zone, cache)
        return json.dumps(event).encode()
    item = instance.source
    key = ("json", id(item), options.text_body, options.expand)
    cached = cache.get(key)
    if cached is not None and cached[0] is item:
        inner, recurrence = cached[1]
    else:
        base, recurrence = _base_json(item, organizer)
        # The members `_shared` adds to the base, in its order.
        body = item.fields.get("body") or {"contentType": "text", "content": ""}
        inner = f'{base}, "body": {json.dumps(_body(body, options.text_body))}'
        if options.expand is not None:
            properties = [
                p
                for p in item.fields.get("singleValueExtendedProperties", [])
                if property_key(p["id"]) in options.expand
            ]
            inner += f', "singleValueExtendedProperties": {json.dumps(properties)}'
        if len(cache) > 50_000:
            cache.clear()
        cache[key] = (item, (inner, recurrence))
    fields = item.fields
    all_day = bool(fields.get("isAllDay"))
    start_label = options.zone_name or default_zone or fields["start"]["timeZone"]
    end_label = options.zone_name or default_zone or fields["end"]["timeZone"]
    occurrence = instance.type == "occurrence"
    original_start = instance.original_start
    ical_uid = item.ical_uid
    if original_start is not None:
        ical_uid = f"{item.ical_uid[:-8]}{original_start.date().isoformat().replace('-', '')}"
    instance_id = instance.id
    master_id = instance.top_id if instance.type != "singleInstance" else None
    start = _when(instance.start, fields["start"], all_day, start_label)
    end = _when(instance.end, fields["end"], all_day, end_label)
    # Written out with json's own string encoder: json.dumps of the few per-instance
    # fields, three times an instance, cost as much as the shared part did.
    parts = [
        f'{{"@odata.etag": {_q(item.etag)}, "id": {_q(instance_id)}, {inner}, ',
        f'"iCalUId": {_q(ical_uid)}, ',
        f'"seriesMasterId": {"null" if master_id is None else _q(master_id)}, ',
        f'"type": {_q(instance.type)}, ',
        f'"webLink": {_q(_WEB_LINK.format(instance_id))}, ',
        f'"start": {{"dateTime": {_q(start["dateTime"])}, "timeZone": {_q(start["timeZone"])}}}, ',
        f'"end": {{"dateTime": {_q(end["dateTime"])}, "timeZone": {_q(end["timeZone"])}}}, ',
    ]
    if original_start is not None:
        parts.append(f'"originalStart": {_q(format_whole_instant(original_start))}, ')
    if fields.get("transactionId") and not occurrence:
        parts.append(f'"transactionId": {json.dumps(fields["transactionId"])}, ')
    parts.append(f'"recurrence": {"null" if occurrence else recurrence}}}')
    text = "".join(parts)
    return text.encode()


def removed(instance_id: str) -> dict[str, Any]:
    """A deletion in a delta response (https://learn.microsoft.com/en-us/graph/delta-query-events)."""
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": instance_id,
        "@removed": {"reason": "deleted"},
    }


def stored_local(item: Item, name: str) -> datetime:
    return local_of(item.fields[name])
