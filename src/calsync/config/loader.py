"""`load_settings`: one TOML file, validated against the one schema, into `Settings`.

Every problem is a `ConfigError` naming the file, the dotted key
(``api.listen``, ``accounts[1].provider``) and, when it can be found, the line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from calsync.config.locate import find_line, syntax_error_position
from calsync.config.schema import Section
from calsync.config.sections import (
    ACCOUNT,
    API,
    GOOGLE_APP,
    LOGGING,
    MICROSOFT_APP,
    NOTIFY,
    STORE,
    SYNC,
)
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
from calsync.config.values import InvalidValue, to_python
from calsync.errors import ConfigError

#: What an account takes from ``[providers.<its provider>]`` unless it sets them.
#: A ``google`` account only takes ``ca_file``: which CAs to trust is the deployment's
#: (its proxy), while its client and endpoints were always its own table's.
_APP_KEYS = {
    "microsoft": ("client_id", "client_secret_file", "authority", "graph_endpoint", "ca_file"),
    "google": ("ca_file",),
}
#: Providers whose accounts take ``vault_key_file`` from ``[store]``.
_STORE_VAULT_KEY = ("microsoft",)


def _inherited(data: Mapping[str, Any], raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """An account's table with the app keys it leaves unset taken from its
    ``[providers.<name>]`` table (and, for ``microsoft``, ``vault_key_file`` from
    ``[store]``): same key types, so they are validated as the account's own."""
    provider = raw.get("provider")
    keys = _APP_KEYS.get(provider) if isinstance(provider, str) else None
    if keys is None:
        return raw
    providers = data.get("providers")
    app = providers.get(provider) if isinstance(providers, dict) else None
    store = data.get("store")
    inherited: dict[str, Any] = {}
    if isinstance(app, dict):
        inherited |= {key: app[key] for key in keys if key in app}
    if provider in _STORE_VAULT_KEY and isinstance(store, dict) and "vault_key_file" in store:
        inherited["vault_key_file"] = store["vault_key_file"]
    return {**inherited, **raw}


__all__ = ["dotted_key", "load_settings"]

NO_PROVIDERS: Mapping[str, Section] = MappingProxyType({})

#: Key names that can only be an inline secret, whatever the section.
_INLINE_SECRET_NAMES = frozenset(
    {
        "client_secret",
        "password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "private_key",
    }
)

#: A wildcard listen address is not a URL anyone can call; use loopback for the default base_url.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


def dotted_key(table: str | None, index: int | None, key: str | None) -> str:
    """``api.listen``, ``accounts[1].provider``, ``accounts[1]`` or ``listen``."""
    head = "" if table is None else table if index is None else f"{table}[{index}]"
    if key is None:
        return head
    return f"{head}.{key}" if head else key


