"""Configuration: one TOML file -> typed, frozen `Settings`.

Every key is described once in `calsync.config.sections` (core) or by a
provider (its account keys); that description drives validation,
`render_effective` (``calsync config check``) and `render_example`
(``config.example.toml``).
"""

from calsync.config.durations import format_duration, parse_duration
from calsync.config.loader import load_settings, settings_from_tables
from calsync.config.render import render_effective, render_example, render_reference
from calsync.config.schema import Key, KeyType, Section
from calsync.config.secrets import Secret
from calsync.config.settings import (
    AccountSettings,
    ApiSettings,
    GoogleAppSettings,
    ListenAddress,
    LoggingSettings,
    MicrosoftAppSettings,
    NotifySettings,
    ProvidersSettings,
    Settings,
    StoreSettings,
    SyncSettings,
)

__all__ = [
    "AccountSettings",
    "ApiSettings",
    "GoogleAppSettings",
    "Key",
    "KeyType",
    "ListenAddress",
    "LoggingSettings",
    "MicrosoftAppSettings",
    "NotifySettings",
    "ProvidersSettings",
    "Secret",
    "Section",
    "Settings",
    "StoreSettings",
    "SyncSettings",
    "format_duration",
    "load_settings",
    "parse_duration",
    "render_effective",
    "render_example",
    "render_reference",
    "settings_from_tables",
]
