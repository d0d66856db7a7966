"""Change-notification subscriptions of the fake Graph server (a mixin of `MicrosoftGraphFake`).

Per https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks and
https://learn.microsoft.com/en-us/graph/api/resources/subscription:

- ``POST /subscriptions`` validates each URL first: it POSTs to
  ``notificationUrl?validationToken=...`` (and to ``lifecycleNotificationUrl``) with
  ``Content-Type: text/plain`` and requires, within 10 seconds, ``200 OK``, a
  ``text/plain`` content type and the URL-decoded token as the body; otherwise 400 and
  no subscription. The token looks like Graph's ("Validation: Testing client application
  reachability for subscription Request-Id: ...",
  https://github.com/microsoftgraph/microsoft-graph-docs/issues/21160), spaces and all,
  so a client that does not URL-decode fails.
- ``expirationDateTime`` at most 4230 minutes ahead for Outlook events, else 400
  ``ExtensionError`` "Subscription expiration can only be 4230 minutes in the future."
  (https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/7726);
  ``PATCH`` renews under the same limit; ``DELETE`` answers 204; an expired subscription
  is gone (404).
- Notifications ``{"value": [{subscriptionId, subscriptionExpirationDateTime, changeType,
  resource, resourceData{@odata.type, @odata.id, @odata.etag, id}, clientState,
  tenantId}]}`` are POSTed outside the request that caused them; a receiver that does not
  answer 2xx within 3 seconds gets retries (Graph keeps trying for up to 4 hours; the
  fake a few times, `notification_retry_delays`).
- Lifecycle notifications (`send_lifecycle_event`): ``reauthorizationRequired`` pauses
  delivery until ``POST /subscriptions/{id}/reauthorize`` or a renewal;
  ``subscriptionRemoved`` removes the subscription; ``missed`` just tells
  (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events).

Strict reading: ``clientState`` is required (the webhooks page: "The clientState property
is required"; the resource page calls it optional). Deliberate deviation: notification
URLs may be ``http://127.0.0.1``/``http://localhost`` (Graph requires https); https ones
are reached trusting the fake's own CA as well as the system's.
"""

from __future__ import annotations

import contextlib
import queue
import re
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from tests.fakes._graph_wire import (
    Delivery,
    GraphError,
    Reply,
    bad_request,
    format_instant,
    json_reply,
    new_guid,
    now_utc,
    parse_offset_instant,
)

_ALLOWED = {
    "@odata.type", "changeType", "notificationUrl", "resource", "expirationDateTime",
    "clientState", "lifecycleNotificationUrl", "latestSupportedTlsVersion",
    "includeResourceData", "notificationUrlAppId",
}  # fmt: skip
#: me/events (every calendar), me/calendar/events (the default one), me/calendars/{id}/events,
#: or the same under users/{id or userPrincipalName}.
_RESOURCE_RE = re.compile(
    r"^/?(?:me|users/([^/]+))/(events|calendar/events|calendars/([^/]+)/events)$", re.IGNORECASE
)
LIFECYCLE_EVENTS = ("reauthorizationRequired", "missed", "subscriptionRemoved")


@dataclass
class Subscription:
    id: str
    resource: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str
    expiration: datetime
    calendar_id: str | None
    application_id: str
    creator_id: str
    paused: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": format_instant(self.expiration),
            "creatorId": self.creator_id,
            "includeResourceData": None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


