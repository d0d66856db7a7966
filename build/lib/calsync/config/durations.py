"""Durations as the config writes them: ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``.

Units run from largest to smallest, each at most once: ``d``, ``h``, ``m``,
``s``, ``ms``, ``us``. A component may carry a decimal fraction (``"1.5h"``).
Parsing goes through `Decimal` so that ``"0.1s"`` is exactly 100 ms.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

#: Microseconds per unit, in the order the units must appear.
_UNITS: dict[str, int] = {
    "d": 86_400_000_000,
    "h": 3_600_000_000,
    "m": 60_000_000,
    "s": 1_000_000,
    "ms": 1_000,
    "us": 1,
}
_ORDER = list(_UNITS)
# "ms" must be tried before "m", or "250ms" would read as 250 minutes and a stray "s".
_COMPONENT = re.compile(r"(\d+(?:\.\d+)?)(ms|us|d|h|m|s)")

EXAMPLES = '"30s", "5m", "1h30m" or "250ms"'


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` into a non-negative `timedelta`; raises `ValueError` when malformed."""
    compact = text.strip()
    if not compact:
        raise ValueError(f"empty duration; expected something like {EXAMPLES}")
    total = Decimal(0)
    position = 0
    last_unit = -1
    while position < len(compact):
        match = _COMPONENT.match(compact, position)
        if match is None:
            raise ValueError(f"invalid duration {text!r}; expected something like {EXAMPLES}")
        number, unit = match.groups()
        unit_rank = _ORDER.index(unit)
        if unit_rank <= last_unit:
            raise ValueError(
                f"invalid duration {text!r}: units must go from largest to smallest, "
                "each at most once (d, h, m, s, ms, us)"
            )
        last_unit = unit_rank
        try:
            total += Decimal(number) * _UNITS[unit]
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
            raise ValueError(f"invalid duration {text!r}") from exc
        position = match.end()
    microseconds = int(total.to_integral_value())
    if microseconds != total:
        raise ValueError(f"invalid duration {text!r}: finer than a microsecond")
    try:
        return timedelta(microseconds=microseconds)
    except OverflowError as exc:
        raise ValueError(f"duration {text!r} is too long") from exc


def format_duration(value: timedelta) -> str:
    """The shortest canonical text for ``value`` (``"1h30m"``); parses back to ``value``."""
    if value < timedelta(0):
        raise ValueError("negative durations cannot be written in the config")
    remaining = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if remaining == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _UNITS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
