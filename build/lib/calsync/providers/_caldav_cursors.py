"""The strings a CalDAV pull stores as its cursor.

* sync-collection: ``sync:`` + JSON ``{"token", "ctag"}`` (the ctag read just
  before the REPORT, so an unchanged ctag lets a no-op pass skip the REPORT);
  a bare token, as stored before ctags were kept, is still accepted;
* the fallback for servers without sync-collection: ``ctag:`` + JSON
  ``{"ctag", "etags": {name: etag}}``, without the etags when too large.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from calsync.errors import CursorExpired

CTAG_CURSOR_PREFIX = "ctag:"
#: A sync-collection cursor that also remembers the collection's ctag.
SYNC_CURSOR_PREFIX = "sync:"
MAX_ETAG_CURSOR_BYTES = 256 * 1024


def _encode_sync_cursor(token: str, ctag: str | None) -> str:
    """A sync-collection cursor: the sync token, plus the ctag seen just before it."""
    if ctag is None:
        return token
    return SYNC_CURSOR_PREFIX + json.dumps({"token": token, "ctag": ctag}, separators=(",", ":"))


def _decode_sync_cursor(cursor: str | None) -> tuple[str | None, str | None]:
    """(sync token, ctag); a bare token (no ctag known) is accepted as it is."""
    if cursor is None or not cursor.startswith(SYNC_CURSOR_PREFIX):
        return cursor, None
    try:
        payload = json.loads(cursor[len(SYNC_CURSOR_PREFIX) :])
        token, ctag = payload["token"], payload.get("ctag")
    except (ValueError, KeyError, TypeError) as exc:
        raise CursorExpired("unreadable sync-collection cursor") from exc
    if not isinstance(token, str):
        raise CursorExpired("unreadable sync-collection cursor")
    return token, ctag if isinstance(ctag, str) else None


def _encode_etag_cursor(ctag: str | None, etags: Mapping[str, str | None]) -> str:
    payload: dict[str, Any] = {"ctag": ctag, "etags": dict(etags)}
    encoded = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    if len(encoded) > MAX_ETAG_CURSOR_BYTES:
        encoded = json.dumps({"ctag": ctag}, separators=(",", ":"))
    return CTAG_CURSOR_PREFIX + encoded


def _decode_etag_cursor(url: str, cursor: str | None) -> tuple[str | None, dict[str, Any] | None]:
    if cursor is None:
        return None, None
    if not cursor.startswith(CTAG_CURSOR_PREFIX):
        # A sync token, but sync-collection is off now: start over.
        raise CursorExpired(f"{url}: cursor is a sync token but sync-collection is disabled")
    try:
        payload = json.loads(cursor[len(CTAG_CURSOR_PREFIX) :])
        ctag = payload.get("ctag")
        etags = payload.get("etags")
    except (ValueError, AttributeError) as exc:
        raise CursorExpired(f"{url}: unreadable ctag cursor") from exc
    if etags is not None and not isinstance(etags, dict):
        raise CursorExpired(f"{url}: unreadable ctag cursor")
    return (ctag if isinstance(ctag, str) else None), etags


# -- configuration ------------------------------------------------------------------
