"""Logging for the daemon and the CLI: text or JSON lines, with secrets redacted.

`configure_logging` installs one handler on the root logger; calling it again
(on SIGHUP) replaces that handler instead of adding a second one.

Nothing calsync logs may reveal a secret or a token, so redaction happens at
the last moment, on the fully formatted output (message, ``%`` arguments,
exception tracebacks, stack info and JSON extras), not by trusting callers.
What is secret is decided by `calsync.redaction.redact` (registered secrets,
tokens, credentials, and the secret parts of every URL); JSON extras whose
key names a credential are blanked too.

HTTP client libraries log every request, URL and query included (httpx at
INFO, urllib3 at DEBUG): they are kept at WARNING whatever the level, since a
feed or webhook URL is often the credential itself.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any, Literal

from calsync.redaction import REDACTED, redact, register_secret

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "configure_logging",
    "redact",
    "register_secret",
]

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

#: Key names whose values are credentials, in messages and in JSON extras.
_SENSITIVE_NAMES = (
    "client_secret",
    "refresh_token",
    "access_token",
    "id_token",
    "password",
    "passwd",
    "api_key",
    "secret",
    "token",
    "authorization",
)
_SENSITIVE_KEY = re.compile(
    r"^(?:.*_)?(?:" + "|".join(_SENSITIVE_NAMES) + r")$",
    re.IGNORECASE,
)

#: Loggers that record each HTTP request with its full URL: WARNING at every level.
REQUEST_LOGGERS = ("httpx", "httpcore", "urllib3", "requests", "httplib2", "googleapiclient")

#: Libraries that log on the root logger instead of their own (caldav parses a
#: non-XML answer with ``logging.info(..., exc_info=True)``: a traceback for an
#: error calsync reports itself). Their records are judged as if logged on the
#: named logger.
ROOT_LOGGING_LIBRARIES = ("caldav",)


def _redact_value(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with every string redacted and credential keys blanked."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SENSITIVE_KEY.match(str(k)) else _redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    return redact(str(value))


# Attributes every LogRecord has; anything else was passed through ``extra=``.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so no handler after it can see a secret.

    The formatters below redact their output again; this filter also protects
    any other handler someone attaches to the same record path.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = redact(record.getMessage())
            record.args = None
        except (TypeError, ValueError):
            # A malformed call (wrong % arguments): leave it to the handler's
            # error reporting; the formatter still redacts what it prints.
            pass
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extras(record).items():
            setattr(record, key, REDACTED if _SENSITIVE_KEY.match(key) else _redact_value(value))
        return True


class LibraryRootRecords(logging.Filter):
    """Judges a library's root-logger records by the library's own logger level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "root":
            return True
        for library in ROOT_LOGGING_LIBRARIES:
            if f"{os.sep}{library}{os.sep}" in record.pathname:
                record.name = library  # say who logged it when it is shown
                return logging.getLogger(library).isEnabledFor(record.levelno)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2024-05-01T10:00:00.000Z INFO calsync.sync: message key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extras = _redact_value(_extras(record))
        if extras:
            line += " " + " ".join(
                f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in extras.items()
            )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extras, and exc/stack when present."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in _redact_value(_extras(record)).items():
            document.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exc"] = redact(record.exc_text)
        if record.stack_info:
            document["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(document, ensure_ascii=False, default=str)


_handler_lock = threading.Lock()
_installed_handler: logging.Handler | None = None


def configure_logging(
    level: str, fmt: Literal["text", "json"], stream: IO[str] | None = None
) -> None:
    """Route every logger through one redacting handler on the root logger.

    Safe to call again: the handler installed by a previous call is replaced.
    """
    global _installed_handler
    try:
        numeric_level = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}") from None
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}; use 'text' or 'json'")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(LibraryRootRecords())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    with _handler_lock:
        if _installed_handler is not None:
            root.removeHandler(_installed_handler)
        root.addHandler(handler)
        _installed_handler = handler
        root.setLevel(numeric_level)
        # APScheduler logs every job run at INFO ("Running job ..."): noise in a
        # daemon that runs jobs every few minutes. Our own job code logs outcomes.
        # At debug level everything is shown, the scheduler's records included.
        quiet = numeric_level > logging.DEBUG
        logging.getLogger("apscheduler").setLevel(logging.WARNING if quiet else logging.NOTSET)
        for name in REQUEST_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        for name in ROOT_LOGGING_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
    logging.captureWarnings(True)
