"""Logging for the daemon and the CLI: text or JSON lines, with secrets redacted.

`configure_logging` installs one handler on the root logger; calling it again
(on SIGHUP) replaces that handler instead of adding a second one.

Nothing calsync logs may reveal a secret or a token, so redaction happens at
the last moment, on the fully formatted output (message, ``%`` arguments,
exception tracebacks, stack info and JSON extras), not by trusting callers.
It removes:

* every value passed to `register_secret` (`calsync.config.secrets.Secret`
  registers each secret it reads);
* calsync's own tokens (``csa_…`` access, ``csr_…`` refresh);
* ``Bearer …`` / ``Basic …`` credentials;
* ``client_secret=…``, ``access_token: …`` and similar key/value shapes, and
  JSON extras whose key names a credential.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any, Literal

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "configure_logging",
    "redact",
    "register_secret",
]

REDACTED = "***"

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

#: Shorter registered values are ignored: redacting every "ab" would wreck the
#: logs while protecting nothing a 2-character secret could protect.
MIN_SECRET_LENGTH = 4

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

_TOKEN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(cs[ar]_)[A-Za-z0-9_-]{8,}"), r"\1" + REDACTED),
    (re.compile(r"\b(Bearer\s+)[^\s\"',;]+", re.IGNORECASE), r"\1" + REDACTED),
    # "Basic" is an English word too: only redact what looks like base64 credentials.
    (re.compile(r"\b(Basic\s+)[A-Za-z0-9+/]{8,}={0,2}"), r"\1" + REDACTED),
    (
        # key=value, key: value, "key": "value", 'key': 'value' (dict reprs, JSON, query strings)
        re.compile(
            r"\b((?:client_secret|refresh_token|access_token|id_token|password|passwd|api_key)"
            r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}\]]+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
)

_registry_lock = threading.Lock()
_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Make sure ``value`` never appears in any log output from now on."""
    global _registered_pattern
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _registry_lock:
        if value in _registered:
            return
        _registered.add(value)
        # Longest first, so a secret containing another is removed whole.
        alternatives = sorted(_registered, key=len, reverse=True)
        _registered_pattern = re.compile("|".join(re.escape(v) for v in alternatives))


def redact(text: str) -> str:
    """``text`` with registered secrets and token-shaped strings replaced by ``***``."""
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for token_pattern, replacement in _TOKEN_PATTERNS:
        text = token_pattern.sub(replacement, text)
    return text


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
    logging.captureWarnings(True)
