"""``calsync keys rotate``: re-encrypt every vaulted refresh token under a new key.

Order matters for crash safety. The new key file is written first and holds
the new key *followed by every old key*, so whatever happens next, each token
file opens with it: a file not yet rotated still opens with an old key, and
running the command again finishes the job (`secrets_vault.rotate` accepts
values already under the new key). Nothing is written at all when some token
cannot be decrypted with the keys at hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calsync.cli.account_setup import credential_key_file, read_file_secret
from calsync.cli.accounts import GOOGLE
from calsync.cli.private_files import write_private
from calsync.config import Settings
from calsync.providers import secrets_vault

#: Providers whose refresh_token_file may hold a vault ciphertext. (A microsoft account's
#: msal token cache needs no rotation: the new key file keeps the old keys, and the
#: cache is written again under the first key on its next change.)
VAULTED = (GOOGLE, "microsoft")

KEY_FILE_HEADER = (
    "# calsync vault keys, one per line: the first encrypts, the others only decrypt.\n"
    "# Remove the old ones once every token has been rotated under the first.\n"
)


@dataclass(frozen=True, slots=True)
class Rotation:
    key_file: Path
    created_key: bool
    rotated: tuple[Path, ...]
    #: Token files that hold a plain (unencrypted) token and were left as they are.
    plain: tuple[Path, ...]
    #: Accounts whose refresh_token_file is not configured.
    without_token: tuple[str, ...]


def _unique(keys: list[bytes]) -> list[bytes]:
    return list(dict.fromkeys(keys))


def current_keys(settings: Settings) -> list[bytes]:
    """Every key the configured Google and Microsoft accounts decrypt with today."""
    keys: list[bytes] = []
    for account in settings.accounts:
        if account.provider not in VAULTED:
            continue
        secret = account.options.get("vault_key_file")
        if secret is not None:
            keys += secrets_vault.keys_from_text(secret.reveal())
        elif credential_key_file() is not None:
            keys += secrets_vault.load_keys(None)
    return _unique(keys)


def rotate_keys(settings: Settings, new_key_file: Path) -> Rotation:
    """Rotate every vault ciphertext file of the configured Google and Microsoft accounts to
    ``new_key_file``.

    ``new_key_file``'s first key is the new key; when the file does not exist a
    fresh key is generated into it.
    """
    new_key_file = new_key_file.expanduser().absolute()
    created = not new_key_file.exists()
    if created:
        new_key = secrets_vault.generate_key().encode("ascii")
        extra: list[bytes] = []
    else:
        first, *extra = secrets_vault.load_keys(read_file_secret(new_key_file, "new vault key"))
        new_key = first
    old_keys = [k for k in _unique(current_keys(settings) + extra) if k != new_key]

    ciphertexts: dict[str, str] = {}
    plain: list[Path] = []
    without_token: list[str] = []
    for account in settings.accounts:
        if account.provider not in VAULTED:
            continue
        secret = account.options.get("refresh_token_file")
        source = getattr(secret, "source", None)
        if not isinstance(source, Path):
            without_token.append(account.name)
            continue
        text = read_file_secret(source, "refresh token")
        if secrets_vault.is_ciphertext(text):
            ciphertexts[str(source)] = text
        elif source not in plain:
            plain.append(source)

    # Decrypts everything in memory first: raises before any file is written.
    secrets_vault.rotate(ciphertexts, new_key, old_keys)
    key_lines = [k.decode("ascii") for k in (new_key, *old_keys)]
    write_private(new_key_file, KEY_FILE_HEADER + "\n".join(key_lines) + "\n")
    for path, ciphertext in ciphertexts.items():
        write_private(Path(path), ciphertext + "\n")
    return Rotation(
        new_key_file,
        created,
        tuple(Path(p) for p in ciphertexts),
        tuple(plain),
        tuple(without_token),
    )
