"""``Idempotency-Key`` on the dialect's POST, PATCH and DELETE requests.

The chronary SDK sends a fresh key with every mutating call and the same key
on its retries (after a 429, a 5xx or a lost connection). The first request
with a key claims it in the store (``idempotency_keys``, kept 24 hours);
what it answers is stored with it, and a later request with the same key and
the same request (method, path, query, body) gets that answer again, with
``Idempotent-Replayed: true``, and changes nothing.

* the same key with a different request: 409 ``idempotency_key_reused``;
* the same key while the first request still runs: 409 ``idempotency_key_in_use``;
* a first request that failed on the server's side (5xx) releases its key,
  so the SDK's retry runs it again;
* a request whose key cannot be tied to an organization (no valid API key)
  runs unclaimed and answers 401 itself.

Keys are per organization, so two organizations never see each other's answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calsync.api.chronary import errors
from calsync.api.chronary.auth import resolve_org
from calsync.api.chronary.context import in_dialect
from calsync.api.deps import ApiServices
from calsync.errors import CalsyncError
from calsync.store.repos.chronary import IdempotencyClaim

KEEP = timedelta(hours=24)
MAX_KEY = 255
MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope.get("path", ""), scope.get("query_string", b"").decode()):
        digest.update(str(part).encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, services: ApiServices, prefix: str) -> None:
        self.app = app
        self.services = services
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] not in MUTATING or not in_dialect(scope, self.prefix):
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY:
            answer = errors.error_response(
                scope,
                400,
                "validation_error",
                f"Idempotency-Key must be 1 to {MAX_KEY} characters",
                param="Idempotency-Key",
            )
            await answer(scope, receive, send)
            return
        body, receive = await _buffer(receive)
        org_id = await self._org(scope)
        if org_id is None:
            await self.app(scope, receive, send)
            return
        claim = await run_in_threadpool(self._claim, org_id, key, _fingerprint(scope, body))
        if not claim.owner:
            await self._answer_claimed(scope, claim)(scope, receive, send)
            return
        await self._run_and_keep(scope, receive, send, org_id, key)

    async def _org(self, scope: Scope) -> str | None:
        header = _header(scope, b"authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return await run_in_threadpool(resolve_org, self.services, token.strip())
        except CalsyncError:
            return None  # the store is down: the route answers 503

    def _claim(self, org_id: str, key: str, fingerprint: str) -> IdempotencyClaim:
        with self.services.store.write() as uow:
            claim: IdempotencyClaim = uow.idempotency.claim(org_id, key, fingerprint, KEEP)
        return claim

    def _answer_claimed(self, scope: Scope, claim: IdempotencyClaim) -> ASGIApp:
        if claim.mismatch:
            return errors.error_response(
                scope,
                409,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
                param="Idempotency-Key",
            )
        if claim.status is None:
            return errors.error_response(
                scope,
                409,
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still running; retry later",
                param="Idempotency-Key",
            )
        return _Replay(claim.status, claim.body or "")

    async def _run_and_keep(
        self, scope: Scope, receive: Receive, send: Send, org_id: str, key: str
    ) -> None:
        """Run the request; its answer is stored before the client sees any of it, so a
        retry that follows the answer always finds it (never "still running")."""
        start: Message | None = None
        chunks: list[bytes] = []
        finished = False

        async def keep(message: Message) -> None:
            nonlocal start, finished
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            await run_in_threadpool(self._finish, org_id, key, int(start["status"]), body)
            finished = True
            await send(start)
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, keep)
        finally:
            if not finished:  # no complete answer (a crash): a retry runs it again
                await run_in_threadpool(self._finish, org_id, key, 500, b"")

    def _finish(self, org_id: str, key: str, status: int, body: bytes) -> None:
        with self.services.store.write() as uow:
            if status >= 500:
                uow.idempotency.release(org_id, key)
            else:
                uow.idempotency.complete(org_id, key, status, body.decode("utf-8", "replace"))


class _Replay:
    """The stored answer, sent again."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"idempotent-replayed", b"true")]
        if self.body:
            headers += [(b"content-type", b"application/json")]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (the limits middleware has bounded it) and hand it on."""
    chunks: list[bytes] = []
    disconnected = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected = True
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
