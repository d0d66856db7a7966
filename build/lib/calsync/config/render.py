"""Writing config back out: the effective config and the example file.

Both are generated from the same schema the loader validates against, so a
key cannot be documented in one place and forgotten in another.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from calsync.config.schema import Key, KeyType, Section
from calsync.config.sections import ACCOUNT, CORE_SECTIONS, PROVIDER_APP_SECTIONS
from calsync.config.settings import Settings
from calsync.config.values import to_toml
from calsync.redaction import redact

__all__ = ["render_effective", "render_example", "render_reference", "toml_value"]

_PLACEHOLDERS: dict[KeyType, object] = {
    KeyType.STR: "...",
    KeyType.INT: 0,
    KeyType.FLOAT: 0.0,
    KeyType.BOOL: False,
    KeyType.DURATION: "5m",
    KeyType.URL: "https://calendar.example.org/",
    KeyType.DATABASE_URL: "sqlite:///var/calsync.db",
    KeyType.LISTEN: "127.0.0.1:8080",
    KeyType.PATH: "/path/to/file",
    KeyType.STR_LIST: [],
    KeyType.LOG_LEVEL: "info",
}


def toml_value(value: object) -> str:
    """``value`` as a TOML literal (strings, booleans, numbers and arrays of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string, except that TOML forbids raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _comment(text: str, width: int = 88) -> list[str]:
    return ["# " + line for line in textwrap.wrap(text, width - 2)] if text else []


# --- the effective config -------------------------------------------------------------


def _shown(value: object) -> object:
    """A TOML-shaped value as `config check` may print it: URL tokens and secrets hidden."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_shown(item) for item in value]
    return value


def _effective_key(name: str, value: Any) -> str:
    if value is None:
        return f"# {name} is not set"
    return f"{name} = {toml_value(_shown(to_toml(value)))}"


def render_effective(settings: Settings) -> str:
    """The loaded config as TOML, every default filled in; secrets appear only as their
    file, and the secret parts of URLs (query values, token-like segments) as ``***``."""
    lines = [
        f"# Effective configuration, loaded from {settings.path}.",
        "# Defaults are filled in; secrets are shown as the file they are read from,",
        "# and the token-like parts of URLs (query values, capability paths) as ***.",
    ]
    for section in CORE_SECTIONS:
        values = getattr(settings, section.name)
        lines += ["", f"[{section.name}]"]
        lines += [_effective_key(key.name, getattr(values, key.name)) for key in section.keys]
    for section in PROVIDER_APP_SECTIONS:
        app = getattr(settings.providers, section.name.removeprefix("providers."))
        if app is None:
            lines += ["", f"# [{section.name}] is not set (not offered on /oauth/authorize)"]
            continue
        lines += ["", f"[{section.name}]"]
        lines += [_effective_key(key.name, getattr(app, key.name)) for key in section.keys]
    for account in settings.accounts:
        lines += ["", "[[accounts]]"]
        lines += [_effective_key(key.name, getattr(account, key.name)) for key in ACCOUNT.keys]
        lines += [_effective_key(name, value) for name, value in account.options.items()]
    return "\n".join(lines) + "\n"


# --- the example file -----------------------------------------------------------------


def _example_key(key: Key, value: object = None) -> list[str]:
    lines = _comment(key.help)
    shown = value if value is not None else key.default
    detail = key.type_label
    if key.required:
        detail += ", required"
    elif key.default is not None:
        detail += f", default {toml_value(key.default)}"
    else:
        detail += ", optional"
    lines.append(f"# ({detail})")
    if shown is not None:
        lines.append(f"{key.name} = {toml_value(shown)}")
    else:
        fallback = key.example if key.example is not None else _PLACEHOLDERS.get(key.type)
        if fallback is None and key.choices:
            fallback = key.choices[0]
        lines.append(f"# {key.name} = {toml_value(fallback)}")
    return lines


def _example_account(provider: str, section: Section, active: bool) -> list[str]:
    lines = ["[[accounts]]"]
    fixed: dict[str, object] = {
        "name": "demo" if active else f"my-{provider}",
        "provider": provider,
    }
    for key in ACCOUNT.keys + section.keys:
        value = fixed.get(key.name)
        if key.required and value is None:
            value = key.example if key.example is not None else _PLACEHOLDERS.get(key.type)
        lines += _example_key(key, value)
    if active:
        return lines
    return ["# " + line if line else "#" for line in lines]


def render_example(
    provider_schemas: Mapping[str, Section], *, active_provider: str | None = None
) -> str:
    """An example config documenting every key, with each key's help as comments.

    Keys with a default are written out with it; optional keys without one are
    commented out. One ``[[accounts]]`` block per provider is included,
    commented out except for ``active_provider``'s.
    """
    lines = [
        "# calsync configuration. Generated from the schema in calsync.config.sections;",
        "# `calsync config check` validates a file and prints the effective result.",
        "# Relative paths (the SQLite store, *_file secrets) resolve against this file's",
        "# directory. Secrets are never written here: *_file keys name a file holding",
        "# the secret, looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential).",
    ]
    for section in CORE_SECTIONS:
        lines += ["", *_comment(section.help), f"[{section.name}]"]
        for key in section.keys:
            lines += ["", *_example_key(key)]
    for section in PROVIDER_APP_SECTIONS:
        # Optional tables: a present table offers the provider, so the example leaves them out.
        block = [f"[{section.name}]"]
        for key in section.keys:
            value = key.example if key.required else None
            block += ["", *_example_key(key, value)]
        lines += ["", *_comment(section.help)]
        lines += ["# " + line if line else "#" for line in block]
    lines += ["", *_comment(ACCOUNT.help)]
    if active_provider in provider_schemas:
        lines += _comment(
            f"The {active_provider!r} account below is active; the blocks after it are "
            "commented-out templates. With no [[accounts]] at all the daemon only serves "
            "the API (application calendars)."
        )
    for provider in _ordered(provider_schemas, active_provider):
        lines += ["", f"# --- provider {provider!r} ---"]
        lines += _example_account(provider, provider_schemas[provider], provider == active_provider)
    return "\n".join(lines) + "\n"


def _ordered(provider_schemas: Mapping[str, Section], first: str | None) -> Iterable[str]:
    names = sorted(provider_schemas)
    if first is not None and first in provider_schemas:
        names.remove(first)
        names.insert(0, first)
    return names


# --- the reference documentation ------------------------------------------------------


def _reference_rows(keys: Iterable[Key]) -> list[str]:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key in keys:
        if key.required:
            default = "required"
        elif key.default is not None:
            default = f"`{toml_value(key.default)}`"
        else:
            default = "not set"
        description = key.help.replace("|", "\\|")
        if key.secret:
            description += " (secret file)"
        rows.append(f"| `{key.name}` | {key.type_label} | {default} | {description} |")
    return rows


def render_reference(provider_schemas: Mapping[str, Section]) -> str:
    """Markdown reference of every key, for the docs."""
    lines = ["# Configuration reference", ""]
    for section in CORE_SECTIONS:
        lines += [f"## `[{section.name}]`", "", section.help, ""]
        lines += [*_reference_rows(section.keys), ""]
    for section in PROVIDER_APP_SECTIONS:
        lines += [f"## `[{section.name}]`", "", section.help, ""]
        lines += [*_reference_rows(section.keys), ""]
    lines += ["## `[[accounts]]`", "", ACCOUNT.help, "", *_reference_rows(ACCOUNT.keys), ""]
    for provider in sorted(provider_schemas):
        section = provider_schemas[provider]
        lines += [f'### `provider = "{provider}"`', ""]
        if section.help:
            lines += [section.help, ""]
        lines += [*_reference_rows(section.keys), ""] if section.keys else ["No extra keys.", ""]
    return "\n".join(lines)
