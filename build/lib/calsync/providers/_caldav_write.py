"""CalDAV writes: conditional PUT/DELETE of resources, overrides rewritten in place.

- Create PUTs ``<calendar>/<event_uid>.ics`` with ``If-None-Match: *``. The href
  is a function of ``event_uid``, so a retry after a lost response hits the
  412 instead of creating a duplicate. The 412 is success only when the
  resource holds what this create sends (the retry of a create that landed);
  holding anything else (an older version we pushed, or somebody's edit) it is
  `PreconditionFailed`, which the engine settles by pulling and planning.
- Update PUTs with ``If-Match``; 412 -> `PreconditionFailed`. It reads the
  resource first, so the overrides (and the properties calsync does not
  model, like alarms) in the same resource survive.
- An override lives in its master's resource: creating, updating or deleting
  one rewrites that resource under ``If-Match``.
- Deleting an override removes its VEVENT (the occurrence reverts to the
  series' rule); cancelling an occurrence is an update with status cancelled.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urljoin

from icalendar import Calendar, Event

from calsync.errors import PreconditionFailed, ProviderError
from calsync.model import EventContent, round_trip_key
from calsync.providers import _caldav_xml as dav
from calsync.providers import _ical
from calsync.providers._caldav_http import ICS_HEADERS, DavTransport
from calsync.providers._ical import Component
from calsync.providers.base import WriteResult


def split_remote_id(remote_id: str) -> tuple[str, str | None]:
    """``href#20260301T140000Z`` -> (href, recurrence key); a master has no key."""
    href, _, key = remote_id.partition("#")
    return href, key or None


