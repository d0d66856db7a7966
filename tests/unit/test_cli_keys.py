"""``calsync keys rotate`` on real files: all-or-nothing, idempotent, plain tokens left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from calsync.cli.main import cli
from calsync.providers import secrets_vault


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def account(name: str, token_file: str, key_file: str | None) -> str:
    lines = [
        "[[accounts]]",
        f'name = "{name}"',
        'provider = "google"',
        'client_id = "client"',
        f'refresh_token_file = "{token_file}"',
    ]
    if key_file is not None:
        lines.append(f'vault_key_file = "{key_file}"')
    return "\n".join(lines) + "\n"


# Not `setup`: pytest 8.0 calls a module-level `setup` as a nose-style module fixture.
def write_config(tmp_path: Path, *accounts: str) -> Path:
    config = tmp_path / "calsync.toml"
    config.write_text('[logging]\nlevel = "error"\n' + "".join(accounts), encoding="utf-8")
    return config


def encrypt(key: str, value: str) -> str:
    return secrets_vault.TokenVault(secrets_vault.load_keys(key)).encrypt(value)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def test_nothing_is_written_when_a_token_cannot_be_decrypted(tmp_path: Path) -> None:
    key_a, key_b = secrets_vault.generate_key(), secrets_vault.generate_key()
    (tmp_path / "key-a").write_text(key_a + "\n")
    (tmp_path / "key-b").write_text(key_b + "\n")
    good = encrypt(key_a, "token-a")
    orphan = encrypt(secrets_vault.generate_key(), "token-b")  # a key nobody has any more
    (tmp_path / "tok-a").write_text(good + "\n")
    (tmp_path / "tok-b").write_text(orphan + "\n")
    config = write_config(tmp_path, account("a", "tok-a", "key-a"), account("b", "tok-b", "key-b"))
    result = invoke(config, "keys", "rotate", "--new-key-file", str(tmp_path / "new-key"))
    assert result.exit_code == 1
    assert "cannot be decrypted" in result.output
    assert not (tmp_path / "new-key").exists()
    assert (tmp_path / "tok-a").read_text().strip() == good  # untouched


def test_rotation_uses_an_existing_new_key_is_idempotent_and_skips_plain_tokens(
    tmp_path: Path,
) -> None:
    old, new = secrets_vault.generate_key(), secrets_vault.generate_key()
    (tmp_path / "old-key").write_text(old + "\n")
    (tmp_path / "new-key").write_text(new + "\n")
    (tmp_path / "tok").write_text(encrypt(old, "the-token") + "\n")
    (tmp_path / "plain").write_text("1//plain-token\n")
    config = write_config(
        tmp_path, account("vaulted", "tok", "old-key"), account("plain", "plain", None)
    )
    for _ in range(2):  # a second run (e.g. after a crash) finds everything done
        result = invoke(config, "keys", "rotate", "--new-key-file", str(tmp_path / "new-key"))
        assert result.exit_code == 0, result.output
        assert f"re-encrypted {tmp_path / 'tok'}" in result.output
        assert f"skipped {tmp_path / 'plain'}: a plain (unencrypted) token" in result.output
        assert "generated a new key" not in result.output
    keys = secrets_vault.load_keys((tmp_path / "new-key").read_text())
    assert [k.decode() for k in keys] == [new, old]
    stored = (tmp_path / "tok").read_text().strip()
    assert secrets_vault.TokenVault([new.encode()]).decrypt(stored) == "the-token"
    assert (tmp_path / "plain").read_text() == "1//plain-token\n"