class SubscriptionsMixin:
    lock: threading.RLock
    calendars: dict[str, Any]
    client_id: str
    tenant_id: str
    user_id: str
    user_principal_name: str
    max_subscription_minutes: int
    validation_timeout: float
    notification_timeout: float
    notification_retry_delays: tuple[float, ...]

    if TYPE_CHECKING:

        @property
        def graph_endpoint(self) -> str: ...

        def ssl_context(self) -> ssl.SSLContext: ...

    def _init_subscriptions(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        #: Every POST made to a notification or lifecycle URL, validation requests included.
        self.deliveries: list[Delivery] = []
        #: Notifications not sent because their subscription was paused.
        self.dropped_notifications: list[dict[str, Any]] = []
        self._outbox: queue.Queue[tuple[str, dict[str, Any], int] | None] = queue.Queue()

    # -- test controls -------------------------------------------------------------------

    def send_lifecycle_event(self, subscription_id: str, event: str) -> None:
        """POST a lifecycle notification to the subscription's lifecycleNotificationUrl."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"unknown lifecycle event {event!r}")
        with self.lock:
            sub = self.subscriptions[subscription_id]
            if sub.lifecycle_url is None:
                raise ValueError("the subscription has no lifecycleNotificationUrl")
            payload = {
                "value": [
                    {
                        "subscriptionId": sub.id,
                        "subscriptionExpirationDateTime": format_instant(sub.expiration),
                        "tenantId": self.tenant_id,
                        "clientState": sub.client_state,
                        "lifecycleEvent": event,
                    }
                ]
            }
            if event == "subscriptionRemoved":
                del self.subscriptions[sub.id]
            elif event == "reauthorizationRequired":
                sub.paused = True
            self._outbox.put((sub.lifecycle_url, payload, 0))

    def expire_subscription(self, subscription_id: str) -> None:
        with self.lock:
            self.subscriptions[subscription_id].expiration = now_utc() - timedelta(seconds=1)

    def notifications_for(self, subscription_id: str) -> list[Delivery]:
        """Deliveries of change notifications for one subscription (2xx or not)."""
        return [
            d
            for d in list(self.deliveries)
            if any(v.get("subscriptionId") == subscription_id and "changeType" in v
                   for v in d.body.get("value", []))
        ]  # fmt: skip

    # -- endpoints -----------------------------------------------------------------------

    def _live_subscription(self, subscription_id: str) -> Subscription:
        sub = self.subscriptions.get(subscription_id)
        if sub is not None and sub.expiration <= now_utc():
            del self.subscriptions[subscription_id]  # "Microsoft Graph deletes the subscription"
            sub = None
        if sub is None:
            raise GraphError(404, "ResourceNotFound", "The object was not found.")
        return sub

    def _expiration(self, value: Any) -> datetime:
        when = parse_offset_instant(value, "expirationDateTime")
        now = now_utc()
        if when <= now or when > now + timedelta(minutes=self.max_subscription_minutes):
            raise bad_request(
                "Subscription expiration can only be "
                f"{self.max_subscription_minutes} minutes in the future.",
                "ExtensionError",
            )
        return when

    def _create_subscription(self, body: dict[str, Any]) -> Reply:
        """Runs without the lock held while it validates the URLs (they may call back)."""
        unknown = set(body) - _ALLOWED
        if unknown:
            raise bad_request(
                "Could not process subscription creation payload. Are all property names "
                f"spelled and camelCased properly? ({sorted(unknown)})",
                "InvalidRequest",
            )
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                raise bad_request(
                    f"{name} is a required property for subscription creation.", "InvalidRequest"
                )
        client_state = body.get("clientState")
        if not isinstance(client_state, str) or not 0 < len(client_state) <= 128:
            raise bad_request(
                "fake (strict): clientState (1..128 characters) is required.", "InvalidRequest"
            )
        changes = tuple(c.strip() for c in str(body["changeType"]).split(","))
        if not changes or any(c not in ("created", "updated", "deleted") for c in changes):
            raise bad_request(f"Invalid changeType '{body['changeType']}'.", "InvalidRequest")
        if body.get("includeResourceData"):
            raise bad_request(
                "fake: includeResourceData needs an encryptionCertificate, which is not served.",
                "InvalidRequest",
            )
        match = _RESOURCE_RE.match(str(body["resource"]))
        if match is None:
            raise bad_request(f"Invalid resource '{body['resource']}'.", "InvalidRequest")
        user, kind, calendar_id = match.groups()
        if user is not None and user.lower() not in (
            self.user_id,
            self.user_principal_name.lower(),
        ):
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        with self.lock:
            if kind.lower() == "calendar/events":
                calendar_id = next(c.id for c in self.calendars.values() if c.is_default)
            if calendar_id is not None and calendar_id not in self.calendars:
                raise GraphError(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
        expiration = self._expiration(body["expirationDateTime"])
        urls = [str(body["notificationUrl"])]
        if body.get("lifecycleNotificationUrl"):
            urls.append(str(body["lifecycleNotificationUrl"]))
        for url in urls:
            parts = urlsplit(url)
            local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
            if parts.scheme != "https" and not local:
                raise bad_request("The notification URL must use https.", "InvalidRequest")
        for url in dict.fromkeys(urls):
            self._validate_url(url)
        sub = Subscription(
            id=new_guid(),
            resource=str(body["resource"]),
            change_types=changes,
            notification_url=urls[0],
            lifecycle_url=urls[1] if len(urls) > 1 else None,
            client_state=client_state,
            expiration=expiration,
            calendar_id=calendar_id,
            application_id=self.client_id,
            creator_id=self.user_id,
        )
        with self.lock:
            self.subscriptions[sub.id] = sub
        context = f"{self.graph_endpoint}/$metadata#subscriptions/$entity"
        return json_reply(201, {"@odata.context": context, **sub.body()})

    def _validate_url(self, url: str) -> None:
        token = (
            "Validation: Testing client application reachability for subscription "
            f"Request-Id: {new_guid()}"
        )
        separator = "&" if urlsplit(url).query else "?"
        target = f"{url}{separator}{urlencode({'validationToken': token})}"
        delivery = Delivery(url, {"validationToken": token}, None)
        self.deliveries.append(delivery)
        try:
            with httpx.Client(verify=self.ssl_context(), timeout=self.validation_timeout) as client:
                response = client.post(
                    target, content=b"", headers={"Content-Type": "text/plain; charset=utf-8"}
                )
        except httpx.HTTPError as exc:
            delivery.error = repr(exc)
            raise bad_request(
                "Subscription validation request failed. Notification endpoint must respond "
                "with 200 OK to validation request.",
                "InvalidRequest",
            ) from exc
        delivery.status = response.status_code
        delivery.headers = dict(response.headers)
        content_type = response.headers.get("content-type", "")
        if response.status_code != 200 or not content_type.startswith("text/plain"):
            raise bad_request(
                "Subscription validation request failed. Notification endpoint must respond "
                "with 200 OK to validation request.",
                "InvalidRequest",
            )
        if response.text != token:
            raise bad_request(
                "Subscription validation request failed. Response must exactly match "
                "validationToken query parameter.",
                "InvalidRequest",
            )

    def _subscriptions_api(self, method: str, rest: list[str], body: dict[str, Any]) -> Reply:
        """GET/PATCH/DELETE /subscriptions[/{id}] and POST /subscriptions/{id}/reauthorize."""
        if not rest and method == "GET":
            now = now_utc()
            for gone in [k for k, s in self.subscriptions.items() if s.expiration <= now]:
                del self.subscriptions[gone]
            live = [s.body() for s in self.subscriptions.values()]
            context = f"{self.graph_endpoint}/$metadata#subscriptions"
            return json_reply(200, {"@odata.context": context, "value": live})
        if len(rest) == 2 and rest[1] == "reauthorize" and method == "POST":
            self._live_subscription(rest[0]).paused = False
            return 204, {}, b""
        if len(rest) != 1:
            raise bad_request(f"Resource not found for the segment '{'/'.join(rest)}'.")
        sub = self._live_subscription(rest[0])
        if method == "GET":
            return json_reply(200, sub.body())
        if method == "PATCH":
            if set(body) != {"expirationDateTime"}:
                raise bad_request(
                    "fake (strict): a renewal sends expirationDateTime only.", "InvalidRequest"
                )
            sub.expiration = self._expiration(body["expirationDateTime"])
            sub.paused = False  # "renewing your subscription also reauthorizes your endpoint"
            return json_reply(200, sub.body())
        if method == "DELETE":
            del self.subscriptions[sub.id]
            return 204, {}, b""
        raise GraphError(405, "BadRequest", "Method not allowed.")

    # -- delivery -------------------------------------------------------------------------

    def _emit_change(
        self, calendar_id: str, resource_id: str, change_type: str, etag: str | None = None
    ) -> None:
        now = now_utc()
        for sub in list(self.subscriptions.values()):
            if sub.expiration <= now or change_type not in sub.change_types:
                continue
            if sub.calendar_id is not None and sub.calendar_id != calendar_id:
                continue
            resource = f"Users/{self.user_id}/Events/{resource_id}"
            data: dict[str, Any] = {
                "@odata.type": "#Microsoft.Graph.Event",
                "@odata.id": resource,
                "id": resource_id,
            }
            if etag is not None:
                data["@odata.etag"] = etag
            notification = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": format_instant(sub.expiration),
                "changeType": change_type,
                "resource": resource,
                "resourceData": data,
                "clientState": sub.client_state,
                "tenantId": self.tenant_id,
            }
            if sub.paused:
                self.dropped_notifications.append(notification)
            else:
                self._outbox.put((sub.notification_url, {"value": [notification]}, 0))

    def _deliver(self) -> None:
        """POST notifications outside the request that caused them, as Graph does."""
        with httpx.Client(verify=self.ssl_context(), timeout=self.notification_timeout) as client:
            while (item := self._outbox.get()) is not None:
                url, payload, attempt = item
                delivery = Delivery(url, payload, None)
                try:
                    response = client.post(url, json=payload)
                    delivery.status = response.status_code
                except httpx.HTTPError as exc:
                    delivery.error = repr(exc)
                self.deliveries.append(delivery)
                ok = delivery.status is not None and 200 <= delivery.status < 300
                if not ok and attempt < len(self.notification_retry_delays):
                    timer = threading.Timer(
                        self.notification_retry_delays[attempt],
                        self._outbox.put,
                        args=((url, payload, attempt + 1),),
                    )
                    timer.daemon = True
                    timer.start()

    def _stop_delivery(self) -> None:
        with contextlib.suppress(Exception):
            self._outbox.put(None)
