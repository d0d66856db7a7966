"""Best-effort line numbers for config errors.

tomllib reports lines only for syntax errors (and in Python 3.11 only inside
the message text), and its parsed result carries no positions. For a
semantic error we scan the text for the table header and the key instead.
Plain ``[table]``/``[[array]]`` headers and bare ``key = value`` lines are
recognised; anything fancier (dotted keys, inline tables) falls back to the
table's header line, or to no line at all.
"""

from __future__ import annotations

import re

__all__ = ["find_line", "syntax_error_position"]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*[\"']?([A-Za-z0-9_\-]+)[\"']?\s*=")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


def find_line(text: str, table: str | None, index: int | None, key: str | None) -> int | None:
    """The line of ``key`` in ``[table]`` (or the ``index``-th ``[[table]]``).

    ``table=None`` means the top level; ``key=None`` asks for the header line.
    """
    counts: dict[str, int] = {}
    current: tuple[str | None, int | None] = (None, None)
    header_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is not None:
            name = header.group(2)
            if header.group(1) == "[[":
                position = counts.get(name, 0)
                counts[name] = position + 1
                current = (name, position)
            else:
                current = (name, None)
            if current == (table, index):
                if key is None:
                    return number
                header_line = number
            continue
        if key is not None and current == (table, index):
            match = _KEY.match(line)
            if match is not None and match.group(1) == key:
                return number
    return header_line


def syntax_error_position(message: str) -> tuple[str, int | None, int | None]:
    """Split tomllib's ``"Invalid value (at line 3, column 5)"`` into message, line, column."""
    match = _TOML_POSITION.search(message)
    if match is not None:
        return message[: match.start()], int(match.group(1)), int(match.group(2))
    match = _TOML_END.search(message)
    if match is not None:
        return message[: match.start()] + " at end of file", None, None
    return message, None, None
