"""The typed result of loading the config: frozen dataclasses, one per section.

Field names equal the TOML key names, so the schema, the loader and
`render_effective` need no mapping table between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

from calsync.config.secrets import Secret

__all__ = [
    "AccountSettings",
    "ApiSettings",
    "GoogleAppSettings",
    "ListenAddress",
    "LoggingSettings",
    "MicrosoftAppSettings",
    "NotifySettings",
    "ProvidersSettings",
    "Settings",
    "StoreSettings",
    "SyncSettings",
]


class ListenAddress(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    #: A SQLAlchemy URL; a relative SQLite path is already resolved against the config's directory.
    url: str
    #: Finished history older than this is pruned (`Store.prune_history`).
    history_retention: timedelta
    #: The database password, when the URL's server needs one (never inline in ``url``).
    password_file: Secret | None = None
    #: Fernet keys for connected accounts' credentials (None: the systemd credential).
    vault_key_file: Secret | None = None


@dataclass(frozen=True, slots=True)
class ApiSettings:
    listen: ListenAddress
    #: No trailing slash; derived from ``listen`` when not set.
    base_url: str
    #: Both set or both None; None disables the client-credential endpoints.
    client_id: str | None
    client_secret_file: Secret | None
    rate_limit_per_second: int
    rate_limit_per_minute: int
    page_size: int
    #: Memory for the API's rendered-page cache, in MiB (0 = off).
    read_cache_mb: int
    max_body_bytes: int
    access_token_ttl: timedelta
    #: Older client secrets still signing notifications during a rotation.
    previous_client_secret_files: tuple[Secret, ...] = ()
    #: Exact-match allow list for /oauth/authorize (loopback http URIs are always allowed).
    redirect_uris: tuple[str, ...] = ()
    #: Where the Chronary dialect is mounted ("" = off); no trailing slash.
    chronary_prefix: str = "/chronary"

    @property
    def client_credentials_enabled(self) -> bool:
        return self.client_id is not None and self.client_secret_file is not None


@dataclass(frozen=True, slots=True)
class SyncSettings:
    interval: timedelta
    window_past_days: int
    window_future_days: int
    max_delete_fraction: float
    rediscover_interval: timedelta
    lease_ttl: timedelta


@dataclass(frozen=True, slots=True)
class NotifySettings:
    allow_private_callbacks: bool
    debounce: timedelta
    verification_timeout: timedelta


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str
    format: Literal["text", "json"]


@dataclass(frozen=True, slots=True)
class AccountSettings:
    name: str
    provider: str
    #: Overrides ``[sync] interval`` for this account when set.
    interval: timedelta | None
    conflict: Literal["remote", "local"]
    enabled: bool
    #: The provider's own keys, validated, defaults filled in; ``*_file`` secrets as `Secret`.
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GoogleAppSettings:
    """``[providers.google]``: the OAuth client users connect Google calendars with."""

    client_id: str
    client_secret_file: Secret | None
    auth_uri: str
    token_uri: str
    #: Ends with ``/calendar/v3/``.
    api_endpoint: str
    #: An extra CA bundle (PEM) to trust, resolved against the config's directory.
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class MicrosoftAppSettings:
    """``[providers.microsoft]``: the identity-platform app for Microsoft 365 / Outlook."""

    client_id: str
    client_secret_file: Secret | None
    #: e.g. ``https://login.microsoftonline.com/common`` (no trailing slash).
    authority: str
    #: e.g. ``https://graph.microsoft.com/v1.0`` (no trailing slash).
    graph_endpoint: str
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class ProvidersSettings:
    """The ``[providers.*]`` tables; an absent table is None (that provider is not offered)."""

    google: GoogleAppSettings | None = None
    microsoft: MicrosoftAppSettings | None = None

    @property
    def configured(self) -> tuple[str, ...]:
        """Names of the providers users can connect through OAuth, in chooser order."""
        return tuple(n for n in ("google", "microsoft") if getattr(self, n) is not None)


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    store: StoreSettings
    api: ApiSettings
    sync: SyncSettings
    notify: NotifySettings
    logging: LoggingSettings
    accounts: tuple[AccountSettings, ...]
    providers: ProvidersSettings = ProvidersSettings()

    def account(self, name: str) -> AccountSettings | None:
        for account in self.accounts:
            if account.name == name:
                return account
        return None
