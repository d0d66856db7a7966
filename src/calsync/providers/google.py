"""Google Calendar API v3 through google-api-python-client; ``provider = "google"``.

The client is built from the discovery document bundled with the library
(``static_discovery=True``), so building it sends nothing over the network;
``api_endpoint`` and ``token_uri`` point it at a local fake in tests.
The transport is ours (`authorized_http`), so ``ca_file`` is trusted by both the
API requests and google-auth's token refresh, which shares that httplib2 client.

Calendars: calendarList.list in full once, then with its ``nextSyncToken``
(kept per account for the life of the process; see `GoogleProvider.list_calendars`).

Pulls: a full sync lists every event (``showDeleted=true, singleEvents=false``,
no time window: Google's sync tokens forbid one on incremental requests) and
ends with ``full_listing=True``; an incremental sync sends only ``syncToken``
plus the same flags. Pages may be short or empty while ``nextPageToken`` is
present; only the last page has ``nextSyncToken``, which becomes the cursor.
410 -> `CursorExpired`. See `_google_convert` for the event mapping (cancelled
instances are cancelled overrides; other cancelled events are deletions).

Writes: inserts carry an id derived from ``event_uid`` (`event_id_for`), so a
retried insert meets 409 ``duplicate``: it returns the existing event when that
holds what the insert sends (the retry of an insert that landed), brings it
back when it was cancelled, and is `PreconditionFailed` otherwise (an older
version of ours, or somebody's edit: the engine settles it by pulling). An
override is written by patching the occurrence that ``events.instances``
finds at its original start. Patches and deletes send ``If-Match``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from googleapiclient.discovery import build

from calsync.errors import CursorExpired, PreconditionFailed, ProviderError, UserError
from calsync.model import EventContent, RemoteCalendar, RemoteEvent, round_trip_key
from calsync.providers import secrets_vault
from calsync.providers._calendar_filter import no_calendar_matches
from calsync.providers._google_auth import account_credentials, authorize_installed_app
from calsync.providers._google_calendars import (
    CalendarListState,
    calendar_list_key,
    calendar_list_state,
    remember_calendar_list,
    to_calendar,
)
from calsync.providers._google_config import (
    CONFIG_SECTION,
    DEFAULT_PAGE_SIZE,
    GOOGLE_TOKEN_URI,
    MAX_PAGE_SIZE,
)
from calsync.providers._google_convert import (
    event_id_for,
    is_deletion,
    rfc3339,
    to_body,
    to_remote_event,
)
from calsync.providers._google_http import ApiError, Executor, authorized_http
from calsync.providers._options import opt_int, opt_path, opt_secret, opt_str, opt_str_list
from calsync.providers.base import Capabilities, PullPage, SyncWindow, WriteResult
from calsync.providers.registry import ProviderSpec

__all__ = [
    "CONFIG_SECTION",
    "SPEC",
    "Channel",
    "GoogleProvider",
    "authorize_installed_app",
    "create_google_provider",
    "event_id_for",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Channel:
    """A Google push channel (events.watch); renew before ``expiration``."""

    id: str
    resource_id: str
    resource_uri: str | None
    expiration: datetime | None
    token: str | None


class GoogleProvider:
    capabilities = Capabilities(
        read_only=False,
        incremental=True,
        push_channels=True,
        create_calendar=False,
        series_as_unit=False,  # instances arrive separately from their master
    )

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        token_uri: str = GOOGLE_TOKEN_URI,
        api_endpoint: str | None = None,
        calendars: Sequence[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
        retries: int = 3,
        backoff: float = 0.5,
        ca_file: str | Path | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        self.calendar_filter = tuple(calendars)
        self.page_size = page_size
        # Shared per account: a provider per pass must not mean a token per pass.
        self.credentials = account_credentials(
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            token_uri=token_uri,
        )
        options = {"api_endpoint": api_endpoint} if api_endpoint else None
        self._service: Any = build(
            "calendar",
            "v3",
            http=authorized_http(self.credentials, ca_file),
            static_discovery=True,
            cache_discovery=False,
            client_options=options,
        )
        self._execute = Executor(retries=retries, backoff=backoff, token_uri=token_uri)
        self._calendar_list_key = calendar_list_key(api_endpoint, client_id, refresh_token)

    # -- calendars ----------------------------------------------------------------

    def list_calendars(self) -> Sequence[RemoteCalendar]:
        """Every calendar the account lists, after the ``calendars`` filter.

        The first call lists in full; later calls send the calendarList
        ``nextSyncToken`` and apply only the changes (deleted and hidden
        entries drop out). The Protocol has no cursor here, so the token and
        the entries it covers stay in this process, per account (keyed by
        endpoint, client id and a hash of the refresh token): the engine
        builds a provider per pass, and each reuses them. A fresh process
        lists in full once. A 410 (token expired) falls back to a full listing.
        """
        state = calendar_list_state(self._calendar_list_key)
        token = state.token
        try:
            entries, next_token = self._calendar_list_entries(token)
        except ApiError as exc:
            if exc.status != 410 or token is None:
                raise
            log.info("calendarList sync token expired (%s); listing in full", exc.message)
            token = None
            entries, next_token = self._calendar_list_entries(None)
        # Applied only once every page arrived: a failure part-way keeps the
        # previous view and token, so the next call repeats the same request.
        known: dict[str, Mapping[str, Any]] = {} if token is None else dict(state.entries)
        for entry in entries:
            if entry.get("deleted") or entry.get("hidden"):
                known.pop(entry["id"], None)
            else:
                known[entry["id"]] = entry
        remember_calendar_list(self._calendar_list_key, CalendarListState(next_token, known))
        wanted = [to_calendar(e) for e in known.values() if self._wanted(e)]
        if self.calendar_filter and not wanted:
            raise no_calendar_matches(
                self.calendar_filter,
                (e.get("summaryOverride") or e.get("summary") or e["id"] for e in known.values()),
            )
        return wanted

    def _calendar_list_entries(
        self, sync_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every page of calendarList.list; with a sync token, only the changes."""
        # Google refuses showDeleted/showHidden=false and minAccessRole beside
        # syncToken; a full listing's defaults already leave those entries out.
        params: dict[str, Any] = {"maxResults": 250}
        if sync_token is not None:
            params["syncToken"] = sync_token
        entries: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            request = self._service.calendarList().list(**params, pageToken=page_token)
            response = self._execute(request, "calendarList.list")
            entries += response.get("items", ())
            page_token = response.get("nextPageToken")
            if not page_token:
                return entries, response.get("nextSyncToken")

    def _wanted(self, entry: Mapping[str, Any]) -> bool:
        if not self.calendar_filter:
            return True
        names = {entry.get("id"), entry.get("summary"), entry.get("summaryOverride")}
        if entry.get("primary"):
            names.add("primary")
        return bool(names.intersection(self.calendar_filter))

    # -- pulls ------------------------------------------------------------------------

    def pull(
        self, calendar_remote_id: str, cursor: str | None, window: SyncWindow
    ) -> Iterator[PullPage]:
        params: dict[str, Any] = {
            "calendarId": calendar_remote_id,
            "showDeleted": True,
            "singleEvents": False,
            "maxResults": self.page_size,
        }
        if cursor is not None:
            params["syncToken"] = cursor
        # The first page is fetched now, so an expired cursor raises from the
        # call itself, before the caller holds a single page.
        first = self._list_page(params, None)
        return self._pages(params, first, full=cursor is None)

    def _list_page(self, params: Mapping[str, Any], page_token: str | None) -> dict[str, Any]:
        request = self._service.events().list(**params, pageToken=page_token)
        try:
            response: dict[str, Any] = self._execute(request, "events.list")
        except ApiError as exc:
            if exc.status == 410:
                raise CursorExpired(exc.message) from exc
            raise
        return response

    def _pages(
        self, params: Mapping[str, Any], response: dict[str, Any], *, full: bool
    ) -> Iterator[PullPage]:
        while True:
            zone = response.get("timeZone")
            changed: list[RemoteEvent] = []
            deleted: list[str] = []
            for item in response.get("items", ()):
                if is_deletion(item):
                    deleted.append(item["id"])
                else:
                    changed.append(to_remote_event(item, zone))
            next_page = response.get("nextPageToken")
            if next_page:
                yield PullPage(changed=tuple(changed), deleted=tuple(deleted))
                response = self._list_page(params, next_page)
                continue
            sync_token = response.get("nextSyncToken")
            if not sync_token:
                raise ProviderError("Google's last events page carried no nextSyncToken")
            yield PullPage(
                changed=tuple(changed),
                deleted=tuple(deleted),
                final=True,
                cursor=sync_token,
                full_listing=full,
            )
            return

    # -- writes -------------------------------------------------------------------------

    def create_event(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None = None,
    ) -> WriteResult:
        body = to_body(content, origin_event_uid=event_uid)
        if master_remote_id is not None:
            return self._write_override(calendar_remote_id, master_remote_id, content, body)
        event_id = event_id_for(event_uid)
        events = self._service.events()
        try:
            created = self._execute(
                events.insert(calendarId=calendar_remote_id, body={**body, "id": event_id}),
                "events.insert",
            )
        except ApiError as exc:
            if exc.status != 409:
                raise
            created = self._existing(calendar_remote_id, event_id, content, body)
        return WriteResult(remote_id=created["id"], etag=created.get("etag"))

    def _existing(
        self, calendar_id: str, event_id: str, content: EventContent, body: dict[str, Any]
    ) -> dict[str, Any]:
        """An insert met an event with its id already there."""
        events = self._service.events()
        found: dict[str, Any] = self._execute(
            events.get(calendarId=calendar_id, eventId=event_id), "events.get"
        )
        if found.get("status") == "cancelled":
            # Deleted since; creating it again means bringing it back.
            patched: dict[str, Any] = self._execute(
                events.patch(calendarId=calendar_id, eventId=event_id, body=body),
                "events.patch",
                headers=_if_match(found.get("etag")),
            )
            return patched
        # The insert sent the start's own time zone, so the calendar's is not needed.
        listed = to_remote_event(found, None)
        if round_trip_key(listed.content) != round_trip_key(content):
            raise PreconditionFailed(f"event {event_id!r} already exists with other content")
        return found

    def _write_override(
        self, calendar_id: str, master_id: str, content: EventContent, body: dict[str, Any]
    ) -> WriteResult:
        if content.original_start is None:
            raise UserError("an override needs original_start")
        found = self._execute(
            self._service.events().instances(
                calendarId=calendar_id,
                eventId=master_id,
                originalStart=rfc3339(content.original_start),
                showDeleted=True,
            ),
            "events.instances",
        )
        items = found.get("items", ())
        if not items:
            raise ProviderError(
                f"{master_id!r} has no occurrence at {rfc3339(content.original_start)}"
            )
        body.pop("recurrence", None)
        patched = self._execute(
            self._service.events().patch(calendarId=calendar_id, eventId=items[0]["id"], body=body),
            "events.patch",
        )
        return WriteResult(remote_id=patched["id"], etag=patched.get("etag"))

    def update_event(
        self, calendar_remote_id: str, remote_id: str, content: EventContent, etag: str | None
    ) -> WriteResult:
        body = to_body(content, origin_event_uid=None)
        if content.original_start is None:
            body.setdefault("recurrence", [])  # clears a series turned single
        request = self._service.events().patch(
            calendarId=calendar_remote_id, eventId=remote_id, body=body
        )
        try:
            updated = self._execute(request, "events.patch", headers=_if_match(etag))
        except ApiError as exc:
            if exc.status in (404, 410):
                raise PreconditionFailed(f"{remote_id!r} was deleted remotely") from exc
            raise
        return WriteResult(remote_id=updated["id"], etag=updated.get("etag"))

    def delete_event(self, calendar_remote_id: str, remote_id: str, etag: str | None) -> None:
        request = self._service.events().delete(calendarId=calendar_remote_id, eventId=remote_id)
        try:
            self._execute(request, "events.delete", headers=_if_match(etag))
        except ApiError as exc:
            if exc.status not in (404, 410):  # already gone
                raise

    # -- push channels -------------------------------------------------------------------

    def watch(
        self,
        calendar_remote_id: str,
        address: str,
        token: str | None,
        *,
        channel_id: str,
        ttl: timedelta | None = None,
    ) -> Channel:
        """Ask Google to POST to ``address`` when the calendar's events change."""
        body: dict[str, Any] = {"id": channel_id, "type": "web_hook", "address": address}
        if token is not None:
            body["token"] = token
        if ttl is not None:
            expires = datetime.now(UTC) + ttl
            body["expiration"] = str(int(expires.timestamp() * 1000))
        reply = self._execute(
            self._service.events().watch(calendarId=calendar_remote_id, body=body),
            "events.watch",
        )
        expiration = reply.get("expiration")
        return Channel(
            id=reply["id"],
            resource_id=reply["resourceId"],
            resource_uri=reply.get("resourceUri"),
            expiration=(
                datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration else None
            ),
            token=reply.get("token", token),
        )

    def stop(self, channel: Channel) -> None:
        """Stop a channel; one Google no longer knows is already stopped."""
        request = self._service.channels().stop(
            body={"id": channel.id, "resourceId": channel.resource_id}
        )
        try:
            self._execute(request, "channels.stop")
        except ApiError as exc:
            if exc.status != 404:
                raise

    def close(self) -> None:
        self._service.close()


