"""Which provider answers to which config name.

The config says ``provider = "google"``; this module turns that name into a
`ProviderSpec`: a factory that builds the provider from the account's options,
plus the provider's config schema fragment for the loader.

Built-in providers are registered *lazily* by module path, in two halves:

- the config schema (``_BUILTIN_SCHEMAS``): a light ``_<name>_config`` module
  that imports only `calsync.config.schema`. `config_sections` reads these, so
  loading or checking the config never imports a provider's implementation;
- the implementation (``_BUILTINS``): the module with ``SPEC: ProviderSpec``,
  which imports the client library (googleapiclient, caldav, msal, httpx).
  `get` imports it the first time an account of that kind is built.

Adding a provider means one line in each dict; see "Adding a provider" in
DEVELOPERS.md. `tests/unit/test_lazy_imports.py` fails when a config path
imports an implementation.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from calsync.errors import ProviderError, UserError

if TYPE_CHECKING:
    # Types only: importing base imports the model, which `config check` never needs.
    from calsync.providers.base import Provider, ProviderFactory

#: name -> "module:attribute" of a `ProviderSpec`, imported on first use.
_BUILTINS: dict[str, str] = {
    "caldav": "calsync.providers.caldav:SPEC",
    "memory": "calsync.providers.memory:SPEC",
    "ics": "calsync.providers.ics:SPEC",
    "google": "calsync.providers.google:SPEC",
    "microsoft": "calsync.providers.microsoft:SPEC",
}

#: name -> "module:attribute" of the provider's config `Section` (its ``[[accounts]]``
#: keys), in a module light enough to import on every start (no client library).
_BUILTIN_SCHEMAS: dict[str, str] = {
    "caldav": "calsync.providers._caldav_config:CONFIG_SECTION",
    "memory": "calsync.providers._memory_config:CONFIG_SECTION",
    "ics": "calsync.providers._ics_config:CONFIG_SECTION",
    "google": "calsync.providers._google_config:CONFIG_SECTION",
    "microsoft": "calsync.providers._microsoft_config:CONFIG_SECTION",
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
_lazy_schemas: dict[str, str] = dict(_BUILTIN_SCHEMAS)


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
        # The spec carries its own section now; a lazy one would describe another variant.
        _lazy_schemas.pop(spec.name, None)


def register_lazy(name: str, target: str, *, config: str | None = None) -> None:
    """Register ``name`` to be loaded from ``"module:attribute"`` on first use.

    ``config`` is the ``"module:attribute"`` of the provider's config `Section` in a
    light module; without it, reading the config imports the implementation.
    """
    for value in (target, config):
        if value is not None and ":" not in value:
            raise ValueError(f"lazy provider target must be 'module:attribute', got {value!r}")
    with _lock:
        if name in _specs or name in _lazy:
            raise ValueError(f"provider {name!r} is already registered")
        _lazy[name] = target
        if config is not None:
            _lazy_schemas[name] = config


def unregister(name: str) -> None:
    """Forget ``name`` (tests); built-ins come back as lazy entries."""
    with _lock:
        _specs.pop(name, None)
        _lazy.pop(name, None)
        _lazy_schemas.pop(name, None)
        if name in _BUILTINS:
            _lazy[name] = _BUILTINS[name]
        if name in _BUILTIN_SCHEMAS:
            _lazy_schemas[name] = _BUILTIN_SCHEMAS[name]


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


def _import(name: str, target: str) -> object:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        # A provider whose client library is missing must not look like a typo.
        raise ProviderError(
            f"provider {name!r} is unavailable: {exc}",
            hint="Reinstall calsync with its dependencies.",
        ) from exc
    return getattr(module, attribute)


def _load(name: str, target: str) -> ProviderSpec:
    spec = _import(name, target)
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

    Imports only the light schema modules; a provider registered without one
    (a test's `register_lazy` without ``config``) has its implementation imported.
    """
    sections: dict[str, object] = {}
    for name in names():
        with _lock:
            spec = _specs.get(name)
            schema_target = _lazy_schemas.get(name)
        if spec is not None:
            section = spec.config_section
        elif schema_target is not None:
            section = _import(name, schema_target)
        else:
            section = get(name).config_section
        if section is not None:
            sections[name] = section
    return sections
