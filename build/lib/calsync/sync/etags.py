"""How the engine stores the etag of a create whose echo has not been pulled yet.

A create's own etag is worth keeping: when the app edits the event again
before the echo arrives, the echo carries that same etag, which proves it is
the version the pending edit is based on (not a conflict). But the engine must
also know that the echo is still outstanding (see `SyncPolicy.expect_echoes`).
The store has one opaque ``etag`` column, so such an etag is stored with a
prefix; the first pull that lists the event stores its plain etag in its
place. A create answered without an etag is stored as None, which counts as
unconfirmed too. Nothing outside `calsync.sync` reads a managed event's etag.
"""

from __future__ import annotations

UNCONFIRMED_PREFIX = "calsync-unconfirmed:"


def unconfirmed(etag: str | None) -> str | None:
    """The stored form of a just-created event's etag."""
    return None if etag is None else UNCONFIRMED_PREFIX + etag


def split_stored(stored: str | None) -> tuple[str | None, bool]:
    """``(etag, confirmed)`` of a stored etag; None is an unconfirmed unknown."""
    if stored is None:
        return None, False
    if stored.startswith(UNCONFIRMED_PREFIX):
        return stored[len(UNCONFIRMED_PREFIX) :], False
    return stored, True
