"""Opaque, signed page tokens for ``/v1/events/pages/{token}`` and ``/v1/free_busy/pages/{token}``.

pycronofy follows ``pages.next_page`` verbatim and adds nothing, so the token
must carry the whole query plus the keyset position. A token is::

    base64url(compact JSON) "." base64url(HMAC-SHA256(key, that JSON)[:16])

The signature stops a client from editing the query inside a token (widening
calendar_ids, say); the owning account's ``sub`` is inside the payload and the
route still checks it against the bearer on every page, so a leaked token is
useless to another account.

Page totals: ``total`` only has to satisfy pycronofy's loop, which keeps
fetching while ``current < total``. Every page that has a successor says
``total >= current + 1`` and the last page says ``total == current``, so the
loop ends exactly after the last page even if the rows changed between pages.
The first page's estimate comes from a (capped) COUNT of the same query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass
from typing import Any

from calsync.errors import NotFound

_SIG_BYTES = 16
_process_key: bytes | None = None


def process_key() -> bytes:
    """A random key for this process, used when no configured secret is available."""
    global _process_key
    if _process_key is None:
        _process_key = secrets.token_bytes(32)
    return _process_key


def derive_key(secret: str | bytes) -> bytes:
    """A page-token key derived from a configured secret (stable across replicas)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"calsync page tokens v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_token(payload: dict[str, Any], key: bytes) -> str:
    blob = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    sig = hmac.new(key, blob, hashlib.sha256).digest()[:_SIG_BYTES]
    return f"{_b64(blob)}.{_b64(sig)}"


def decode_token(token: str, key: bytes) -> dict[str, Any]:
    """The payload of a token we signed; anything else is 404 (an unknown page)."""
    body, sep, sig = token.partition(".")
    if not sep or not body or not sig or len(token) > 16384:
        raise NotFound("unknown page")
    try:
        blob = _unb64(body)
        given = _unb64(sig)
    except (ValueError, TypeError):
        raise NotFound("unknown page") from None
    expected = hmac.new(key, blob, hashlib.sha256).digest()[:_SIG_BYTES]
    if not hmac.compare_digest(given, expected):
        raise NotFound("unknown page")
    try:
        payload = json.loads(blob)
    except ValueError:
        raise NotFound("unknown page") from None
    if not isinstance(payload, dict):
        raise NotFound("unknown page")
    return payload


@dataclass(frozen=True, slots=True)
class PageState:
    """Where a paged read stands: page number, total estimate, keyset position."""

    current: int
    total: int
    after: list[Any] | None


def first_page_total(count: int, page_size: int) -> int:
    """Pages implied by a row count; at least 1 (an empty result is one empty page)."""
    return max(1, math.ceil(count / page_size))


def settle_total(state: PageState, has_more: bool) -> int:
    """The ``total`` to report on this page so pycronofy's loop stops exactly at the end."""
    if has_more:
        return max(state.total, state.current + 1)
    return state.current
