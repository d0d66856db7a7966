"""Fernet refresh-token vault: round trips, wrong keys, rotation, key loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import CredentialsInvalid, UserError
from calsync.providers.secrets_vault import (
    TokenVault,
    generate_key,
    is_ciphertext,
    load_keys,
    rotate,
)

KEY_A, KEY_B = generate_key().encode(), generate_key().encode()


@given(st.text(max_size=300))
def test_encrypt_decrypt_round_trip(secret: str) -> None:
    vault = TokenVault([KEY_A])
    ciphertext = vault.encrypt(secret)
    assert is_ciphertext(ciphertext)
    assert ciphertext != secret
    assert vault.decrypt(ciphertext) == secret


def test_ciphertext_does_not_contain_the_token() -> None:
    token = "1//0gHdP9vQx-refresh-token-value"
    assert token not in TokenVault([KEY_A]).encrypt(token)


def test_wrong_key_and_tampering_are_credentials_invalid() -> None:
    ciphertext = TokenVault([KEY_A]).encrypt("1//refresh")
    with pytest.raises(CredentialsInvalid):
        TokenVault([KEY_B]).decrypt(ciphertext)
    tampered = ciphertext[:-4] + ("AAAA" if not ciphertext.endswith("AAAA") else "BBBB")
    with pytest.raises(CredentialsInvalid):
        TokenVault([KEY_A]).decrypt(tampered)
    with pytest.raises(CredentialsInvalid):
        TokenVault([KEY_A]).decrypt("1//plain-token")


def test_old_keys_still_decrypt_but_the_first_key_encrypts() -> None:
    old = TokenVault([KEY_A]).encrypt("token")
    both = TokenVault([KEY_B, KEY_A])
    assert both.decrypt(old) == "token"
    assert TokenVault([KEY_B]).decrypt(both.encrypt("new")) == "new"


def test_rotate_re_encrypts_everything_under_the_new_key() -> None:
    store = {"work": TokenVault([KEY_A]).encrypt("t1"), "home": TokenVault([KEY_A]).encrypt("t2")}
    before = dict(store)
    assert rotate(store, KEY_B, [KEY_A]) == 2
    assert store != before
    only_new = TokenVault([KEY_B])
    assert {k: only_new.decrypt(v) for k, v in store.items()} == {"work": "t1", "home": "t2"}
    assert rotate(store, KEY_B, [KEY_A]) == 2, "running it again is harmless"
    assert only_new.decrypt(store["work"]) == "t1"


def test_rotate_writes_nothing_when_a_value_cannot_be_opened() -> None:
    stranger = TokenVault([generate_key().encode()]).encrypt("x")
    store = {"ok": TokenVault([KEY_A]).encrypt("t"), "bad": stranger}
    before = dict(store)
    with pytest.raises(CredentialsInvalid):
        rotate(store, KEY_B, [KEY_A])
    assert store == before


def test_load_keys_from_text_and_credentials_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = f"# current\n{KEY_B.decode()}\n\n{KEY_A.decode()}\n"
    assert load_keys(text) == [KEY_B, KEY_A]
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(UserError):
        load_keys()
    (tmp_path / "calsync-vault-key").write_text(KEY_A.decode() + "\n")
    assert load_keys() == [KEY_A]
    with pytest.raises(UserError):
        load_keys("not-a-key")
