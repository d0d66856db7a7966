"""Microsoft 365 and Outlook.com calendars through Microsoft Graph; ``provider = "microsoft"``.

Auth: msal (`_graph_auth`). HTTP: httpx with the retry policy of `_graph_http`.
Pulls: ``calendarView/delta`` over the sync window (`_graph_delta`). Event JSON:
`_graph_convert`; recurrence: `_graph_recurrence`.

Writes:

- create: ``POST /me/calendars/{id}/events`` with ``transactionId`` =
  ``calsync:<event uid>``. Graph answers a repeated transactionId with the event
  it already made, so a retried create never duplicates; that answer must hold
  what the create sends, else the create is `PreconditionFailed` (an older
  version of ours, or somebody's edit: the engine settles it by pulling). The
  transactionId also names the event uid in every listing, which is how the push
  journal recognises a create whose answer was lost. A
  ``singleValueExtendedProperties`` marker carries the uid as well.
- an override: the occurrence at its original start is found with
  ``GET /me/events/{master}/instances`` and PATCHed (it becomes an exception), or
  DELETEd when the override cancels it.
- update: ``PATCH`` with ``If-Match`` (412, or 404 for an event deleted
  remotely -> `PreconditionFailed`: the engine re-pulls and re-plans).
- delete: ``DELETE`` with ``If-Match``; 404 means already gone.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from calsync.errors import PreconditionFailed, UserError
from calsync.model import EventContent, RemoteCalendar, round_trip_key
from calsync.providers import secrets_vault
from calsync.providers._graph_auth import GraphAuth, account_auth, authorize_auth_code
from calsync.providers._graph_convert import (
    MARKER_PROPERTY,
    TRANSACTION_PREFIX,
    from_graph_body,
    occurrence_window,
    parse_offset_time,
    to_body,
    to_content,
)
from calsync.providers._graph_delta import DeltaPull, memory_for
from calsync.providers._graph_http import GraphApiError, GraphClient
from calsync.providers._microsoft_config import (
    CONFIG_SECTION,
    DEFAULT_AUTHORITY,
    DEFAULT_GRAPH_ENDPOINT,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
)
from calsync.providers._options import opt_int, opt_secret, opt_str, opt_str_list
from calsync.providers.base import Capabilities, PullPage, SyncWindow, WriteResult
from calsync.providers.registry import ProviderSpec

__all__ = [
    "CONFIG_SECTION",
    "SPEC",
    "MicrosoftProvider",
    "authorize_auth_code",
    "create_microsoft_provider",
]

log = logging.getLogger(__name__)


class MicrosoftProvider:
    capabilities = Capabilities(
        read_only=False,
        incremental=True,
        push_channels=True,  # Graph subscriptions (`watch`)
        create_calendar=False,
        series_as_unit=False,  # occurrences and exceptions arrive on their own
    )

    def __init__(
        self,
        *,
        auth: GraphAuth,
        graph_endpoint: str = DEFAULT_GRAPH_ENDPOINT,
        ca_file: str | None = None,
        calendars: Sequence[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
        account_key: str | None = None,
        **client_options: Any,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        self.calendar_filter = tuple(calendars)
        self.client = GraphClient(
            graph_endpoint, auth, ca_file=ca_file, page_size=page_size, **client_options
        )
        self._account_key = account_key or f"{graph_endpoint}|{id(auth)}"

    # -- calendars ------------------------------------------------------------------------

    def list_calendars(self) -> Sequence[RemoteCalendar]:
        found: list[RemoteCalendar] = []
        for page in self.client.pages("/me/calendars", "list calendars", params={"$top": "100"}):
            for entry in page.get("value") or ():
                if self._wanted(entry):
                    found.append(
                        RemoteCalendar(
                            remote_id=str(entry["id"]),
                            name=str(entry.get("name") or ""),
                            color=entry.get("hexColor") or None,
                            read_only=not entry.get("canEdit", True),
                            primary=bool(entry.get("isDefaultCalendar")),
                            version=entry.get("changeKey"),
                        )
                    )
        return found

    def _wanted(self, entry: Mapping[str, Any]) -> bool:
        if not self.calendar_filter:
            return True
        names = {entry.get("id"), entry.get("name")}
        if entry.get("isDefaultCalendar"):
            names.add("primary")
        return bool(names.intersection(self.calendar_filter))

    # -- pulls ------------------------------------------------------------------------------

    def pull(
        self, calendar_remote_id: str, cursor: str | None, window: SyncWindow
    ) -> Iterator[PullPage]:
        delta = DeltaPull(
            self.client, calendar_remote_id, memory_for(self._account_key, calendar_remote_id)
        )
        if cursor is None:
            return delta.full(window)
        return delta.incremental(cursor, window)

    # -- writes -------------------------------------------------------------------------------

    def create_event(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None = None,
    ) -> WriteResult:
        if master_remote_id is not None:
            return self._write_override(master_remote_id, content)
        body = to_body(content, series=True)
        if body.get("recurrence") is None:
            body.pop("recurrence", None)
        body["transactionId"] = TRANSACTION_PREFIX + event_uid
        body["singleValueExtendedProperties"] = [{"id": MARKER_PROPERTY, "value": event_uid}]
        created = self.client.json(
            "POST", f"/me/calendars/{calendar_remote_id}/events", "create event", body=body
        )
        # A repeated transactionId answers with the event made first: it must hold
        # what this create sends (both sides read through the same conversion).
        if round_trip_key(to_content(created)) != round_trip_key(from_graph_body(body, content)):
            raise PreconditionFailed(
                f"event {created.get('id')!r} (transactionId of {event_uid!r}) already "
                "exists with other content"
            )
        return WriteResult(remote_id=str(created["id"]), etag=created.get("@odata.etag"))

    def _occurrence(self, master_id: str, original: date | datetime) -> dict[str, Any]:
        start, end = occurrence_window(original)
        params = {
            "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        path = f"/me/events/{master_id}/instances"
        for page in self.client.pages(path, "list instances", params=params):
            for item in page.get("value") or ():
                found = item.get("originalStart")
                if not isinstance(found, str):
                    continue
                instant = parse_offset_time(found)
                if instant == original or (
                    not isinstance(original, datetime) and instant.date() == original
                ):
                    return dict(item)
        raise PreconditionFailed(f"series {master_id!r} has no occurrence at {original}")

    def _write_override(self, master_id: str, content: EventContent) -> WriteResult:
        if content.original_start is None:
            raise UserError("an override needs original_start")
        occurrence = self._occurrence(master_id, content.original_start)
        occurrence_id = str(occurrence["id"])
        if content.status == "cancelled":
            self._delete(occurrence_id, None)
            return WriteResult(remote_id=occurrence_id)
        patched = self.client.json(
            "PATCH",
            f"/me/events/{occurrence_id}",
            "update occurrence",
            body=to_body(content, series=False),
        )
        return WriteResult(remote_id=str(patched["id"]), etag=patched.get("@odata.etag"))

    def update_event(
        self, calendar_remote_id: str, remote_id: str, content: EventContent, etag: str | None
    ) -> WriteResult:
        if content.original_start is not None and content.status == "cancelled":
            self.delete_event(calendar_remote_id, remote_id, etag)
            return WriteResult(remote_id=remote_id)
        body = to_body(content, series=content.original_start is None)
        try:
            updated = self.client.json(
                "PATCH", f"/me/events/{remote_id}", "update event", body=body, headers=_if(etag)
            )
        except GraphApiError as exc:
            if exc.status in (404, 410, 412):
                raise PreconditionFailed(exc.message) from exc
            raise
        return WriteResult(remote_id=str(updated["id"]), etag=updated.get("@odata.etag"))

    def delete_event(self, calendar_remote_id: str, remote_id: str, etag: str | None) -> None:
        self._delete(remote_id, etag)

    def _delete(self, remote_id: str, etag: str | None) -> None:
        try:
            self.client.request(
                "DELETE", f"/me/events/{remote_id}", "delete event", headers=_if(etag)
            )
        except GraphApiError as exc:
            if exc.status == 412:
                raise PreconditionFailed(exc.message) from exc
            if exc.status not in (404, 410):  # already gone
                raise

    # -- push channels (Graph subscriptions) ---------------------------------------------------

    def watch(
        self,
        calendar_remote_id: str,
        address: str,
        token: str | None,
        *,
        channel_id: str,
        ttl: timedelta | None = None,
    ) -> Channel:
        """``POST /subscriptions`` for the calendar's events (created, updated, deleted).

        ``address`` is the daemon's push address; Graph notifications go to its
        ``microsoft`` sibling with the channel id in the query (`notification_url`).
        Graph validates that URL before it answers (the route echoes the token).
        ``token`` becomes ``clientState``, which every notification carries back.
        """
        lifetime = min(ttl or MAX_SUBSCRIPTION, MAX_SUBSCRIPTION)
        expires = datetime.now(UTC) + lifetime
        url = notification_url(address, channel_id)
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": url,
            "lifecycleNotificationUrl": url,
            "resource": f"/me/calendars/{calendar_remote_id}/events",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "clientState": token or channel_id,
        }
        created = self.client.json("POST", "/subscriptions", "create subscription", body=body)
        expiration = created.get("expirationDateTime")
        return Channel(
            id=channel_id,
            resource_id=str(created["id"]),
            resource_uri=str(created.get("resource") or ""),
            expiration=parse_offset_time(expiration) if isinstance(expiration, str) else expires,
            token=token,
        )

    def stop(self, channel: Any) -> None:
        """``DELETE /subscriptions/{id}``; one Graph no longer knows is already gone."""
        try:
            self.client.request(
                "DELETE", f"/subscriptions/{channel.resource_id}", "delete subscription"
            )
        except GraphApiError as exc:
            if exc.status != 404:
                raise

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True, slots=True)
class Channel:
    """A Graph subscription as a push channel: ``resource_id`` is the subscription id."""

    id: str
    resource_id: str
    resource_uri: str | None
    expiration: datetime | None
    token: str | None


#: Outlook event subscriptions live at most 4230 minutes (about three days).
MAX_SUBSCRIPTION = timedelta(minutes=4200)
GRAPH_PUSH_SEGMENT = "microsoft"


def notification_url(address: str, channel_id: str) -> str:
    """The daemon's push address with its last segment ``microsoft`` (``/push/microsoft``)
    and the channel id in the query."""
    base = address.rstrip("/").rsplit("/", 1)[0]
    return f"{base}/{GRAPH_PUSH_SEGMENT}?{urlencode({'channel': channel_id})}"


def _if(etag: str | None) -> dict[str, str] | None:
    return {"If-Match": etag} if etag else None


# -- configuration -------------------------------------------------------------------------


def read_refresh_token(account_name: str, options: Mapping[str, Any]) -> str:
    """The refresh token from ``refresh_token_file``, decrypted when it is a vault ciphertext."""
    stored = opt_secret(account_name, options, "refresh_token_file")
    if stored is None:
        raise UserError(
            f"account {account_name!r}: refresh_token_file is required",
            hint=f"Run `calsync account add microsoft --name {account_name}` to create it.",
        )
    if not secrets_vault.is_ciphertext(stored):
        return stored
    keys = secrets_vault.load_keys(opt_secret(account_name, options, "vault_key_file"))
    return secrets_vault.TokenVault(keys).decrypt(stored)


def _path(value: Any) -> str | None:
    return str(value) if isinstance(value, str | Path) and str(value) else None


def create_microsoft_provider(account_name: str, options: Mapping[str, Any]) -> MicrosoftProvider:
    """The factory behind ``provider = "microsoft"``."""
    client_id = opt_str(account_name, options, "client_id", required=True)
    assert client_id is not None
    refresh_token = read_refresh_token(account_name, options)
    authority = opt_str(account_name, options, "authority") or DEFAULT_AUTHORITY
    if not authority.startswith("https://"):
        raise UserError(
            f"account {account_name!r}: authority must be an https URL (msal refuses others)"
        )
    endpoint = opt_str(account_name, options, "graph_endpoint") or DEFAULT_GRAPH_ENDPOINT
    ca_file = _path(options.get("ca_file"))
    cache = _path(options.get("token_cache"))
    keys = None
    if cache is not None:
        keys = secrets_vault.load_keys(opt_secret(account_name, options, "vault_key_file"))
    secret = opt_secret(account_name, options, "client_secret_file")
    auth = account_auth(
        client_id=client_id,
        client_secret=secret,
        authority=authority,
        refresh_token=refresh_token,
        ca_file=ca_file,
        token_cache=Path(cache) if cache else None,
        vault_keys=keys,
    )
    digest = hashlib.sha256(f"{client_id}\0{refresh_token}".encode()).hexdigest()
    return MicrosoftProvider(
        auth=auth,
        graph_endpoint=endpoint,
        ca_file=ca_file,
        calendars=opt_str_list(account_name, options, "calendars"),
        page_size=opt_int(account_name, options, "page_size", DEFAULT_PAGE_SIZE),
        account_key=f"{endpoint}|{digest}",
    )


SPEC = ProviderSpec(
    name="microsoft",
    factory=create_microsoft_provider,
    config_section=CONFIG_SECTION,
    description="Microsoft 365 / Outlook.com through Microsoft Graph, incremental via delta.",
)
