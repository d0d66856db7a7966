"""config.example.toml at the repository root: valid, complete, and free of secrets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from calsync.config import ListenAddress, Section, load_settings
from calsync.config.sections import ACCOUNT, CORE_SECTIONS, PROVIDER_APP_SECTIONS

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
PROVIDERS = {"memory": Section("memory")}


def test_example_loads_with_the_memory_provider() -> None:
    settings = load_settings(EXAMPLE, PROVIDERS)
    assert settings.store.url == f"sqlite:///{EXAMPLE.parent}/var/calsync.db"
    assert settings.api.listen == ListenAddress("127.0.0.1", 8080)
    assert settings.api.base_url == "http://127.0.0.1:8080"
    assert not settings.api.client_credentials_enabled
    assert [(a.name, a.provider, a.enabled) for a in settings.accounts] == [
        ("demo", "memory", True)
    ]


def test_example_documents_every_schema_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for section in (*CORE_SECTIONS, ACCOUNT):
        header = f"[[{section.name}]]" if section.repeated else f"[{section.name}]"
        assert header in text
        for key in section.keys:
            assert re.search(rf"^(# )?{key.name} = ", text, re.MULTILINE), key.name


def test_example_documents_the_provider_tables_commented_out() -> None:
    """A present [providers.*] table offers that provider, so the example only shows them."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for section in PROVIDER_APP_SECTIONS:
        assert f"\n# [{section.name}]\n" in text
        for key in section.keys:
            assert re.search(rf"^# (# )?{key.name} = ", text, re.MULTILINE), key.name
    assert load_settings(EXAMPLE, PROVIDERS).providers.configured == ()


def test_example_holds_no_inline_secret() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))

    def keys(table: object) -> list[str]:
        if isinstance(table, dict):
            return [k for name, value in table.items() for k in [name, *keys(value)]]
        if isinstance(table, list):
            return [k for item in table for k in keys(item)]
        return []

    # Key names that hold a secret value itself (a *_file key holds only a path).
    secretish = re.compile(r"(secret|password|passwd|token|api_key|private_key)$", re.IGNORECASE)
    assert [k for k in keys(data) if secretish.search(k)] == []
