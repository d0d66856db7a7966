"""Read endpoints of the fake Graph server besides delta (a mixin of `MicrosoftGraphFake`).

- ``GET /me`` (https://learn.microsoft.com/en-us/graph/api/user-get);
- ``GET /me/calendars`` with ``$top``/``$skip`` paging and ``@odata.nextLink``
  (https://learn.microsoft.com/en-us/graph/api/user-list-calendars), ``GET /me/calendar``,
  ``GET /me/calendars/{id}``;
- ``GET .../events``: single events and series masters, no occurrences
  (https://learn.microsoft.com/en-us/graph/api/user-list-events: "The list contains single
  instance meetings and series masters"), with ``$filter=type eq '<eventType>'``
  (the event's ``type`` property: singleInstance, occurrence, exception, seriesMaster,
  https://learn.microsoft.com/en-us/graph/api/resources/event; the method "supports the
  OData query parameters"). Strict: an unknown eventType is a 400; any other filter is
  refused as not served by the fake;
- ``GET .../calendarView?startDateTime&endDateTime``: singles, occurrences, exceptions;
- ``GET .../events/{id}`` (a series master, an occurrence or an exception by its id);
- ``GET .../events/{id}/instances?startDateTime&endDateTime``: "If the event is a
  seriesMaster type, this returns the occurrences and exceptions of the event in the
  specified time range" (https://learn.microsoft.com/en-us/graph/api/event-list-instances).

Lists page by ``$top`` (default 10) and ``$skip``, as Outlook's nextLinks do.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tests.fakes._graph_render import RenderCache, RenderOptions, render, render_instance
from tests.fakes._graph_store import (
    FakeCalendar,
    Item,
    instants,
    item_instances,
    master_instances,
    occurrence_at,
)
from tests.fakes._graph_wire import (
    GRAPH_PREFIX,
    Reply,
    bad_request,
    json_reply,
    parse_query_instant,
)

EVENT_TYPES = ("singleInstance", "occurrence", "exception", "seriesMaster")
_TYPE_FILTER_RE = re.compile(r"^\s*type\s+eq\s+'([^']*)'\s*$")


def type_filter(value: str | None) -> str | None:
    """The eventType of ``$filter=type eq '...'``; None without a filter."""
    if value is None:
        return None
    match = _TYPE_FILTER_RE.match(value)
    if match is None:
        raise bad_request(
            f"fake: $filter={value} is not served; only type eq '<eventType>' is.", "BadRequest"
        )
    if match.group(1) not in EVENT_TYPES:
        raise bad_request(
            f"Invalid filter clause: the value '{match.group(1)}' is not a valid eventType.",
            "BadRequest",
        )
    return match.group(1)


def allow(query: dict[str, str], allowed: set[str]) -> None:
    """Strict: a query option the endpoint does not take is refused (400)."""
    for name in query:
        if name not in allowed:
            raise bad_request(f"Query option '{name}' is not allowed.", "BadRequest")


def _int_option(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError as exc:
        raise bad_request(f"Invalid value for {name}.", "BadRequest") from exc
    if not low <= value <= high:
        raise bad_request(f"Invalid value for {name}.", "BadRequest")
    return value


class ViewsMixin:
    calendars: dict[str, FakeCalendar]
    user_id: str
    user_principal_name: str
    user_display_name: str
    _render_cache: RenderCache

    if TYPE_CHECKING:

        @property
        def graph_endpoint(self) -> str: ...

    def _organizer(self) -> dict[str, Any]:
        return {
            "emailAddress": {"name": self.user_display_name, "address": self.user_principal_name}
        }

    def _me(self) -> dict[str, Any]:
        first, _, last = self.user_display_name.partition(" ")
        return {
            "@odata.context": f"{self.graph_endpoint}/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": self.user_display_name,
            "givenName": first,
            "jobTitle": None,
            "mail": self.user_principal_name,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": last,
            "userPrincipalName": self.user_principal_name,
            "id": self.user_id,
        }

    def _calendar_body(self, cal: FakeCalendar) -> dict[str, Any]:
        return {
            "id": cal.id,
            "name": cal.name,
            "color": cal.color,
            "hexColor": cal.hex_color,
            "isDefaultCalendar": cal.is_default,
            "changeKey": cal.change_key,
            "canShare": cal.can_edit,
            "canViewPrivateItems": True,
            "canEdit": cal.can_edit,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": not cal.is_default,
            "owner": {"name": self.user_display_name, "address": self.user_principal_name},
        }

    def _paged(self, path: str, query: dict[str, str], values: list[Any], context: str) -> Reply:
        top = _int_option(query, "$top", 10, 1, 1000)
        skip = _int_option(query, "$skip", 0, 0, 10**9)
        body: dict[str, Any] = {"@odata.context": f"{self.graph_endpoint}/$metadata#{context}"}
        if skip + top < len(values):
            params = {k: v for k, v in query.items() if k != "$skip"} | {"$skip": str(skip + top)}
            link = self.graph_endpoint + path.removeprefix(GRAPH_PREFIX)
            body["@odata.nextLink"] = f"{link}?{urlencode(params, safe='$')}"
        body["value"] = values[skip : skip + top]
        return json_reply(200, body)

    def _calendars_list(self, path: str, query: dict[str, str]) -> Reply:
        allow(query, {"$top", "$skip"})
        ordered = sorted(self.calendars.values(), key=lambda c: (not c.is_default, c.name, c.id))
        return self._paged(
            path,
            query,
            [self._calendar_body(c) for c in ordered],
            f"users('{self.user_id}')/calendars",
        )

    def _render_item(
        self,
        item: Item,
        options: RenderOptions,
        default_zone: str | None = "UTC",
        cache: RenderCache | None = None,
    ) -> dict[str, Any]:
        """``cache``: only for a reply serialised at once (see `render`)."""
        start, end = instants(item)  # worked out when the item was written
        return render(
            item=item,
            instance_id=item.id,
            event_type=item.type,
            start=start,
            end=end,
            original_start=item.original_start,
            series_master_id=item.master_id,
            options=options,
            default_zone=default_zone,
            organizer=self._organizer(),
            cache=cache,
        )

    def _events_list(
        self, cal: FakeCalendar, path: str, query: dict[str, str], options: RenderOptions
    ) -> Reply:
        allow(query, {"$top", "$skip", "$select", "$expand", "$filter"})
        wanted = type_filter(query.get("$filter"))
        items = sorted(
            (i for i in cal.items.values() if wanted is None or i.type == wanted),
            key=lambda i: (i.created, i.id),
        )
        # Serialised at once by `_paged`: rendered through the cache, not deep-copied (a
        # full round lists every series master of the calendar this way).
        values = [self._render_item(i, options, cache=self._render_cache) for i in items]
        return self._paged(path, query, values, f"users('{self.user_id}')/events")

    def _calendar_view(
        self, cal: FakeCalendar, path: str, query: dict[str, str], options: RenderOptions
    ) -> Reply:
        allow(query, {"startDateTime", "endDateTime", "$top", "$skip", "$select", "$expand"})
        start = parse_query_instant(query.get("startDateTime"), "StartDateTime")
        end = parse_query_instant(query.get("endDateTime"), "EndDateTime")
        instances = [i for item in cal.items.values() for i in item_instances(item, start, end)]
        instances.sort(key=lambda i: (i.start, i.id))
        organizer = self._organizer()
        values = [
            render_instance(i, options, organizer, cache=self._render_cache) for i in instances
        ]
        return self._paged(path, query, values, f"users('{self.user_id}')/calendarView")

    def _event_view(
        self,
        cal: FakeCalendar,
        master: Item,
        original: Any,
        options: RenderOptions,
        zone: str | None,
    ) -> dict[str, Any]:
        """An event found by `_locate`: a stored item, or an occurrence/exception of ``master``."""
        if original is None:
            return self._render_item(master, options, zone)
        if original in master.exceptions:
            return self._render_item(master.exceptions[original], options, zone)
        instance = occurrence_at(master, original)
        assert instance is not None
        return render_instance(instance, options, self._organizer(), zone)

    def _instances(
        self, master: Item, original: Any, path: str, query: dict[str, str], options: RenderOptions
    ) -> Reply:
        allow(query, {"startDateTime", "endDateTime", "$top", "$skip", "$select"})
        start = parse_query_instant(query.get("startDateTime"), "StartDateTime")
        end = parse_query_instant(query.get("endDateTime"), "EndDateTime")
        found = []
        if original is None and master.type == "seriesMaster":
            found = sorted(master_instances(master, start, end), key=lambda i: (i.start, i.id))
        organizer = self._organizer()
        values = [render_instance(i, options, organizer) for i in found]
        return self._paged(path, query, values, "Collection(event)")
