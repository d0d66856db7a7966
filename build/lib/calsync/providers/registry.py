"""Which provider answers to which config name.

The config says ``provider = "google"``; this module turns that name into a
`ProviderSpec`: a factory that builds the provider from the account's options,
plus the provider's config schema fragment for the loader.

Built-in providers are registered *lazily* by module path, so importing the
registry (which the CLI and the config loader do) never imports the Google,
Graph or CalDAV client libraries. A module is imported the first time its
name is asked for. Adding a provider means adding one line to `_BUILTINS` and
exposing a module-level ``SPEC: ProviderSpec`` in the new module.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calsync.errors import ProviderError, UserError
from calsync.providers.base import Provider, ProviderFactory

#: name -> "module:attribute" of a `ProviderSpec`, imported on first use.
_BUILTINS: dict[str, str] = {
    "caldav": "calsync.providers.caldav:SPEC",
    "memory": "calsync.providers.memory:SPEC",
    "ics": "calsync.providers.ics:SPEC",
    "google": "calsync.providers.google:SPEC",
}


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Everything the rest of calsync needs to know about one provider kind."""

    name: str
    factory: ProviderFactory
    #: The provider's keys for its ``[[accounts]]`` table, as a
    #: `calsync.config.schema.Section` (kept opaque here so the registry does
    #: not depend on the config package's shape); None when it has no keys.
    config_section: object | None = None
    description: str = ""


_lock = threading.Lock()
_specs: dict[str, ProviderSpec] = {}
_lazy: dict[str, str] = dict(_BUILTINS)


def register(spec: ProviderSpec, *, replace: bool = False) -> None:
    """Make ``spec`` available under ``spec.name``.

    Registering a name twice is a programming error unless ``replace`` is set
    (tests use it to install a variant of a provider).
    """
    with _lock:
        if not replace and spec.name in _specs:
            raise ValueError(f"provider {spec.name!r} is already registered")
        _specs[spec.name] = spec
        _lazy.pop(spec.name, None)


def register_lazy(name: str, target: str) -> None:
    """Register ``name`` to be loaded from ``"module:attribute"`` on first use."""
    if ":" not in target:
        raise ValueError(f"lazy provider target must be 'module:attribute', got {target!r}")
    with _lock:
        if name in _specs or name in _lazy:
            raise ValueError(f"provider {name!r} is already registered")
        _lazy[name] = target


def unregister(name: str) -> None:
    """Forget ``name`` (tests); built-ins come back as lazy entries."""
    with _lock:
        _specs.pop(name, None)
        _lazy.pop(name, None)
        if name in _BUILTINS:
            _lazy[name] = _BUILTINS[name]


def names() -> list[str]:
    """Every known provider name, sorted."""
    with _lock:
        return sorted(set(_specs) | set(_lazy))


def get(name: str) -> ProviderSpec:
    """The spec registered as ``name``; `UserError` naming the known ones if none is."""
    with _lock:
        spec = _specs.get(name)
        target = _lazy.get(name)
    if spec is not None:
        return spec
    if target is None:
        known = ", ".join(repr(n) for n in names()) or "none"
        raise UserError(
            f"unknown provider {name!r}",
            hint=f"Set `provider` to one of: {known}.",
        )
    loaded = _load(name, target)
    with _lock:
        # Another thread may have loaded it meanwhile; keep whichever came first.
        current = _specs.setdefault(name, loaded)
        _lazy.pop(name, None)
    return current


def _load(name: str, target: str) -> ProviderSpec:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        # A provider whose client library is missing must not look like a typo.
        raise ProviderError(
            f"provider {name!r} is unavailable: {exc}",
            hint="Reinstall calsync with its dependencies.",
        ) from exc
    spec = getattr(module, attribute)
    if not isinstance(spec, ProviderSpec):
        raise TypeError(f"{target} is not a ProviderSpec (for provider {name!r})")
    if spec.name != name:
        raise TypeError(f"{target} declares name {spec.name!r}, registered as {name!r}")
    return spec


def create(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
    """Build a provider of kind ``name`` for the account ``account_name``."""
    return get(name).factory(account_name, options)


def config_sections() -> dict[str, object]:
    """Provider name -> its config section, for the bootstrap to hand to the loader.

    This imports every registered provider module (and so its client library);
    only the bootstrap and ``calsync config check`` need it.
    """
    sections: dict[str, object] = {}
    for name in names():
        section = get(name).config_section
        if section is not None:
            sections[name] = section
    return sections
