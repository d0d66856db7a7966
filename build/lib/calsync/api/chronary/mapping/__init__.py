"""Where the Chronary dialect differs from calsync's own records only in shape: one module each."""

from __future__ import annotations

from datetime import UTC, date, datetime


def timestamp(value: datetime) -> str:
    """An instant as Chronary writes it: UTC, milliseconds, ``Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day(value: date) -> str:
    return value.isoformat()
