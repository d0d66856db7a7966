"""The one place that wires calsync together: config -> store -> API app.

Everything here is created on demand (nothing at import time), so the CLI
imports it cheaply and tests build the same objects the daemon does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from calsync.config import Settings
from calsync.config import load_settings as _load_settings
from calsync.config.schema import Section
from calsync.logs import configure_logging
from calsync.providers import registry

if TYPE_CHECKING:
    from fastapi import FastAPI

    from calsync.api.deps import ApiServices
    from calsync.store import Store


#: Libraries whose INFO records are noise for an operator (alembic announces its plugins).
_CHATTY_LOGGERS = ("alembic",)


def setup_logging(level: str, fmt: Literal["text", "json"]) -> None:
    """`configure_logging`, with chatty libraries held at WARNING unless debugging."""
    configure_logging(level, fmt)
    chatty_level = logging.DEBUG if level.lower() == "debug" else logging.WARNING
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty_level)


def provider_schemas() -> dict[str, Section]:
    """Provider name -> the keys its ``[[accounts]]`` accept, for the config loader.

    A provider that declares no section still has to be a known name; it gets
    an empty section (its accounts accept only the common keys).
    """
    schemas: dict[str, Section] = {}
    declared = registry.config_sections()
    for name in registry.names():
        section = declared.get(name)
        if section is None:
            section = Section(name)
        if not isinstance(section, Section):
            raise TypeError(f"provider {name!r} declares a config section of type {type(section)}")
        schemas[name] = section
    return schemas


def load_settings(path: Path) -> Settings:
    """Load and validate the config file (`ConfigError` naming file and key when invalid)."""
    return _load_settings(path, provider_schemas())


def store_url(settings: Settings) -> str:
    """``[store] url`` with the password from ``password_file`` put in, when there is one."""
    url = settings.store.url
    secret = settings.store.password_file
    if secret is None:
        return url
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or not authority:
        return url  # no server to authenticate to (SQLite)
    credentials, at, host = authority.rpartition("@")
    user = credentials.split(":", 1)[0] if at else ""
    password = quote(secret.reveal(), safe="")
    return f"{scheme}://{user}:{password}@{host}{slash}{path}"


def open_store(settings: Settings) -> Store:
    """A `Store` for ``[store] url`` (no connection is made until first use)."""
    from calsync.store import Store

    return Store(store_url(settings))


@contextmanager
def store_session(settings: Settings, *, migrated: bool = True) -> Iterator[Store]:
    """A store for the length of one CLI command, disposed afterwards.

    With ``migrated`` (the default) the schema must be current: otherwise the
    command fails up front with `StoreError` ("run `calsync db upgrade`")
    instead of half-way through.
    """
    store = open_store(settings)
    try:
        if migrated:
            store.ensure_current()
        yield store
    finally:
        store.dispose()


def build_services(settings: Settings, store: Store) -> ApiServices:
    """The API's services: a rate limiter a reload can retune, and the channel metrics."""
    from calsync.api.deps import ApiServices
    from calsync.daemon.live_api import ReloadableRateLimiter, ScrapeSafe
    from calsync.notify.status import ChannelCollector

    services = ApiServices.build(
        settings, store, limiter=ReloadableRateLimiter.from_settings(settings, store)
    )
    services.metrics.registry.register(ScrapeSafe(ChannelCollector(store), "channel"))
    return services


def build_app(settings: Settings, store: Store, services: ApiServices | None = None) -> FastAPI:
    from calsync.api.app import create_app

    return create_app(services if services is not None else build_services(settings, store))


def display_url(url: str) -> str:
    """``url`` without its password, query values or token-like path segments, for messages."""
    from calsync.redaction import redact

    return redact(url)
