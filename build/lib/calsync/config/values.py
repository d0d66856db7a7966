"""Turning one raw TOML value into its typed value, and back.

`to_python` raises `InvalidValue` with a problem statement only; the loader
adds the file, the key and the line.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from calsync.config.durations import EXAMPLES, format_duration, parse_duration
from calsync.config.schema import Key, KeyType
from calsync.config.secrets import Secret, SecretFileError, read_secret_file
from calsync.config.settings import ListenAddress
from calsync.redaction import register_url_secrets

__all__ = ["InvalidValue", "to_python", "to_toml"]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class InvalidValue(ValueError):
    """The raw value does not fit the key; the message says why."""


def _toml_type(raw: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    for python_type, name in names.items():
        if type(raw) is python_type:
            return name
    if isinstance(raw, list):
        return "an array"
    if isinstance(raw, dict):
        return "a table"
    return f"a {type(raw).__name__}"


def _expect(raw: object, python_type: type, wanted: str) -> None:
    # bool is an int subclass in Python, but `port = true` is a mistake in TOML.
    if not isinstance(raw, python_type) or (python_type is not bool and isinstance(raw, bool)):
        raise InvalidValue(f"expected {wanted}, got {_toml_type(raw)} ({raw!r})")


def _bound_text(key: Key, bound: float) -> str:
    if key.type is KeyType.DURATION:
        return format_duration(timedelta(seconds=bound))
    return f"{bound:g}"


def _check_bounds(key: Key, number: float, shown: str) -> None:
    if key.minimum is not None and number < key.minimum:
        raise InvalidValue(f"{shown} is below the minimum of {_bound_text(key, key.minimum)}")
    if key.maximum is not None and number > key.maximum:
        raise InvalidValue(f"{shown} is above the maximum of {_bound_text(key, key.maximum)}")


def listen_address(text: str) -> ListenAddress:
    """``host:port`` (IPv6 in brackets) as a `ListenAddress`; `InvalidValue` when not."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise InvalidValue(f'expected "host:port" (e.g. "127.0.0.1:8080"), got {text!r}')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidValue(f"{host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise InvalidValue(f'write IPv6 addresses in brackets, e.g. "[::1]:8080", not {text!r}')
    port = int(port_text)
    if port > 65535:
        raise InvalidValue(f"port {port} is out of range (0-65535)")
    return ListenAddress(host, port)


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidValue(f"expected an http:// or https:// URL, got {text!r}")
    return text


def database_url(text: str, config_dir: Path) -> str:
    """Validate a store URL; resolve a relative SQLite path against ``config_dir``."""
    scheme = text.partition("://")[0]
    if scheme in ("sqlite", "sqlite+pysqlite"):
        prefix = f"{scheme}:///"
        if not text.startswith(prefix):
            if text == f"{scheme}://":
                return text  # in-memory
            raise InvalidValue(f"expected {prefix}path/to/file.db, got {text!r}")
        database, query_sep, query = text[len(prefix) :].partition("?")
        if database and database != ":memory:" and not database.startswith("/"):
            database = str(config_dir / Path(database).expanduser())
        return f"{prefix}{database}{query_sep}{query}"
    if scheme in _POSTGRES_SCHEMES:
        parts = urlsplit(text)
        if parts.password:
            raise InvalidValue(
                "the URL contains a password; put it in a file and set [store] password_file"
            )
        # Plain postgresql:// would pick psycopg2, which calsync does not ship.
        return "postgresql+psycopg://" + text.partition("://")[2]
    raise InvalidValue(
        f"unsupported database URL {text!r}; use sqlite:///… or postgresql+psycopg://…"
    )


def to_python(key: Key, raw: object, *, config_dir: Path) -> Any:
    """Validate ``raw`` (as tomllib returned it) and convert it to the key's Python type."""
    kind = key.type
    if kind is KeyType.BOOL:
        _expect(raw, bool, "true or false")
        return raw
    if kind is KeyType.INT:
        _expect(raw, int, "an integer")
        assert isinstance(raw, int)
        _check_bounds(key, raw, str(raw))
        return raw
    if kind is KeyType.FLOAT:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise InvalidValue(f"expected a number, got {_toml_type(raw)} ({raw!r})")
        number = float(raw)
        if not math.isfinite(number):
            raise InvalidValue(f"expected a finite number, got {raw!r}")
        _check_bounds(key, number, repr(number))
        return number
    if kind is KeyType.STR_LIST:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise InvalidValue(f"expected an array of strings, got {raw!r}")
        if key.secret:
            return tuple(_secret_file(name, config_dir) for name in raw)
        return tuple(raw)
    _expect(raw, str, _STRING_SHAPES.get(kind, "a string"))
    assert isinstance(raw, str)
    value = _from_string(key, raw, config_dir)
    if isinstance(value, str) and "://" in value:
        # A feed URL is often its own credential (?token=…, /private-…/): hide
        # those parts wherever they show up later, not only inside the URL.
        register_url_secrets(value)
    return value


_STRING_SHAPES = {
    KeyType.DURATION: f"a duration string like {EXAMPLES}",
    KeyType.LISTEN: 'a "host:port" string',
    KeyType.URL: "a URL string",
    KeyType.PATH: "a path string",
}


def _from_string(key: Key, text: str, config_dir: Path) -> Any:
    kind = key.type
    if kind is KeyType.STR:
        if not text.strip() and key.required:
            raise InvalidValue("must not be empty")
        if key.choices and text not in key.choices:
            raise InvalidValue(f"{text!r} is not one of {', '.join(key.choices)}")
        return text
    if kind is KeyType.ENUM:
        assert key.choices is not None
        if text not in key.choices:
            raise InvalidValue(f"{text!r} is not one of {', '.join(key.choices)}")
        return text
    if kind is KeyType.LOG_LEVEL:
        if text.lower() not in LOG_LEVELS:
            raise InvalidValue(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
        return text.lower()
    if kind is KeyType.DURATION:
        try:
            duration = parse_duration(text)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
        _check_bounds(key, duration.total_seconds(), repr(text))
        return duration
    if kind is KeyType.LISTEN:
        return listen_address(text)
    if kind is KeyType.URL:
        return _http_url(text)
    if kind is KeyType.DATABASE_URL:
        return database_url(text, config_dir)
    if kind is KeyType.PATH:
        if not text:
            raise InvalidValue("expected a path, got an empty string")
        if key.secret:
            return _secret_file(text, config_dir)
        path = Path(text).expanduser()
        return path if path.is_absolute() else config_dir / path
    raise AssertionError(f"unhandled key type {kind}")  # pragma: no cover


def _secret_file(name: str, config_dir: Path) -> Secret:
    if not name:
        raise InvalidValue("expected a secret file name, got an empty string")
    try:
        return read_secret_file(name, config_dir=config_dir)
    except SecretFileError as exc:
        raise InvalidValue(str(exc)) from None


def to_toml(value: Any) -> object:
    """The TOML-shaped form of a loaded value; secrets become the path they came from."""
    if isinstance(value, Secret):
        return str(value.source) if value.source is not None else "***"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, ListenAddress | Path):
        return str(value)
    if isinstance(value, tuple):
        return [to_toml(item) for item in value]
    return value
