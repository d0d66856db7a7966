"""Event writes of the fake Graph server (a mixin of `MicrosoftGraphFake`).

- ``POST .../events`` answers 201 with the event
  (https://learn.microsoft.com/en-us/graph/api/calendar-post-events). A ``transactionId``
  already used by a live event in the mailbox answers 201 with that event and creates
  nothing ("A custom identifier specified by a client app for the server to avoid redundant
  POST operations in case of client retries to create the same event",
  https://learn.microsoft.com/en-us/graph/api/resources/event; observed: "the response is
  201 again but no new event is created", https://blog.rykoma.net/2020/10/05/1559/). It
  cannot be changed by a later update.
- ``PATCH``/``DELETE`` honour ``If-Match`` on ``@odata.etag``: a stale one gets 412
  ``ErrorIrresolvableConflict`` (the body Outlook sends, quoted in
  https://learn.microsoft.com/en-us/answers/questions/271870/). ``changeKey`` and the etag
  change on every update ("Every time the event is changed, ChangeKey changes as well").
- Unknown ids: 404 ``ErrorItemNotFound``; ids that are not ids: 400
  ``ErrorInvalidIdMalformed``.
- Patching an occurrence makes it an exception; deleting one cancels it. Changing a
  master's start, end or recurrence drops its exceptions and cancellations (Outlook
  rebuilds the series).

Strict readings (the documentation is silent): properties the event type does not
have, and read-only ones, are refused with 400; ``start``/``end`` are required on
create and their ``dateTime`` must carry no offset; all-day events start and end at
midnight in one zone.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.fakes import _graph_recurrence as recurrence
from tests.fakes._graph_render import normal_property_id, prepare, property_key
from tests.fakes._graph_store import (
    FakeCalendar,
    Item,
    Tombstone,
    instant_of,
    is_midnight,
    local_of,
    occurrence_at,
    own_instances,
)
from tests.fakes._graph_wire import (
    GraphError,
    bad_request,
    copy_json,
    decode_id,
    format_local,
    new_change_key,
    new_event_id,
    now_utc,
    parse_local,
    parse_occurrence_id,
    zone,
)

_ENUMS = {
    "showAs": {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"},
    "sensitivity": {"normal", "personal", "private", "confidential"},
    "importance": {"low", "normal", "high"},
    "onlineMeetingProvider": {
        "unknown",
        "teamsForBusiness",
        "skypeForBusiness",
        "skypeForConsumer",
    },
}
_BOOLEANS = {
    "isAllDay",
    "isReminderOn",
    "responseRequested",
    "allowNewTimeProposals",
    "isOnlineMeeting",
    "hideAttendees",
}
_WRITABLE = {
    "subject", "body", "start", "end", "location", "locations", "attendees", "categories",
    "reminderMinutesBeforeStart", "recurrence", "transactionId", "singleValueExtendedProperties",
    *_ENUMS, *_BOOLEANS,
}  # fmt: skip
_READ_ONLY = {
    "id", "@odata.etag", "createdDateTime", "lastModifiedDateTime", "changeKey", "type",
    "seriesMasterId", "iCalUId", "webLink", "bodyPreview", "hasAttachments", "isOrganizer",
    "responseStatus", "organizer", "onlineMeeting", "onlineMeetingUrl", "originalStart",
    "originalStartTimeZone", "originalEndTimeZone", "isCancelled", "isDraft",
}  # fmt: skip
_LOCATION_KEYS = {
    "displayName", "address", "coordinates", "locationEmailAddress", "locationUri",
    "locationType", "uniqueId", "uniqueIdType",
}  # fmt: skip
#: Times and recurrence of a master: changing any of them rebuilds the series.
_SERIES_SHAPE = ("start", "end", "recurrence", "isAllDay")


def _unreadable(name: str, value: Any) -> GraphError:
    return bad_request(
        f"Cannot convert the literal '{value}' to the expected type of property '{name}'.",
        "RequestBodyRead",
    )


def _invalid(message: str) -> GraphError:
    return bad_request(message, "ErrorInvalidRequest")


def check_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The writable properties of an event body, type-checked; 400 for anything else."""
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name == "@odata.type" and value in ("#microsoft.graph.event", "microsoft.graph.event"):
            continue
        if name in _READ_ONLY:
            raise bad_request(
                f"fake (strict): the property '{name}' is read-only.",
                "ErrorInvalidPropertyForOperation",
            )
        if name not in _WRITABLE:
            raise bad_request(
                f"The property '{name}' does not exist on type 'microsoft.graph.event'. Make "
                "sure to only use property names that are defined by the type or mark the type "
                "as open type.",
                "RequestBodyRead",
            )
        fields[name] = _check_value(name, value)
    return fields


