"""Opaque, signed page tokens for ``/v1/events/pages/{token}`` and ``/v1/free_busy/pages/{token}``.

pycronofy follows ``pages.next_page`` verbatim and adds nothing, so the token
must carry the whole query plus the keyset position. A token is::

    base64url(compact JSON) "." base64url(HMAC-SHA256(key, that JSON)[:16])

The signature stops a client from editing the query inside a token (widening
calendar_ids, say); the owning account's ``sub`` is inside the payload and the
route still checks it against the bearer on every page, so a leaked token is
useless to another account.

Page totals: ``pages.total`` is the real number of pages of the query,
counted when the walk starts (the first page COUNTs the stored rows the
query matches, whenever there is more than one page) and carried unchanged
in every ``next_page`` token, so it is the same on every page of one walk
and equals the number of pages the walk has. pycronofy fetches while
``current < total``, so every page before the last has a ``next_page``, even
one that came out empty because rows were deleted behind it.

Rows that change during a walk move to its end (the walk is ordered by
``updated``), and rows created during it land there too; the last page takes
them all, so a walk misses nothing that existed when it ended. Only if more
than `LAST_PAGE_SPAN` pages' worth arrived during one walk does the last page
stop there and the walk grow by a page (``total`` then rises by one): a bound
on one response's size, not a case a client meets in practice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable
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
    """Where a paged read stands: page number, the walk's total (0 = not yet
    counted, on the first page) and the keyset position."""

    current: int
    total: int
    after: list[Any] | None

    @property
    def first(self) -> bool:
        return self.total == 0


FIRST_PAGE = PageState(1, 0, None)

#: How many pages' worth of rows the last page of a walk takes (see module doc).
LAST_PAGE_SPAN = 10


def pages_for(count: int, page_size: int) -> int:
    """Pages implied by a row count; at least 1 (an empty result is one empty page)."""
    return max(1, math.ceil(count / page_size))


def rows_for(state: PageState, page_size: int) -> int:
    """How many stored rows this page holds at most: a page's worth, more on the last."""
    if not state.first and state.current >= state.total:
        return page_size * LAST_PAGE_SPAN
    return page_size


def walk_total(
    state: PageState, has_more: bool, count_rows: Callable[[], int], page_size: int
) -> int:
    """``pages.total`` for this page: counted on the first page, then carried.

    ``has_more`` says whether rows remain after this page. A first page that
    holds everything needs no count; otherwise the count (taken in the page's
    own read, but on PostgreSQL possibly a moment later) is at least 2.
    """
    if state.first:
        return max(2, pages_for(count_rows(), page_size)) if has_more else 1
    if has_more and state.current >= state.total:
        return state.current + 1  # more than LAST_PAGE_SPAN arrived during the walk
    return state.total
