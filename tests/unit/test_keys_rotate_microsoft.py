"""``calsync keys rotate`` re-encrypts a Microsoft account's refresh token too (issue #13)."""

from __future__ import annotations

from pathlib import Path

from calsync.cli.keys import rotate_keys
from calsync.config import load_settings
from calsync.config.schema import Section
from calsync.providers import registry, secrets_vault


def test_a_microsoft_refresh_token_is_rotated(tmp_path: Path) -> None:
    old_key = secrets_vault.generate_key()
    (tmp_path / "old-key").write_text(old_key + "\n", encoding="ascii")
    vault = secrets_vault.TokenVault([old_key.encode()])
    (tmp_path / "ms.token").write_text(vault.encrypt("1.AXoA-refresh") + "\n", encoding="ascii")
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[[accounts]]\nname = "work"\nprovider = "microsoft"\nclient_id = "app"\n'
        'refresh_token_file = "ms.token"\nvault_key_file = "old-key"\n',
        encoding="utf-8",
    )
    sections = {n: s for n, s in registry.config_sections().items() if isinstance(s, Section)}
    rotation = rotate_keys(load_settings(config, sections), tmp_path / "new-key")
    assert rotation.rotated == (tmp_path / "ms.token",)
    new_keys = secrets_vault.load_keys((tmp_path / "new-key").read_text(encoding="ascii"))
    stored = (tmp_path / "ms.token").read_text(encoding="ascii").strip()
    assert secrets_vault.TokenVault(new_keys[:1]).decrypt(stored) == "1.AXoA-refresh"
