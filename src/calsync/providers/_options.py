"""Reading a provider's ``[[accounts]]`` options.

Options arrive either from the config loader (typed: `Secret` for ``*_file``
keys, `timedelta` for durations) or as a plain mapping in tests and scripts
(strings and paths). Both shapes are accepted here so the providers do not care.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Any

from calsync.errors import UserError


def _problem(account: str, key: str, problem: str) -> UserError:
    return UserError(f"account {account!r}: {key} {problem}")


def opt_str(
    account: str, options: Mapping[str, Any], key: str, *, required: bool = False
) -> str | None:
    value = options.get(key)
    if value is None:
        if required:
            raise _problem(account, key, "is required")
        return None
    if not isinstance(value, str) or not value:
        raise _problem(account, key, "must be a non-empty string")
    return value


def opt_path(account: str, options: Mapping[str, Any], key: str) -> str | None:
    """A ``PATH`` key (the loader gives a `Path`; plain mappings may give a string)."""
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str | PurePath) or not str(value):
        raise _problem(account, key, "must be a file path")
    return str(value)


def opt_secret(account: str, options: Mapping[str, Any], key: str) -> str | None:
    """A ``*_file`` secret: a loaded `Secret`, or a path to read (plain mappings)."""
    value = options.get(key)
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)
    if callable(reveal):
        secret = reveal()
        if isinstance(secret, str):
            return secret
    if isinstance(value, str | Path):
        try:
            text = Path(value).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise _problem(account, key, f"cannot be read: {exc}") from exc
        if not text.strip():
            raise _problem(account, key, "names an empty file")
        return text
    raise _problem(account, key, "must name a file")


def opt_int(
    account: str, options: Mapping[str, Any], key: str, default: int, *, minimum: int = 1
) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _problem(account, key, f"must be an integer >= {minimum}")
    return value


def opt_bool(account: str, options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise _problem(account, key, "must be true or false")
    return value


def opt_seconds(account: str, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _problem(account, key, "must be a positive duration")
    return float(value)


def opt_str_list(account: str, options: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = options.get(key)
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _problem(account, key, "must be a list of strings")
    return tuple(value)
