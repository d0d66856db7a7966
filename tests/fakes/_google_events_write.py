"""Event writes of the fake Google server (a mixin of `GoogleCalendarFake`).

insert/patch/update/delete with Google's semantics: client-chosen base32hex
ids (400 when invalid, 409 ``duplicate`` when taken), ``If-Match`` answered by
412 ``conditionNotMet``, virtual instances of recurring masters that become
exceptions when patched or deleted, deletions kept as ``cancelled``; plus
``events.instances`` and the rendering of cancelled events with only the
guaranteed fields.
"""

from __future__ import annotations

import itertools
import json
import queue
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes._google_recurrence import occurs, parse_instance_suffix
from tests.fakes._google_wire import (
    _GUARANTEED_CANCELLED,
    _ID_RE,
    FakeCalendar,
    GoogleError,
    WatchChannel,
    _copy,
    _instant,
    _merge,
    _now,
    _parse_ts,
    new_event_id,
)


class EventWritesMixin:
    calendars: dict[str, FakeCalendar]
    channels: dict[str, WatchChannel]
    _outbox: queue.Queue[tuple[WatchChannel, str] | None]
    _etags: itertools.count[int]
    _seq: itertools.count[int]
    _last_seq: int

    # -- writes -------------------------------------------------------------------------

    def _touch(self, cal: FakeCalendar, event: dict[str, Any]) -> None:
        event["etag"] = f'"{next(self._etags)}"'
        event["updated"] = _now()
        self._last_seq = next(self._seq)
        cal.seq[event["id"]] = self._last_seq
        for channel in self.channels.values():
            if channel.calendar_id == cal.id:
                self._outbox.put((channel, "exists"))

    def _insert(self, cal: FakeCalendar, body: dict[str, Any]) -> dict[str, Any]:
        event_id = body.get("id") or new_event_id()
        if not isinstance(event_id, str) or not _ID_RE.match(event_id):
            raise GoogleError(400, "invalid", "Invalid resource id value.")
        if event_id in cal.events:
            raise GoogleError(409, "duplicate", "The requested identifier already exists.")
        self._validate_times(cal, body)
        event = {
            "kind": "calendar#event",
            "status": "confirmed",
            **body,
            "id": event_id,
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "sequence": 0,
            "created": _now(),
            "htmlLink": f"https://calendar.google.com/event?eid={event_id}",
            "creator": {"email": cal.id, "self": True},
            "organizer": {"email": cal.id, "displayName": cal.summary, "self": True},
        }
        self._normalise(cal, event)
        cal.events[event_id] = event
        self._touch(cal, event)
        return event

    def _validate_times(self, cal: FakeCalendar, event: dict[str, Any]) -> None:
        for name in ("start", "end"):
            value = event.get(name)
            if not isinstance(value, dict) or not ("date" in value or "dateTime" in value):
                raise GoogleError(400, "required", f"Missing {name} time.")
            if event.get("recurrence") and "dateTime" in value and not value.get("timeZone"):
                raise GoogleError(400, "required", f"Missing time zone definition for {name} time.")
        if _instant(event["end"]) < _instant(event["start"]):
            raise GoogleError(400, "timeRangeEmpty", "The specified time range is empty.")

    def _normalise(self, cal: FakeCalendar, event: dict[str, Any]) -> None:
        """Google renders dateTime in the event's (else the calendar's) zone."""
        for name in ("start", "end", "originalStartTime"):
            value = event.get(name)
            if isinstance(value, dict) and "dateTime" in value:
                zone = ZoneInfo(value.get("timeZone") or cal.time_zone)
                value["dateTime"] = _parse_ts(value["dateTime"]).astimezone(zone).isoformat()

    def _find(
        self, cal: FakeCalendar, event_id: str, *, materialise: bool = False
    ) -> dict[str, Any]:
        event = cal.events.get(event_id)
        if event is not None:
            return event
        virtual = self._virtual_instance(cal, event_id)
        if virtual is None:
            raise GoogleError(404, "notFound", "Not Found")
        if materialise:
            cal.events[event_id] = virtual
        return virtual

    def _virtual_instance(self, cal: FakeCalendar, event_id: str) -> dict[str, Any] | None:
        master_id, _, suffix = event_id.rpartition("_")
        master = cal.events.get(master_id)
        original = parse_instance_suffix(suffix)
        if (
            master is None
            or original is None
            or not master.get("recurrence")
            or master["status"] == "cancelled"
            or not occurs(master, original)
        ):
            return None
        return self._instance_of(master, original)

    def _instance_of(self, master: dict[str, Any], original: date | datetime) -> dict[str, Any]:
        start = master["start"]
        if isinstance(original, datetime):
            zone = start.get("timeZone")
            local = original.astimezone(ZoneInfo(zone)) if zone else original
            duration = _instant(master["end"]) - _instant(start)
            when: dict[str, Any] = {"dateTime": local.isoformat(), "timeZone": zone}
            end: dict[str, Any] = {"dateTime": (local + duration).isoformat(), "timeZone": zone}
        else:
            days = date.fromisoformat(master["end"]["date"]) - date.fromisoformat(start["date"])
            when = {"date": original.isoformat()}
            end = {"date": (original + days).isoformat()}
        suffix = (
            original.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            if isinstance(original, datetime)
            else original.strftime("%Y%m%d")
        )
        instance = {k: v for k, v in master.items() if k not in ("recurrence", "id")}
        instance.update(
            id=f"{master['id']}_{suffix}",
            recurringEventId=master["id"],
            originalStartTime=dict(when),
            start=when,
            end=end,
        )
        return _copy(instance)

    def _patch(
        self,
        cal: FakeCalendar,
        event_id: str,
        body: dict[str, Any],
        if_match: str | None,
        *,
        replace: bool = False,
    ) -> dict[str, Any]:
        event = self._find(cal, event_id)
        if if_match is not None and if_match != event["etag"]:
            raise GoogleError(412, "conditionNotMet", "Precondition Failed")
        if body.get("id", event_id) != event_id:
            raise GoogleError(400, "invalid", "The id of an event cannot be changed.")
        if "recurringEventId" in event and body.get("recurrence"):
            raise GoogleError(400, "invalid", "An instance cannot carry a recurrence.")
        fixed: dict[str, Any] = {
            k: event[k]
            for k in (
                "kind",
                "id",
                "iCalUID",
                "created",
                "htmlLink",
                "creator",
                "organizer",
                "recurringEventId",
                "originalStartTime",
                "etag",
                "sequence",
            )
            if k in event
        }
        merged = (
            {**fixed, "status": "confirmed", **body, **fixed} if replace else _merge(event, body)
        )
        self._validate_times(cal, merged)
        if merged.get("start") != event.get("start") or merged.get("end") != event.get("end"):
            merged["sequence"] = event.get("sequence", 0) + 1
        self._normalise(cal, merged)
        cal.events[event_id] = merged
        self._touch(cal, merged)
        return merged

    def _delete(self, cal: FakeCalendar, event_id: str, if_match: str | None) -> None:
        event = self._find(cal, event_id, materialise=True)
        if event["status"] == "cancelled":
            raise GoogleError(410, "deleted", "Resource has been deleted")
        if if_match is not None and if_match != event["etag"]:
            raise GoogleError(412, "conditionNotMet", "Precondition Failed")
        event["status"] = "cancelled"
        self._touch(cal, event)
        for other in cal.events.values():  # a deleted series takes its exceptions along
            if other.get("recurringEventId") == event_id and other["status"] != "cancelled":
                other["status"] = "cancelled"
                self._touch(cal, other)

    def _instances(self, cal: FakeCalendar, event_id: str, query: dict[str, str]) -> dict[str, Any]:
        master = self._find(cal, event_id)
        if "originalStart" not in query:
            raise GoogleError(400, "invalid", "fake: events.instances needs originalStart")
        instant = _parse_ts(query["originalStart"])
        original: date | datetime = instant.date() if "date" in master.get("start", {}) else instant
        items: list[dict[str, Any]] = []
        if master.get("recurrence") and occurs(master, original):
            suffix_id = self._instance_of(master, original)["id"]
            found = cal.events.get(suffix_id) or self._instance_of(master, original)
            if found["status"] != "cancelled" or query.get("showDeleted") == "true":
                items.append(self._render(found, full=True))
        return {
            "kind": "calendar#events",
            "timeZone": cal.time_zone,
            "items": items,
            "nextSyncToken": "instances-unsupported",
        }

    def _render(self, event: dict[str, Any], *, full: bool) -> dict[str, Any]:
        if event["status"] == "cancelled" and not full:
            return {k: event[k] for k in _GUARANTEED_CANCELLED if k in event}
        return _copy(event)

    @staticmethod
    def _body(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise GoogleError(400, "parseError", "Parse Error") from exc
        if not isinstance(body, dict):
            raise GoogleError(400, "parseError", "Parse Error")
        return body
