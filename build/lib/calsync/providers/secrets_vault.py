"""Refresh tokens encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key file holds one or more urlsafe-base64 Fernet keys, one per line. The
first line is the current key (it encrypts); the others are old keys that may
still decrypt until `rotate` has re-encrypted everything. Ciphertexts carry a
``fernet:`` prefix so a file can say which kind of value it holds.

Keys come from a ``*_file`` config key or, when none is set, from
``$CREDENTIALS_DIRECTORY/calsync-vault-key`` (systemd ``LoadCredential=``).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from calsync.config.secrets import find_credential
from calsync.errors import CredentialsInvalid, UserError

__all__ = [
    "CIPHERTEXT_PREFIX",
    "DEFAULT_KEY_CREDENTIAL",
    "TokenVault",
    "generate_key",
    "is_ciphertext",
    "keys_from_text",
    "load_keys",
    "rotate",
]

CIPHERTEXT_PREFIX = "fernet:"
DEFAULT_KEY_CREDENTIAL = "calsync-vault-key"


def generate_key() -> str:
    """A fresh Fernet key (text), for ``calsync keys rotate`` and first setup."""
    return Fernet.generate_key().decode("ascii")


def is_ciphertext(value: str) -> bool:
    return value.startswith(CIPHERTEXT_PREFIX)


def keys_from_text(text: str) -> list[bytes]:
    """Keys from a key file's text: one per line, blank lines and ``#`` comments ignored."""
    keys = [
        line.strip().encode("ascii")
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    for key in keys:
        try:
            Fernet(key)
        except ValueError as exc:
            raise UserError(
                "the vault key file holds an invalid Fernet key",
                hint="Each line must be a 32-byte urlsafe-base64 Fernet key.",
            ) from exc
    return keys


def load_keys(key_text: str | None = None) -> list[bytes]:
    """Keys from ``key_text`` (a loaded ``*_file`` secret) or ``$CREDENTIALS_DIRECTORY``."""
    if key_text is None:
        candidate = find_credential(DEFAULT_KEY_CREDENTIAL)
        if candidate is None:
            raise UserError(
                "no vault key configured",
                hint=f"Set vault_key_file, or provide the `{DEFAULT_KEY_CREDENTIAL}` credential.",
            )
        key_text = candidate.read_text(encoding="ascii")
    keys = keys_from_text(key_text)
    if not keys:
        raise UserError("the vault key file holds no key")
    return keys


class TokenVault:
    """Encrypts with the first key; decrypts with any of them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a vault needs at least one key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        token = self._fernet.encrypt(plaintext.encode("utf-8"))
        return CIPHERTEXT_PREFIX + token.decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        if not is_ciphertext(ciphertext):
            raise CredentialsInvalid("stored token is not a vault ciphertext")
        try:
            plain = self._fernet.decrypt(ciphertext[len(CIPHERTEXT_PREFIX) :].encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            # Wrong key or tampered data: the account must be reconnected or the key fixed.
            raise CredentialsInvalid(
                "stored token cannot be decrypted with the configured vault keys"
            ) from exc
        return plain.decode("utf-8")


def rotate(
    store_of_ciphertexts: MutableMapping[str, str],
    new_key: bytes | str,
    old_keys: Iterable[bytes | str],
) -> int:
    """Re-encrypt every ciphertext in place under ``new_key``; returns how many changed.

    Values are decrypted with any of ``new_key`` and ``old_keys``, so a rotation
    interrupted halfway can simply be run again. A value no key opens raises
    `CredentialsInvalid` before anything is written.
    """
    keys = [k.encode("ascii") if isinstance(k, str) else k for k in (new_key, *old_keys)]
    fernet = MultiFernet([Fernet(k) for k in keys])
    rotated: dict[str, str] = {}
    for name, value in store_of_ciphertexts.items():
        if not is_ciphertext(value):
            raise CredentialsInvalid(f"{name!r} is not a vault ciphertext")
        try:
            token = fernet.rotate(value[len(CIPHERTEXT_PREFIX) :].encode("ascii"))
        except InvalidToken as exc:
            raise CredentialsInvalid(f"{name!r} cannot be decrypted with the given keys") from exc
        rotated[name] = CIPHERTEXT_PREFIX + token.decode("ascii")
    store_of_ciphertexts.update(rotated)
    return len(rotated)
