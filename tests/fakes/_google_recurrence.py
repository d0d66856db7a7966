"""Occurrence checks for the fake Google server (RFC 5545 expansion through dateutil)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]


def parse_instance_suffix(suffix: str) -> date | datetime | None:
    """``20260301T140000Z`` -> aware UTC datetime; ``20260301`` -> date; else None."""
    try:
        if len(suffix) == 16 and suffix.endswith("Z"):
            return datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if len(suffix) == 8:
            return datetime.strptime(suffix, "%Y%m%d").date()
    except ValueError:
        return None
    return None


def occurs(master: dict[str, Any], original: date | datetime) -> bool:
    """Whether the series ``master`` has an occurrence starting at ``original``."""
    start = master["start"]
    lines = "\n".join(master.get("recurrence", ()))
    if "dateTime" in start:
        if not isinstance(original, datetime):
            return False
        zone = ZoneInfo(start.get("timeZone") or "UTC")
        first = datetime.fromisoformat(start["dateTime"].replace("Z", "+00:00")).astimezone(zone)
        target = original.astimezone(zone)
        naive_first, naive_target = first.replace(tzinfo=None), target.replace(tzinfo=None)
    else:
        if isinstance(original, datetime):
            return False
        naive_first = datetime.combine(date.fromisoformat(start["date"]), datetime.min.time())
        naive_target = datetime.combine(original, datetime.min.time())
    try:
        # Expanded in local wall time, as RFC 5545 requires for TZID'd series.
        rules = rrulestr(lines, dtstart=naive_first, forceset=True, ignoretz=True)
        found = rules.after(naive_target, inc=True)
    except (ValueError, TypeError):
        return True  # lines dateutil cannot read: do not second-guess them
    return bool(found == naive_target)