def _check_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _BOOLEANS and not isinstance(value, bool):
        raise _unreadable(name, value)
    if name in _ENUMS and value not in _ENUMS[name]:
        raise _unreadable(name, value)
    if name in ("subject", "transactionId") and not isinstance(value, str):
        raise _unreadable(name, value)
    if name == "reminderMinutesBeforeStart" and (
        not isinstance(value, int) or isinstance(value, bool) or value < 0
    ):
        raise _unreadable(name, value)
    if name == "categories" and (
        not isinstance(value, list) or not all(isinstance(c, str) for c in value)
    ):
        raise _unreadable(name, value)
    if name == "body":
        if (
            not isinstance(value, dict)
            or set(value) - {"contentType", "content"}
            or str(value.get("contentType", "text")).lower() not in ("text", "html")
            or not isinstance(value.get("content", ""), str)
        ):
            raise _unreadable(name, value)
        return {
            "contentType": str(value.get("contentType", "text")).lower(),
            "content": value.get("content", ""),
        }
    if name in ("start", "end"):
        if not isinstance(value, dict) or set(value) != {"dateTime", "timeZone"}:
            raise _unreadable(name, value)
        local, _ = parse_local(value["dateTime"], f"{name}.dateTime"), zone(value["timeZone"])
        return {"dateTime": format_local(local), "timeZone": value["timeZone"]}
    if name == "location" and (not isinstance(value, dict) or set(value) - _LOCATION_KEYS):
        raise _unreadable(name, value)
    if name == "locations" and (
        not isinstance(value, list)
        or not all(isinstance(v, dict) and not set(v) - _LOCATION_KEYS for v in value)
    ):
        raise _unreadable(name, value)
    if name == "attendees":
        if not isinstance(value, list):
            raise _unreadable(name, value)
        for attendee in value:
            email = attendee.get("emailAddress") if isinstance(attendee, dict) else None
            if (
                not isinstance(email, dict)
                or not isinstance(email.get("address"), str)
                or attendee.get("type", "required") not in ("required", "optional", "resource")
            ):
                raise _unreadable(name, attendee)
    if name == "singleValueExtendedProperties":
        if not isinstance(value, list):
            raise _unreadable(name, value)
        normal = []
        for prop in value:
            if (
                not isinstance(prop, dict)
                or set(prop) != {"id", "value"}
                or not isinstance(prop["id"], str)
                or not isinstance(prop["value"], str)
            ):
                raise _unreadable(name, prop)
            property_key(prop["id"])
            normal.append({"id": normal_property_id(prop["id"]), "value": prop["value"]})
        return normal
    return copy_json(value)


def check_times(fields: dict[str, Any]) -> None:
    for name in ("start", "end"):
        if not fields.get(name):
            raise _invalid(f"fake (strict): the event's '{name}' is required.")
    start, end = instant_of(fields["start"]), instant_of(fields["end"])
    if end < start:
        raise _invalid("The end time of the event must not be before its start time.")
    if fields.get("isAllDay"):
        local_start, local_end = local_of(fields["start"]), local_of(fields["end"])
        if (
            not is_midnight(local_start)
            or not is_midnight(local_end)
            or fields["start"]["timeZone"] != fields["end"]["timeZone"]
            or local_end <= local_start
        ):
            raise _invalid(
                "Your request can't be completed. If an event is marked as an all-day event, "
                "the start and end time must be midnight, and must be in the same time zone."
            )