def _if_match(etag: str | None) -> dict[str, str] | None:
    return {"If-Match": etag} if etag else None


def read_refresh_token(account_name: str, options: Mapping[str, Any]) -> str:
    """The refresh token from ``refresh_token_file``, decrypted when it is a vault ciphertext."""
    stored = opt_secret(account_name, options, "refresh_token_file")
    if stored is None:
        raise UserError(
            f"account {account_name!r}: refresh_token_file is required",
            hint=f"Run `calsync account add google --name {account_name}` to create it.",
        )
    if not secrets_vault.is_ciphertext(stored):
        return stored
    keys = secrets_vault.load_keys(opt_secret(account_name, options, "vault_key_file"))
    return secrets_vault.TokenVault(keys).decrypt(stored)


def create_google_provider(account_name: str, options: Mapping[str, Any]) -> GoogleProvider:
    """The factory behind ``provider = "google"``."""
    client_id = opt_str(account_name, options, "client_id", required=True)
    assert client_id is not None
    return GoogleProvider(
        client_id=client_id,
        client_secret=opt_secret(account_name, options, "client_secret_file"),
        refresh_token=read_refresh_token(account_name, options),
        token_uri=opt_str(account_name, options, "token_uri") or GOOGLE_TOKEN_URI,
        api_endpoint=opt_str(account_name, options, "api_endpoint"),
        calendars=opt_str_list(account_name, options, "calendars"),
        page_size=opt_int(account_name, options, "page_size", DEFAULT_PAGE_SIZE),
        ca_file=opt_path(account_name, options, "ca_file"),
    )


SPEC = ProviderSpec(
    name="google",
    factory=create_google_provider,
    config_section=CONFIG_SECTION,
    description="Google Calendar, incremental via sync tokens.",
)
