"""OAuth endpoints and push channels of the fake Google server (a mixin of `GoogleCalendarFake`)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import secrets
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote, urlencode

import httpx

from tests.fakes._google_wire import (
    FakeCalendar,
    GoogleError,
    Reply,
    WatchChannel,
    _json,
    new_event_id,
)


class AuthAndPushMixin:
    client_id: str
    client_secret: str
    refresh_tokens: set[str]
    access_tokens: set[str]
    channels: dict[str, WatchChannel]
    notifications: list[dict[str, str]]
    _codes: dict[str, dict[str, str]]
    deny_consent: bool
    revoked: list[str]
    _token_faults: Any
    _outbox: queue.Queue[tuple[WatchChannel, str] | None]

    @property
    def api_endpoint(self) -> str:
        raise NotImplementedError

    def issue_refresh_token(self) -> str:
        token = "1//" + secrets.token_urlsafe(24)
        self.refresh_tokens.add(token)
        return token

    # -- auth ---------------------------------------------------------------------------

    def _authenticate(self, headers: dict[str, str]) -> None:
        value = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not value.startswith("Bearer ") or value[7:] not in self.access_tokens:
            raise GoogleError(
                401,
                "authError",
                "Invalid Credentials",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )

    def _token(self, form: dict[str, list[str]], headers: dict[str, str]) -> Reply:
        get = {k: v[-1] for k, v in form.items()}
        basic = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if basic.startswith("Basic "):  # client_secret_basic, which Google accepts too
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            get.setdefault("client_id", unquote(user))
            get.setdefault("client_secret", unquote(password))
        if self._token_faults:
            status, error = self._token_faults.popleft()
            return _json(status, {"error": error, "error_description": "fake fault"})
        if get.get("client_id") != self.client_id or get.get("client_secret") != self.client_secret:
            return _json(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        grant = get.get("grant_type")
        reply: dict[str, Any] = {
            "expires_in": 3599,
            "token_type": "Bearer",
            "scope": "https://www.googleapis.com/auth/calendar",
        }
        if grant == "refresh_token":
            if get.get("refresh_token") not in self.refresh_tokens:
                return _json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
        elif grant == "authorization_code":
            code = self._codes.pop(get.get("code", ""), None)
            verifier = get.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
            if (
                code is None
                or code["redirect_uri"] != get.get("redirect_uri")
                or code["challenge"] != challenge
            ):
                return _json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            if code["access_type"] == "offline":  # Google's rule: online access has none
                reply["refresh_token"] = self.issue_refresh_token()
        else:
            return _json(400, {"error": "unsupported_grant_type"})
        reply["access_token"] = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens.add(reply["access_token"])
        return _json(200, reply)

    def _authorize(self, query: dict[str, str]) -> Reply:
        redirect = query.get("redirect_uri", "")
        if (
            query.get("client_id") != self.client_id
            or query.get("response_type") != "code"
            or not redirect.startswith(("http://127.0.0.1:", "http://[::1]:"))
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
        ):
            return 400, {"Content-Type": "text/plain"}, b"invalid_request"
        if self.deny_consent:
            answer = {"error": "access_denied", "state": query.get("state", "")}
            return 302, {"Location": f"{redirect}?{urlencode(answer)}"}, b""
        code = "4/" + secrets.token_urlsafe(16)
        self._codes[code] = {
            "redirect_uri": redirect,
            "challenge": query["code_challenge"],
            "access_type": query.get("access_type", "online"),
        }
        location = f"{redirect}?{urlencode({'state': query.get('state', ''), 'code': code})}"
        return 302, {"Location": location}, b""

    def _revoke(self, params: dict[str, str]) -> Reply:
        """https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke:
        revoking a refresh token revokes its access tokens too."""
        token = params.get("token", "")
        if token not in self.refresh_tokens:
            return _json(400, {"error": "invalid_token", "error_description": "Bad Request"})
        self.refresh_tokens.discard(token)
        self.revoked.append(token)
        self.access_tokens.clear()
        return _json(200, {})

    # -- push channels ----------------------------------------------------------------------

    def _watch(self, cal: FakeCalendar, body: dict[str, Any]) -> dict[str, Any]:
        address = str(body.get("address", ""))
        if body.get("type") != "web_hook" or not body.get("id"):
            raise GoogleError(400, "invalid", "Invalid channel type or id.")
        if not address.startswith(("https://", "http://127.0.0.1:")):
            raise GoogleError(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS.")
        if body["id"] in self.channels:
            raise GoogleError(400, "channelIdNotUnique", "Channel id not unique.")
        default = int((datetime.now(UTC) + timedelta(days=7)).timestamp() * 1000)
        channel = WatchChannel(
            str(body["id"]),
            new_event_id()[:27],
            cal.id,
            address,
            body.get("token"),
            int(body.get("expiration") or default),
        )
        self.channels[channel.id] = channel
        self._outbox.put((channel, "sync"))
        reply = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": f"{self.api_endpoint}calendars/{cal.id}/events?alt=json",
            "expiration": str(channel.expiration_ms),
        }
        return {**reply, **({"token": channel.token} if channel.token else {})}

    def _stop_channel(self, body: dict[str, Any]) -> Reply:
        channel = self.channels.get(str(body.get("id")))
        if channel is None or channel.resource_id != body.get("resourceId"):
            raise GoogleError(404, "notFound", f"Channel '{body.get('id')}' not found")
        del self.channels[channel.id]
        return 204, {}, b""

    def _deliver(self) -> None:
        """POST notifications outside the request that caused them, like Google does."""
        with httpx.Client(timeout=5) as client:
            while (item := self._outbox.get()) is not None:
                channel, state = item
                uri = f"{self.api_endpoint}calendars/{channel.calendar_id}/events"
                headers = {
                    "X-Goog-Channel-ID": channel.id,
                    "X-Goog-Channel-Expiration": format_datetime(
                        datetime.fromtimestamp(channel.expiration_ms / 1000, UTC), usegmt=True
                    ),
                    "X-Goog-Resource-ID": channel.resource_id,
                    "X-Goog-Resource-URI": uri,
                    "X-Goog-Resource-State": state,
                    "X-Goog-Message-Number": str(next(channel.messages)),
                    **({"X-Goog-Channel-Token": channel.token} if channel.token else {}),
                }
                self.notifications.append(headers)
                with contextlib.suppress(httpx.HTTPError):  # delivery is not guaranteed
                    client.post(channel.address, headers=headers, content=b"")
