"""The schema primitives: every config key is described exactly once.

A `Key` says what the key is called, what type it has, its default (written
the way the TOML file writes it, so the example file and the validator share
it) and its help text. A `Section` groups keys under one ``[table]`` (or
``[[array]]`` when ``repeated``). Providers declare their account keys with
the same primitives; the loader receives them, config never imports providers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Key", "KeyType", "Section"]


class KeyType(StrEnum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    #: ``"30s"``, ``"5m"``, ``"1h30m"`` -> `datetime.timedelta`.
    DURATION = "duration"
    #: An ``http``/``https`` URL, kept as the string given.
    URL = "url"
    #: A SQLAlchemy database URL (``sqlite:///…``, ``postgresql+psycopg://…``).
    DATABASE_URL = "database url"
    #: ``"host:port"`` or ``"[::1]:port"`` -> `ListenAddress`.
    LISTEN = "listen address"
    #: A filesystem path; relative paths resolve against the config file's directory.
    PATH = "path"
    STR_LIST = "list[str]"
    LOG_LEVEL = "log level"
    #: One of ``Key.choices``.
    ENUM = "enum"


@dataclass(frozen=True, slots=True)
class Key:
    """One config key; ``default`` and ``example`` are TOML-shaped (``"5m"``, not a timedelta).

    ``secret=True`` marks a ``*_file`` key whose file holds a secret: the
    loaded value is a `calsync.config.secrets.Secret` (for a ``*_files`` list
    of names, a tuple of them). ``minimum``/``maximum``
    bound numbers (and durations, in seconds). A key without a default and not
    ``required`` loads as ``None``.
    """

    name: str
    type: KeyType
    default: object = None
    help: str = ""
    secret: bool = False
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    #: Shown (commented out) in the example file when there is no default.
    example: object = None

    def __post_init__(self) -> None:
        secret_file = self.name.endswith("_file") and self.type is KeyType.PATH
        secret_files = self.name.endswith("_files") and self.type is KeyType.STR_LIST
        if self.secret and not (secret_file or secret_files):
            raise ValueError(
                f"secret key {self.name!r} must be a PATH key named *_file "
                "or a list[str] key named *_files"
            )
        if self.type is KeyType.ENUM and not self.choices:
            raise ValueError(f"enum key {self.name!r} needs choices")
        if self.required and self.default is not None:
            raise ValueError(f"required key {self.name!r} cannot have a default")

    @property
    def type_label(self) -> str:
        if self.type is KeyType.ENUM and self.choices:
            return " | ".join(f'"{c}"' for c in self.choices)
        return str(self.type)


@dataclass(frozen=True, slots=True, init=False)
class Section:
    """A ``[name]`` table, or a ``[[name]]`` array of tables when ``repeated``."""

    name: str
    keys: tuple[Key, ...]
    repeated: bool
    help: str

    def __init__(
        self, name: str, keys: Iterable[Key] = (), repeated: bool = False, help: str = ""
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "keys", tuple(keys))
        object.__setattr__(self, "repeated", repeated)
        object.__setattr__(self, "help", help)
        names = [k.name for k in self.keys]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"section {name!r} declares {', '.join(duplicates)} twice")

    def get(self, name: str) -> Key | None:
        for key in self.keys:
            if key.name == name:
                return key
        return None

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)
