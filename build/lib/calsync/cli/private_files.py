"""Writing secret files: owner-only permissions, atomic replacement, and where they go."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from calsync.config import Settings
from calsync.errors import UserError

_SQLITE_SCHEMES = ("sqlite:///", "sqlite+pysqlite:///")


def state_directory(settings: Settings) -> Path:
    """Where calsync keeps its files: next to the SQLite store, else beside the config."""
    url = settings.store.url
    for prefix in _SQLITE_SCHEMES:
        if url.startswith(prefix):
            database = url[len(prefix) :].partition("?")[0]
            if database and database != ":memory:":
                return Path(database).parent
    return settings.path.parent


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by its owner only.

    A crash leaves either the old or the new file, never a torn one: the text
    goes to a temporary file in the same directory, is flushed, then renamed.
    An existing file keeps its mode (but never gains group/other access).
    """
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the directory for {path}: {exc}") from exc
    mode = 0o600
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode) & 0o700
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise UserError(f"cannot write {path}: {exc}") from exc
