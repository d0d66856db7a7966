"""What ``calsync account add google`` and ``account add microsoft`` share.

Both resolve their OAuth client the same way, flags first, then the configured
account of that name, then the provider's ``[providers.<name>]`` table
(`resolve_client`); both keep the refresh token encrypted with the vault key in
a private file next to the store (`token_storage`) and print an ``[[accounts]]``
table (`AddedAccount`). Only the consent flow and the endpoint keys differ
(`calsync.cli.accounts`, `calsync.cli.accounts_microsoft`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from calsync.cli.private_files import state_directory, write_private
from calsync.config import AccountSettings, Secret, Settings
from calsync.config.render import toml_value
from calsync.config.secrets import find_credential
from calsync.errors import UserError
from calsync.providers import secrets_vault


@dataclass(frozen=True, slots=True)
class AccountRequest:
    """What ``calsync account add PROVIDER`` was asked (None: take it from the config)."""

    name: str
    client_id: str | None = None
    client_secret_file: Path | None = None
    ca_file: Path | None = None
    token_file: Path | None = None
    vault_key_file: Path | None = None
    timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class AddedAccount:
    token_file: Path
    #: The key file to name in the config; None when it is the systemd credential.
    vault_key_file: Path | None
    created_key: bool
    snippet: str


class AppTable(Protocol):
    """The part of ``[providers.google]`` / ``[providers.microsoft]`` an account may inherit."""

    @property
    def client_id(self) -> str: ...

    @property
    def client_secret_file(self) -> Secret | None: ...

    @property
    def ca_file(self) -> Path | None: ...


def source_of(account: AccountSettings | None, key: str) -> Path | None:
    """The file a configured account's ``*_file`` secret was read from."""
    value = account.options.get(key) if account is not None else None
    source = getattr(value, "source", None)
    return source if isinstance(source, Path) else None


def path_option(options: Mapping[str, Any], key: str) -> Path | None:
    value = options.get(key)
    return Path(value) if isinstance(value, str | Path) and str(value) else None


def read_file_secret(path: Path, what: str) -> str:
    try:
        text = path.expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UserError(f"cannot read the {what} file {path}: {exc}") from exc
    if not text:
        raise UserError(f"the {what} file {path} is empty")
    return text


def credential_key_file() -> Path | None:
    """``$CREDENTIALS_DIRECTORY/calsync-vault-key`` when systemd provides it."""
    return find_credential(secrets_vault.DEFAULT_KEY_CREDENTIAL)


def vault_keys(key_file: Path | None, default_dir: Path) -> tuple[list[bytes], Path | None, bool]:
    """(keys, file to name in the config, whether the file was created now).

    An explicit ``key_file`` is used (and created with a fresh key when it does
    not exist); without one the systemd credential is used when present, else
    ``default_dir/calsync-vault-key`` (created when missing).
    """
    if key_file is None:
        credential = credential_key_file()
        if credential is not None:
            return secrets_vault.load_keys(None), None, False
        key_file = default_dir / secrets_vault.DEFAULT_KEY_CREDENTIAL
    key_file = key_file.expanduser().absolute()
    if key_file.exists():
        return secrets_vault.load_keys(read_file_secret(key_file, "vault key")), key_file, False
    key = secrets_vault.generate_key()
    write_private(key_file, key + "\n")
    return secrets_vault.load_keys(key), key_file, True


def absolute(path: Path) -> str:
    return str(path.expanduser().absolute())


@dataclass(frozen=True, slots=True)
class Client:
    """The OAuth client an account is added with, and the configured account it reuses."""

    existing: AccountSettings | None
    #: The configured account's options (what it inherits from its app table included).
    options: Mapping[str, Any]
    client_id: str
    secret_path: Path | None
    client_secret: str | None
    ca_file: Path | None


def resolve_client(
    settings: Settings,
    request: AccountRequest,
    *,
    provider: str,
    label: str,
    app: AppTable | None,
    hint: str,
) -> Client:
    """Flags first, then the configured account, then the app table. `UserError` when
    ``request.name`` is another provider's account or no client id is found anywhere
    (``hint`` says where to get one)."""
    existing = settings.account(request.name)
    if existing is not None and existing.provider != provider:
        raise UserError(
            f"account {request.name!r} is already configured with provider {existing.provider!r}",
            hint="Choose another --name.",
        )
    options: Mapping[str, Any] = dict(existing.options) if existing is not None else {}
    client_id = request.client_id or options.get("client_id") or (app and app.client_id)
    if not client_id:
        raise UserError(f"--client-id is required for a new {label} account", hint=hint)
    app_secret = app.client_secret_file if app is not None else None
    secret_path = (
        request.client_secret_file
        or source_of(existing, "client_secret_file")
        or (app_secret.source if app_secret is not None else None)
    )
    client_secret = (
        read_file_secret(secret_path, "client secret") if secret_path is not None else None
    )
    ca_file = (
        request.ca_file
        or path_option(options, "ca_file")
        or (app.ca_file if app is not None else None)
    )
    return Client(existing, options, client_id, secret_path, client_secret, ca_file)


@dataclass(frozen=True, slots=True)
class TokenStorage:
    """Where the refresh token goes, and the vault key that encrypts it."""

    token_file: Path
    keys: list[bytes]
    #: The key file to name in the config; None when it is the systemd credential.
    key_file: Path | None
    created_key: bool

    def store(self, refresh_token: str) -> None:
        encrypted = secrets_vault.TokenVault(self.keys).encrypt(refresh_token)
        write_private(self.token_file, encrypted + "\n")

    def key_line(self) -> str:
        """The ``[[accounts]]`` line that names the vault key."""
        if self.key_file is not None:
            return f"vault_key_file = {toml_value(str(self.key_file))}"
        return f"# vault key: the {secrets_vault.DEFAULT_KEY_CREDENTIAL} systemd credential"

    def added(self, lines: list[str]) -> AddedAccount:
        return AddedAccount(
            self.token_file, self.key_file, self.created_key, "\n".join(lines) + "\n"
        )


def token_storage(
    settings: Settings, request: AccountRequest, client: Client, *, provider: str
) -> TokenStorage:
    """The token file (the flag, the configured account's, else ``PROVIDER-NAME.token``
    next to the store) and the vault key, read or created now: a bad key fails before
    the user is asked to consent in a browser."""
    state_dir = state_directory(settings)
    token_file = (
        request.token_file
        or source_of(client.existing, "refresh_token_file")
        or state_dir / f"{provider}-{request.name}.token"
    )
    key_file = request.vault_key_file or source_of(client.existing, "vault_key_file")
    keys, named_key_file, created = vault_keys(key_file, state_dir)
    return TokenStorage(token_file.expanduser().absolute(), keys, named_key_file, created)