class CalDAVWriter:
    def __init__(self, http: DavTransport) -> None:
        self.http = http

    def create(
        self,
        calendar_url: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None,
    ) -> WriteResult:
        if master_remote_id is not None:
            return self._write_override(calendar_url, master_remote_id, content, event_uid)
        href = dav.canonical_href(
            calendar_url.rstrip("/") + "/" + quote(event_uid, safe="") + ".ics"
        )
        vevent = _ical.new_vevent(event_uid, content, origin_event_uid=event_uid)
        body = _ical.serialize(_ical.calendar_of([vevent]))
        url = urljoin(calendar_url, href)
        reply = self.http.send("PUT", url, body, {**ICS_HEADERS, "If-None-Match": "*"})
        if reply.status in (200, 201, 204):
            return WriteResult(remote_id=href, etag=reply.etag)
        if reply.status == 412:
            return self._existing(url, href, vevent, content)
        if reply.status == 409:
            raise ProviderError(
                f"PUT {url}: the server refused the event (HTTP 409, UID conflict?)"
            )
        raise ProviderError(f"PUT {url}: unexpected HTTP {reply.status}")

    def _existing(
        self, url: str, href: str, vevent: Component, content: EventContent
    ) -> WriteResult:
        """A create met an existing resource: success only if it holds this very event."""
        existing = self.http.send("GET", url)
        if existing.status != 200:
            raise PreconditionFailed(
                f"PUT {url}: the resource exists (GET answered {existing.status})"
            )
        masters = [
            v for v in vevents_of(_ical.parse_calendar(existing.body)) if "RECURRENCE-ID" not in v
        ]
        same = (
            len(masters) == 1
            and str(masters[0].get("UID")) == str(vevent.get("UID"))
            and round_trip_key(_ical.vevent_to_content(masters[0])) == round_trip_key(content)
        )
        if not same:
            raise PreconditionFailed(f"PUT {url}: the resource exists with other content")
        return WriteResult(remote_id=href, etag=existing.etag)

    def update(
        self, calendar_url: str, remote_id: str, content: EventContent, etag: str | None
    ) -> WriteResult:
        href, key = split_remote_id(remote_id)
        url = urljoin(calendar_url, href)
        calendar, current = self._read(url, etag, missing_ok=False)
        assert calendar is not None
        vevents = vevents_of(calendar)
        target = _find(vevents, key)
        if key is not None and content.original_start is None and target is not None:
            content = replace(content, original_start=target["RECURRENCE-ID"].dt)
        if target is None:
            uid = _uid_of(vevents) or href.rpartition("/")[2].removesuffix(".ics")
            target = _ical.new_vevent(uid, content, origin_event_uid=None)
            calendar.add_component(target)
        else:
            _ical.apply_content(target, content)
        new_etag = self._put(url, calendar, current)
        new_key = (
            None if content.original_start is None else _ical.recurrence_key(content.original_start)
        )
        return WriteResult(
            remote_id=href if key is None else f"{href}#{new_key or key}", etag=new_etag
        )

    def delete(self, calendar_url: str, remote_id: str, etag: str | None) -> None:
        href, key = split_remote_id(remote_id)
        url = urljoin(calendar_url, href)
        if key is None:
            headers = {"If-Match": etag} if etag else {}
            reply = self.http.send("DELETE", url, headers=headers)
            if reply.status in (200, 204, 404, 410):
                return
            if reply.status == 412:
                raise PreconditionFailed(f"DELETE {url}: the event changed since {etag}")
            raise ProviderError(f"DELETE {url}: unexpected HTTP {reply.status}")
        calendar, current = self._read(url, etag, missing_ok=True)
        if calendar is None:
            return
        kept = [c for c in calendar.subcomponents if not _is_override(c, key)]
        if len(kept) == len(calendar.subcomponents):
            return
        calendar.subcomponents[:] = kept
        self._put(url, calendar, current)

    def _write_override(
        self, calendar_url: str, master_remote_id: str, content: EventContent, event_uid: str
    ) -> WriteResult:
        if content.original_start is None:
            raise ProviderError("an override needs content.original_start (its RECURRENCE-ID)")
        href, _ = split_remote_id(master_remote_id)
        url = urljoin(calendar_url, href)
        calendar, current = self._read(url, None, missing_ok=False)
        assert calendar is not None
        key = _ical.recurrence_key(content.original_start)
        uid = _uid_of(vevents_of(calendar))
        if uid is None:
            raise PreconditionFailed(f"{url}: the master resource holds no event")
        # Replacing an existing override with the same RECURRENCE-ID keeps a retry idempotent.
        calendar.subcomponents[:] = [c for c in calendar.subcomponents if not _is_override(c, key)]
        calendar.add_component(_ical.new_vevent(uid, content, origin_event_uid=event_uid))
        new_etag = self._put(url, calendar, current)
        return WriteResult(remote_id=f"{href}#{key}", etag=new_etag)

    def _read(
        self, url: str, etag: str | None, *, missing_ok: bool
    ) -> tuple[Calendar | None, str | None]:
        reply = self.http.send("GET", url)
        if reply.status in (404, 410):
            if missing_ok:
                return None, None
            raise PreconditionFailed(f"GET {url}: the event is gone")
        if reply.status != 200:
            raise ProviderError(f"GET {url}: unexpected HTTP {reply.status}")
        if etag is not None and reply.etag is not None and reply.etag != etag:
            raise PreconditionFailed(f"{url}: the event changed since {etag}")
        return _ical.parse_calendar(reply.body), reply.etag or etag

    def _put(self, url: str, calendar: Calendar, if_match: str | None) -> str | None:
        headers = dict(ICS_HEADERS)
        if if_match:
            headers["If-Match"] = if_match
        reply = self.http.send("PUT", url, _ical.serialize(calendar), headers)
        if reply.status == 412:
            raise PreconditionFailed(f"PUT {url}: the event changed since {if_match}")
        if reply.status not in (200, 201, 204):
            raise ProviderError(f"PUT {url}: unexpected HTTP {reply.status}")
        return reply.etag


def _find(vevents: list[Component], key: str | None) -> Component | None:
    for vevent in vevents:
        recurrence_id = vevent.get("RECURRENCE-ID")
        if key is None and recurrence_id is None:
            return vevent
        if (
            key is not None
            and recurrence_id is not None
            and _ical.recurrence_key(recurrence_id.dt) == key
        ):
            return vevent
    return None


def _is_override(component: Component, key: str) -> bool:
    if not isinstance(component, Event):
        return False
    recurrence_id = component.get("RECURRENCE-ID")
    return recurrence_id is not None and _ical.recurrence_key(recurrence_id.dt) == key


def _uid_of(vevents: list[Component]) -> str | None:
    for vevent in vevents:
        uid = vevent.get("UID")
        if uid is not None:
            return str(uid)
    return None


def vevents_of(calendar: Calendar) -> list[Component]:
    return list(calendar.walk("VEVENT"))