def _merge_properties(
    current: list[dict[str, str]], changes: list[dict[str, str]]
) -> list[dict[str, str]]:
    merged = {property_key(p["id"]): p for p in current}
    merged.update({property_key(p["id"]): p for p in changes})
    return list(merged.values())


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """PATCH semantics: properties replace, ``null`` clears, extended properties merge by id."""
    merged = copy_json(base)
    for name, value in patch.items():
        if name == "singleValueExtendedProperties" and value is not None:
            merged[name] = _merge_properties(merged.get(name, []), value)
        elif value is None:
            merged.pop(name, None)
        else:
            merged[name] = copy_json(value)
    if "locations" in patch and "location" not in patch:
        merged["location"] = copy_json(patch["locations"][0]) if patch["locations"] else None
    return merged


def normalise(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the whole event and put its recurrence in Graph's normal form."""
    check_times(fields)
    if fields.get("recurrence") is not None:
        start_date = local_of(fields["start"]).date()
        fields["recurrence"] = recurrence.validate(fields["recurrence"], start_date)
    else:
        fields.pop("recurrence", None)
    return fields


class EventWritesMixin:
    calendars: dict[str, FakeCalendar]
    lock: threading.RLock
    _seq: itertools.count[int]
    _transactions: dict[str, str]

    _last_seq: int

    if TYPE_CHECKING:

        def _organizer(self) -> dict[str, Any]: ...
        def _emit_change(
            self, calendar_id: str, resource_id: str, change_type: str, etag: str | None = None
        ) -> None: ...

    def _next_seq(self) -> int:
        self._last_seq = next(self._seq)
        return self._last_seq

    # -- lookup --------------------------------------------------------------------------------

    def _top_item(self, item_id: str, scope: FakeCalendar | None) -> tuple[FakeCalendar, Item]:
        for cal in [scope] if scope is not None else list(self.calendars.values()):
            item = cal.items.get(item_id)
            if item is not None:
                return cal, item
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )

    def _locate(
        self, event_id: str, scope: FakeCalendar | None
    ) -> tuple[FakeCalendar, Item, datetime | None]:
        """(calendar, top-level item, original start when the id names an instance)."""
        kind, _ = decode_id(event_id)
        if kind == "evt":
            cal, item = self._top_item(event_id, scope)
            return cal, item, None
        parsed = parse_occurrence_id(event_id)
        if parsed is None:
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        master_id, original = parsed
        cal, master = self._top_item(master_id, scope)
        if master.type != "seriesMaster" or occurrence_at(master, original) is None:
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return cal, master, original

    @staticmethod
    def _check_etag(if_match: str | None, etag: str) -> None:
        if if_match is not None and if_match.strip() != etag:
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed because the change key "
                "passed in the request does not match the current change key for the item.",
            )

    # -- create --------------------------------------------------------------------------------

    def _create_event(self, cal: FakeCalendar, body: dict[str, Any]) -> tuple[Item, bool]:
        """(the event, whether it was created); a repeated transactionId returns the original."""
        fields = check_fields(body)
        transaction = fields.get("transactionId")
        if transaction:
            existing_id = self._transactions.get(transaction)
            for other in self.calendars.values():
                if existing_id in other.items:
                    return other.items[existing_id], False
        fields = normalise({k: v for k, v in fields.items() if v is not None})
        if "locations" in fields and "location" not in fields and fields["locations"]:
            fields["location"] = copy_json(fields["locations"][0])
        now, seq = now_utc(), self._next_seq()
        item = Item(
            id=new_event_id(),
            calendar_id=cal.id,
            fields=fields,
            created=now,
            modified=now,
            change_key=new_change_key(),
            seq=seq,
            ical_uid="040000008200E00074C5B7101A82E008"
            + secrets.token_hex(16).upper()
            + "00000000",
        )
        cal.items[item.id] = prepare(item, self._organizer())
        cal.touched[item.id] = seq
        if transaction:
            self._transactions[transaction] = item.id
        self._emit_change(cal.id, item.id, "created", item.etag)
        return item, True

    # -- update --------------------------------------------------------------------------------

    def _patch_event(
        self, event_id: str, body: dict[str, Any], if_match: str | None, scope: FakeCalendar | None
    ) -> tuple[Item, datetime | None]:
        """Apply a PATCH; returns the item that now renders the event (and its original start)."""
        patch = check_fields(body)
        cal, top, original = self._locate(event_id, scope)
        if original is None:
            self._check_etag(if_match, top.etag)
            if "transactionId" in patch and patch["transactionId"] != top.fields.get(
                "transactionId"
            ):
                raise _invalid("The transactionId of an event cannot be changed.")
            fields = normalise(merge(top.fields, patch))
            seq = self._next_seq()
            reshaped = top.type == "seriesMaster" and any(
                fields.get(k) != top.fields.get(k) for k in _SERIES_SHAPE
            )
            updated = replace(
                top,
                fields=fields,
                modified=now_utc(),
                change_key=new_change_key(),
                seq=seq,
                exceptions={} if reshaped else top.exceptions,
                cancelled={} if reshaped else top.cancelled,
            )
            cal.items[top.id] = prepare(updated, self._organizer())
            cal.touched[top.id] = seq
            self._emit_change(cal.id, top.id, "updated", updated.etag)
            return updated, None
        if "recurrence" in patch or "transactionId" in patch:
            raise _invalid("An occurrence or exception cannot carry a recurrence or transactionId.")
        existing = top.exceptions.get(original)
        self._check_etag(if_match, (existing or top).etag)
        if existing is not None:
            base = existing.fields
        else:  # an occurrence: it starts from the master, at its own times
            occurrence = occurrence_at(top, original)
            assert occurrence is not None
            base = {k: v for k, v in top.fields.items() if k not in ("recurrence", "transactionId")}
            for name, instant in (("start", occurrence.start), ("end", occurrence.end)):
                zone_name = top.fields[name]["timeZone"]
                base[name] = {
                    "dateTime": format_local(instant.astimezone(zone(zone_name))),
                    "timeZone": zone_name,
                }
        fields = normalise(merge(base, patch))
        now, seq = now_utc(), self._next_seq()
        exception = Item(
            id=event_id,
            calendar_id=cal.id,
            fields=fields,
            created=existing.created if existing else now,
            modified=now,
            change_key=new_change_key(),
            seq=seq,
            ical_uid=top.ical_uid,
            master_id=top.id,
            original_start=original,
        )
        prepare(exception, self._organizer())
        cal.items[top.id] = prepare(
            replace(top, exceptions={**top.exceptions, original: exception}), self._organizer()
        )
        cal.touched[top.id] = seq
        self._emit_change(cal.id, event_id, "updated", exception.etag)
        return exception, original

    # -- delete --------------------------------------------------------------------------------

    def _delete_event(
        self, event_id: str, if_match: str | None, scope: FakeCalendar | None
    ) -> None:
        cal, top, original = self._locate(event_id, scope)
        seq = self._next_seq()
        if original is None:
            self._check_etag(if_match, top.etag)
            del cal.items[top.id]
            gone = own_instances(top)
            cal.tombstones[top.id] = Tombstone(seq, tuple(i.id for i in gone), tuple(gone))
            cal.touched[top.id] = seq
            transaction = top.fields.get("transactionId")
            if transaction and self._transactions.get(transaction) == top.id:
                del self._transactions[transaction]
            self._emit_change(cal.id, top.id, "deleted")
            return
        existing = top.exceptions.get(original)
        self._check_etag(if_match, (existing or top).etag)
        exceptions = {k: v for k, v in top.exceptions.items() if k != original}
        cal.items[top.id] = prepare(
            replace(top, exceptions=exceptions, cancelled={**top.cancelled, original: seq}),
            self._organizer(),
        )
        cal.touched[top.id] = seq
        self._emit_change(cal.id, event_id, "deleted")
