"""The text forms the API reads, written once for the parser and for the OpenAPI schema.

Each pattern here is both a Python regular expression (the server's check,
through `matches`) and an ECMA-262 one (the schema's ``pattern``), so the
document says exactly what the server accepts: only the syntax both share
(ASCII classes, ``(?:…)``, alternation, quantifiers), no ``\\d`` (Unicode
digits in Python), and anchors added per dialect.

* A **Date** is ``YYYY-MM-DD``, a real calendar day (leap years included)
  between 1900 and 2499; outside those years a calendar date is almost
  certainly a typo, and the bound keeps every conversion to UTC in range.
* A **Time** is RFC 3339 with ``Z`` or a numeric offset, whole seconds
  (``.000`` is allowed, since it changes nothing).
* A **local time** is the same without the offset; it needs a tzid.
"""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import available_timezones

MIN_YEAR, MAX_YEAR = 1900, 2499

_YEAR = "(?:19[0-9][0-9]|2[0-4][0-9][0-9])"
_LEAP_YEAR = "(?:(?:19|2[0-4])(?:0[48]|[2468][048]|[13579][26])|2000|2400)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_CLOCK = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_ZERO_FRACTION = "(?:\\.0+)?"
_ANY_FRACTION = "(?:\\.[0-9]+)?"
OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"

TIME = f"{DATE}[Tt]{_CLOCK}{_ZERO_FRACTION}{OFFSET}"
LOCAL_TIME = f"{DATE}[Tt]{_CLOCK}{_ZERO_FRACTION}"
#: A time in either form but with any fraction: tells "milliseconds" apart from garbage.
FRACTIONAL_TIME = f"{DATE}[Tt]{_CLOCK}{_ANY_FRACTION}{OFFSET}?"

#: Coordinates given as text; the JSON number form has the same bounds.
LATITUDE = "-?(?:90(?:\\.0+)?|[0-8]?[0-9](?:\\.[0-9]+)?)"
LONGITUDE = "-?(?:180(?:\\.0+)?|(?:1[0-7][0-9]|[0-9]?[0-9])(?:\\.[0-9]+)?)"


#: What JSON Schema (ECMA-262 ``\\s``) calls white space, spelled out: Python's
#: ``str.isspace``/``\\s`` differ from it (U+0085, U+001C-U+001F), and a name
#: that the schema calls blank must be the one the server calls blank.
WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
#: Contains something other than white space (a ``pattern`` matches anywhere).
NOT_BLANK = (
    "[^\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
)


def strip_blank(text: str) -> str:
    """``text`` without surrounding `WHITESPACE` (empty when it is all white space)."""
    return text.strip(WHITESPACE)


@lru_cache(maxsize=64)
def _compiled(core: str) -> re.Pattern[str]:
    return re.compile(core, re.ASCII)


def matches(core: str, text: str) -> bool:
    """Whether all of ``text`` is of the form ``core`` (Python's ``$`` would allow a newline)."""
    return _compiled(core).fullmatch(text) is not None


def schema_pattern(core: str) -> str:
    """``core`` anchored for JSON Schema."""
    return f"^{core}$"


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """Every IANA zone id the server accepts, sorted: the schema's ``Tzid`` enum."""
    return tuple(sorted(available_timezones()))


@lru_cache(maxsize=1)
def _zone_set() -> frozenset[str]:
    return frozenset(time_zones())


def is_time_zone(name: str) -> bool:
    return name in _zone_set()