class _Loader:
    def __init__(self, path: Path, text: str, provider_schemas: Mapping[str, Section]) -> None:
        self.path = path
        self.text = text
        self.config_dir = path.absolute().parent
        self.provider_schemas = provider_schemas

    def error(
        self, table: str | None, index: int | None, key: str | None, problem: str
    ) -> ConfigError:
        line = find_line(self.text, table, index, key)
        return ConfigError(str(self.path), dotted_key(table, index, key), problem, line=line)

    def unknown_key_problem(self, name: str, known: tuple[str, ...], what: str) -> str:
        if name in _INLINE_SECRET_NAMES or f"{name}_file" in known:
            return (
                "secrets must not be written in the config file; put the value in a file "
                f"and set `{name}_file` to its path (or its name in $CREDENTIALS_DIRECTORY)"
            )
        problem = f"unknown {what}"
        import difflib  # only a mistyped key needs it

        close = difflib.get_close_matches(name, known, n=1)
        if close:
            problem += f"; did you mean `{close[0]}`?"
        return problem + f" (known: {', '.join(known) or 'none'})"

    def values(
        self, section: Section, raw: Mapping[str, Any], index: int | None = None
    ) -> dict[str, Any]:
        """Validate one table against ``section``; defaults filled in, unknown keys refused."""
        for name in raw:
            if section.get(name) is None:
                problem = self.unknown_key_problem(name, section.key_names, "key")
                raise self.error(section.name, index, name, problem)
        result: dict[str, Any] = {}
        for key in section.keys:
            if key.name in raw:
                raw_value = raw[key.name]
            elif key.required:
                raise self.error(section.name, index, key.name, "required key is missing")
            elif key.default is None:
                result[key.name] = None
                continue
            else:
                raw_value = key.default
            try:
                result[key.name] = to_python(key, raw_value, config_dir=self.config_dir)
            except InvalidValue as exc:
                raise self.error(section.name, index, key.name, str(exc)) from None
        return result

    def table(self, data: Mapping[str, Any], section: Section) -> dict[str, Any]:
        raw = data.get(section.name, {})
        if not isinstance(raw, dict):
            raise self.error(None, None, section.name, f"expected a [{section.name}] table")
        return self.values(section, raw)

    def account(self, index: int, raw: Mapping[str, Any]) -> AccountSettings:
        provider = raw.get("provider")
        if provider is None:
            raise self.error("accounts", index, "provider", "required key is missing")
        if not isinstance(provider, str):
            raise self.error("accounts", index, "provider", "expected a string")
        provider_section = self.provider_schemas.get(provider)
        if provider_section is None:
            known = ", ".join(sorted(self.provider_schemas)) or "none are installed"
            raise self.error(
                "accounts", index, "provider", f"unknown provider {provider!r} (known: {known})"
            )
        combined = Section("accounts", ACCOUNT.keys + provider_section.keys, repeated=True)
        values = self.values(combined, raw, index)
        ca_file = values.get("ca_file")
        if isinstance(ca_file, Path) and not ca_file.is_file():
            raise self.error("accounts", index, "ca_file", f"file not found: {ca_file}")
        common = {key.name: values.pop(key.name) for key in ACCOUNT.keys}
        return AccountSettings(**common, options=MappingProxyType(values))

    def accounts(self, data: Mapping[str, Any]) -> tuple[AccountSettings, ...]:
        raw_accounts = data.get("accounts", [])
        if not isinstance(raw_accounts, list) or not all(isinstance(a, dict) for a in raw_accounts):
            raise self.error(None, None, "accounts", "expected [[accounts]] tables")
        accounts: list[AccountSettings] = []
        first_index: dict[str, int] = {}
        for index, raw in enumerate(raw_accounts):
            account = self.account(index, _inherited(data, raw))
            if account.name in first_index:
                raise self.error(
                    "accounts",
                    index,
                    "name",
                    f"duplicate account name {account.name!r} "
                    f"(already used by accounts[{first_index[account.name]}])",
                )
            first_index[account.name] = index
            accounts.append(account)
        return tuple(accounts)

    def api(self, data: Mapping[str, Any]) -> ApiSettings:
        values = self.table(data, API)
        listen: ListenAddress = values["listen"]
        if values["base_url"] is None:
            host = _WILDCARD_HOSTS.get(listen.host, listen.host)
            values["base_url"] = f"http://{ListenAddress(host, listen.port)}"
        values["base_url"] = values["base_url"].rstrip("/")
        prefix = values["chronary_prefix"].strip().rstrip("/")
        if prefix and (not prefix.startswith("/") or any(c in prefix for c in "?#% ")):
            raise self.error("api", None, "chronary_prefix", "a path such as /chronary, or empty")
        values["chronary_prefix"] = prefix
        if (values["client_id"] is None) != (values["client_secret_file"] is None):
            missing = "client_secret_file" if values["client_id"] else "client_id"
            present = "client_id" if values["client_id"] else "client_secret_file"
            raise self.error("api", None, present, f"set `{missing}` too, or neither")
        for position, uri in enumerate(values["redirect_uris"]):
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                raise self.error(
                    "api",
                    None,
                    "redirect_uris",
                    f"entry {position + 1} ({uri!r}) is not an absolute http(s) URL "
                    "without a fragment",
                )
        return ApiSettings(**values)

    def providers(self, data: Mapping[str, Any]) -> ProvidersSettings:
        raw = data.get("providers", {})
        if not isinstance(raw, dict):
            raise self.error(None, None, "providers", "expected [providers.<name>] tables")
        sections = {"google": GOOGLE_APP, "microsoft": MICROSOFT_APP}
        found: dict[str, Any] = {}
        for name, table in raw.items():
            section = sections.get(name)
            if section is None:
                problem = self.unknown_key_problem(name, tuple(sections), "provider table")
                raise self.error(f"providers.{name}", None, None, problem)
            if not isinstance(table, dict):
                raise self.error(None, None, section.name, f"expected a [{section.name}] table")
            values = self.values(section, table)
            for url_key in ("authority", "graph_endpoint"):
                if url_key in values:
                    values[url_key] = values[url_key].rstrip("/")
            ca_file = values.get("ca_file")
            if ca_file is not None and not ca_file.is_file():
                raise self.error(section.name, None, "ca_file", f"file not found: {ca_file}")
            found[name] = values
        google = found.get("google")
        microsoft = found.get("microsoft")
        return ProvidersSettings(
            google=None if google is None else GoogleAppSettings(**google),
            microsoft=None if microsoft is None else MicrosoftAppSettings(**microsoft),
        )

    def settings(self, data: Mapping[str, Any]) -> Settings:
        known = (*(s.name for s in (STORE, API, SYNC, NOTIFY, LOGGING)), ACCOUNT.name, "providers")
        for name, value in data.items():
            if name not in known:
                what = "section" if isinstance(value, dict) else "top-level key"
                problem = self.unknown_key_problem(name, known, what)
                if isinstance(value, dict):
                    raise self.error(name, None, None, problem)
                raise self.error(None, None, name, problem)
        return Settings(
            path=self.path.absolute(),
            store=StoreSettings(**self.table(data, STORE)),
            api=self.api(data),
            sync=SyncSettings(**self.table(data, SYNC)),
            notify=NotifySettings(**self.table(data, NOTIFY)),
            logging=LoggingSettings(**self.table(data, LOGGING)),
            accounts=self.accounts(data),
            providers=self.providers(data),
        )


def load_settings(path: Path, provider_schemas: Mapping[str, Section] = NO_PROVIDERS) -> Settings:
    """Read, parse and validate the config at ``path``.

    ``provider_schemas`` maps a provider name (``provider = "…"``) to the
    section of keys its accounts accept; the bootstrap passes the registry's.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "file", f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "file", f"not UTF-8 text: {exc.reason}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line, column = syntax_error_position(str(exc))
        if column is not None:
            message += f" at column {column}"
        raise ConfigError(str(path), "syntax", message, line=line) from None
    return _Loader(path, text, provider_schemas).settings(data)


def settings_from_tables(
    data: Mapping[str, Any], path: Path, provider_schemas: Mapping[str, Section] = NO_PROVIDERS
) -> Settings:
    """Settings from already-parsed TOML tables, validated and defaulted exactly as a
    file's would be (errors name ``path``, without line numbers). For embedding
    calsync and for tests, which then need to state only what differs from the
    schema's defaults."""
    return _Loader(Path(path), "", provider_schemas).settings(data)
