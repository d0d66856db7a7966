"""Secrets come from files, never from the config text itself.

A ``*_file`` key names the file. An absolute path is used as is. A relative
name is looked up first in ``$CREDENTIALS_DIRECTORY`` (where systemd's
``LoadCredential=`` puts credentials, readable even when the original file is
not) and then relative to the config file's directory.

Secrets are read when the config is loaded, so `calsync config check` and a
SIGHUP reload fail early on a missing file instead of at the first request.
"""

from __future__ import annotations

import os
from pathlib import Path

from calsync.logs import register_secret

__all__ = ["Secret", "SecretFileError", "read_secret_file", "secret_file_candidates"]


class Secret:
    """A secret value that never shows itself by accident.

    ``repr``/``str`` are redacted; `reveal` returns the value. ``source`` is
    the file it was read from, which is safe to show.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: Path | None = None) -> None:
        self._value = value
        self.source = source
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # with hashlib and OpenSSL: ~3 ms that only a comparison needs

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


class SecretFileError(Exception):
    """The secret file is missing, unreadable or empty; the loader turns this into a ConfigError."""


#: The unit file loads the whole /etc/calsync/credentials directory with
#: ``LoadCredential=calsync:/etc/calsync/credentials``; systemd names each file
#: in it ``calsync_<file name>``, so a config can still say just ``<file name>``.
CREDENTIAL_DIRECTORY_PREFIX = "calsync_"


def credential_candidates(name: str) -> list[Path]:
    """Where the systemd credential ``name`` may be, in order (empty outside systemd)."""
    credentials_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if not credentials_dir:
        return []
    base = Path(credentials_dir)
    return [base / name, base / f"{CREDENTIAL_DIRECTORY_PREFIX}{name}"]


def find_credential(name: str) -> Path | None:
    """The file of systemd credential ``name``, if the service was given one."""
    return next((p for p in credential_candidates(name) if p.is_file()), None)


def secret_file_candidates(name: str, *, config_dir: Path) -> list[Path]:
    """Where a ``*_file`` value is looked for, in order."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return [path]
    return [*credential_candidates(str(path)), config_dir / path]


def read_secret_file(name: str, *, config_dir: Path) -> Secret:
    """Read the secret named by a ``*_file`` value. Trailing newlines are not part of it."""
    candidates = secret_file_candidates(name, config_dir=config_dir)
    for candidate in candidates:
        if not candidate.is_file():
            continue
        try:
            value = candidate.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretFileError(f"cannot read secret file {candidate}: {exc}") from exc
        if not value.strip():
            raise SecretFileError(f"secret file {candidate} is empty")
        return Secret(value, source=candidate)
    tried = ", ".join(str(c) for c in candidates)
    raise SecretFileError(f"secret file not found (looked for {tried})")
