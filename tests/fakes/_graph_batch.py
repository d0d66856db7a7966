"""JSON batching for the fake Graph server: ``POST /v1.0/$batch`` (a mixin of `MicrosoftGraphFake`).

Follows https://learn.microsoft.com/en-us/graph/json-batching:

- the body is one JSON object whose ``requests`` is a collection of at most 20
  requests ("JSON batch requests are currently limited to 20 individual requests");
  more, none, or a malformed request fails the whole batch with 400;
- each request has ``id`` (required, a string, unique in the batch, "Not
  case-sensitive", else "the batch request fails with a 400"), ``method`` (required),
  ``url`` (required, "The relative resource URL": ``/me/events/{id}`` for
  ``https://graph.microsoft.com/v1.0/me/events/{id}``; an absolute URL is refused),
  ``headers`` (required with a ``Content-Type`` when there is a ``body``) and ``body``;
- ``dependsOn`` names ids of the same batch; a request whose dependency failed gets
  ``424`` (Failed Dependency);
- the answer is 200 with ``responses``: per request its ``id``, ``status``,
  ``headers`` and ``body``; "Individual responses might appear in a different order
  than the requests" (the fake answers in reverse order, so a client that pairs by
  position fails);
- "Requests in a batch are evaluated individually against the applicable throttling
  limits and if any request exceeds the limits, it fails with a status of 429": an
  individual 429 carries its own ``Retry-After`` in its ``headers`` (inject one with
  `fail_next(..., path_contains=...)`, which matches individual requests as well).

Strict readings: only the batch's ``Authorization`` reaches the individual requests
(``Prefer`` and the rest must be given per request); a ``$batch`` inside a batch is
refused. Individual requests are recorded in ``batched`` (``requests`` records the one
HTTP request per batch, as a network trace would).
"""

from __future__ import annotations

import email.message
import json
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes._graph_wire import (
    GRAPH_PREFIX,
    GraphError,
    Reply,
    RequestRecord,
    bad_request,
    json_reply,
)

MAX_BATCH = 20
FAILED_DEPENDENCY = 424


class BatchMixin:
    lock: threading.RLock
    batched: list[RequestRecord]

    if TYPE_CHECKING:

        def _authenticate(self, headers: Any) -> frozenset[str]: ...
        def _route(
            self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
        ) -> Reply: ...
        @staticmethod
        def _json_body(headers: Any, body: bytes) -> dict[str, Any]: ...

    def _batch(self, method: str, query: dict[str, str], headers: Any, body: bytes) -> Reply:
        if method != "POST":
            raise GraphError(405, "ErrorInvalidRequest", f"The method {method} is not allowed.")
        if query:
            raise bad_request("Query options are not allowed on $batch.")
        self._authenticate(headers)
        payload = self._json_body(headers, body)
        items = _validated(payload)
        outer_auth = headers.get("Authorization", "")
        status_of: dict[str, int] = {}
        responses: list[dict[str, Any]] = []
        for item in items:
            key = str(item["id"]).lower()
            failed = [d for d in item.get("dependsOn") or () if status_of[str(d).lower()] >= 400]
            if failed:
                status_of[key] = FAILED_DEPENDENCY
                responses.append(_failed_dependency(item["id"]))
                continue
            status, reply_headers, reply_body = self._run_item(item, outer_auth)
            status_of[key] = status
            responses.append(_item_response(item["id"], status, reply_headers, reply_body))
        responses.reverse()
        return json_reply(200, {"responses": responses})

    def _run_item(self, item: dict[str, Any], authorization: str) -> Reply:
        parts = urlsplit("/" + str(item["url"]).lstrip("/"))
        path = GRAPH_PREFIX + parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = email.message.Message()
        if authorization:
            headers["Authorization"] = authorization
        for name, value in (item.get("headers") or {}).items():
            headers[str(name)] = str(value)
        body = b""
        if "body" in item:
            body = json.dumps(item["body"]).encode()
        method = str(item["method"]).upper()
        record = RequestRecord(
            method, path, query, {k.lower(): v for k, v in headers.items()}, body
        )
        with self.lock:
            self.batched.append(record)
        try:
            reply = self._route(method, path, query, headers, body)
        except GraphError as exc:
            reply = exc.reply(str(item["id"]))
        record.status = reply[0]
        return reply


def _validated(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's requests, or 400 for the whole batch."""
    items = payload.get("requests")
    if not isinstance(items, list) or not items:
        raise bad_request("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(items) > MAX_BATCH:
        raise bad_request(
            f"Invalid batch payload format: a batch may contain at most {MAX_BATCH} requests."
        )
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("Invalid batch payload format: a request must be an object.")
        ident = item.get("id")
        if not isinstance(ident, str) or not ident:
            raise bad_request("Invalid batch payload format: every request needs an 'id'.")
        if ident.lower() in seen:
            raise bad_request(f"Invalid batch payload format: duplicate request id '{ident}'.")
        for name in ("method", "url"):
            if not isinstance(item.get(name), str) or not item[name]:
                raise bad_request(f"Invalid batch payload format: request '{ident}' has no {name}.")
        url = str(item["url"])
        if "://" in url or url.lower().startswith(("/v1.0/", "/beta/", "v1.0/")):
            raise bad_request(
                f"Invalid batch payload format: request '{ident}' must have a relative url "
                "(without the service root)."
            )
        if urlsplit(url).path.strip("/").lower() == "$batch":
            raise bad_request("Invalid batch payload format: a batch cannot contain a batch.")
        headers = item.get("headers")
        if headers is not None and not isinstance(headers, dict):
            raise bad_request(f"Invalid batch payload format: request '{ident}' headers.")
        if "body" in item and not any(str(k).lower() == "content-type" for k in (headers or {})):
            raise bad_request(
                f"Invalid batch payload format: request '{ident}' has a body but no "
                "Content-Type header."
            )
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or not all(
            isinstance(d, str) and d.lower() in seen for d in depends
        ):
            raise bad_request(
                f"Invalid batch payload format: request '{ident}' depends on a request "
                "that is not before it in the batch."
            )
        seen.add(ident.lower())
    return items


def _item_response(ident: str, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    response: dict[str, Any] = {"id": ident, "status": status, "headers": dict(headers)}
    if body:
        try:
            response["body"] = json.loads(body)
        except ValueError:
            response["body"] = body.decode("utf-8", "replace")
    return response


def _failed_dependency(ident: str) -> dict[str, Any]:
    return {
        "id": ident,
        "status": FAILED_DEPENDENCY,
        "headers": {"Content-Type": "application/json"},
        "body": {
            "error": {
                "code": "FailedDependency",
                "message": "A request that this request depends on failed.",
            }
        },
    }
