"""Public identifiers: a short prefix that says what it is, then random URL-safe text."""

from __future__ import annotations

import secrets

PREFIXES = ("acc", "apc", "pro", "cal", "evt", "chn", "rul", "agt", "org", "req")


def new_id(prefix: str, *, nbytes: int = 12) -> str:
    """A new id such as ``cal_n3H0sK2…``; 96 random bits are plenty to never collide."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"
