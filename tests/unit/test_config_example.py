"""config.example.toml at the repository root: valid, complete, and free of secrets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from calsync.config import ListenAddress, Section, load_settings, render_example
from calsync.config.sections import ACCOUNT, CORE_SECTIONS, PROVIDER_APP_SECTIONS
from calsync.providers import registry

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def provider_sections() -> dict[str, Section]:
    sections = registry.config_sections()
    assert all(isinstance(s, Section) for s in sections.values())
    return {name: s for name, s in sections.items() if isinstance(s, Section)}


PROVIDERS = provider_sections()


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


def test_example_is_generated_from_the_schemas() -> None:
    """A key added to a provider shows up in the example (`make config-example`)."""
    expected = render_example(PROVIDERS, active_provider="memory")
    assert EXAMPLE.read_text(encoding="utf-8") == expected, (
        "config.example.toml is out of date: run `make config-example`"
    )


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_example_has_a_template_for_every_provider(provider: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    prefix = "" if provider == "memory" else "# "
    assert f"\n{prefix}provider = {provider!r}".replace("'", '"') in text
    for key in PROVIDERS[provider].keys:
        assert re.search(rf"^(# )*{key.name} = ", text, re.MULTILINE), (provider, key.name)


def test_each_template_loads_once_uncommented(tmp_path: Path) -> None:
    """Every commented block is a valid account once its lines are uncommented (its
    optional keys too, with a file for each relative ``*_file`` name)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for provider in sorted(set(PROVIDERS) - {"memory"}):
        block = text.split(f"# --- provider {provider!r} ---\n", 1)[1].split("\n\n", 1)[0]
        body = []
        for commented in block.splitlines():
            line = commented.removeprefix("# ")
            if re.match(r"^(# )?\w+ = ", line):
                line = line.removeprefix("# ")  # an optional key, commented out once more
            elif line.startswith("#"):
                continue  # help text
            file_key = re.match(r'^\w+_file = "([^"]+)"', line)
            if file_key and file_key.group(1).startswith("/"):
                continue  # an example absolute path (a CA bundle): not on this machine
            if file_key:
                (tmp_path / file_key.group(1)).write_text("s3cret\n")
            body.append(line)
        config = tmp_path / f"{provider}.toml"
        config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/x.db"\n\n' + "\n".join(body))
        settings = load_settings(config, PROVIDERS)
        assert [(a.name, a.provider) for a in settings.accounts] == [(f"my-{provider}", provider)]
