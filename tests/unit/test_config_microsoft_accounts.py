"""A ``provider = "microsoft"`` account takes its app keys from ``[providers.microsoft]``
unless it sets them itself (issue #13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from calsync.config import load_settings
from calsync.config.schema import Section
from calsync.errors import ConfigError
from calsync.providers import registry


def load(tmp_path: Path, text: str) -> object:
    (tmp_path / "ms-secret").write_text("app-secret\n", encoding="utf-8")
    (tmp_path / "other-secret").write_text("other\n", encoding="utf-8")
    (tmp_path / "vault").write_text("key\n", encoding="utf-8")
    path = tmp_path / "calsync.toml"
    path.write_text(text, encoding="utf-8")
    sections = {n: s for n, s in registry.config_sections().items() if isinstance(s, Section)}
    return load_settings(path, sections)


APP = """
[store]
vault_key_file = "vault"
[providers.microsoft]
client_id = "app-client"
client_secret_file = "ms-secret"
authority = "https://login.example.org/tenant/"
graph_endpoint = "https://graph.example.org/v1.0/"
"""


def test_an_account_inherits_the_app_keys_and_the_vault_key(tmp_path: Path) -> None:
    settings = load(tmp_path, APP + '[[accounts]]\nname = "work"\nprovider = "microsoft"\n')
    [account] = settings.accounts  # type: ignore[attr-defined]
    options = account.options
    assert options["client_id"] == "app-client"
    assert options["client_secret_file"].reveal() == "app-secret"
    assert options["authority"].rstrip("/") == "https://login.example.org/tenant"
    assert options["graph_endpoint"].rstrip("/") == "https://graph.example.org/v1.0"
    assert options["vault_key_file"].reveal() == "key"


def test_the_account_s_own_keys_win(tmp_path: Path) -> None:
    text = APP + (
        '[[accounts]]\nname = "work"\nprovider = "microsoft"\nclient_id = "own"\n'
        'client_secret_file = "other-secret"\n'
    )
    [account] = load(tmp_path, text).accounts  # type: ignore[attr-defined]
    assert account.options["client_id"] == "own"
    assert account.options["client_secret_file"].reveal() == "other"
    assert account.options["authority"].rstrip("/") == "https://login.example.org/tenant"


def test_without_an_app_the_account_needs_a_client_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.client_id: required key is missing"):
        load(tmp_path, '[[accounts]]\nname = "work"\nprovider = "microsoft"\n')
