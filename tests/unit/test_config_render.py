"""render_effective and render_example: generated from the schema, never leaking a secret."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from calsync.config import (
    Key,
    KeyType,
    Section,
    load_settings,
    render_effective,
    render_example,
    render_reference,
)
from calsync.config.render import toml_value
from calsync.config.sections import ACCOUNT, CORE_SECTIONS

CALDAV = Section(
    "caldav",
    [
        Key("url", KeyType.URL, help="Server URL", required=True),
        Key("password_file", KeyType.PATH, help="Password", secret=True),
        Key("calendars", KeyType.STR_LIST, ["*"], "Which calendars"),
        Key("timeout", KeyType.DURATION, "30s", "HTTP timeout"),
    ],
)
PROVIDERS = {"memory": Section("memory"), "caldav": CALDAV}
SECRET_VALUES = ("api-secret-value-1234", "dav-password-value-5678")


@pytest.fixture
def config_with_secrets(tmp_path: Path) -> Path:
    (tmp_path / "api-secret").write_text(SECRET_VALUES[0] + "\n")
    (tmp_path / "dav-pw").write_text(SECRET_VALUES[1])
    path = tmp_path / "calsync.toml"
    path.write_text(
        """
[api]
client_id = "app"
client_secret_file = "api-secret"
listen = "127.0.0.1:0"

[sync]
interval = "90s"

[[accounts]]
name = "dav"
provider = "caldav"
url = "https://dav.example.org/cal/"
password_file = "dav-pw"
calendars = ["Work", "Home \\"quoted\\""]
""",
        encoding="utf-8",
    )
    return path


def test_effective_config_redacts_secrets_but_shows_their_files(
    config_with_secrets: Path,
) -> None:
    text = render_effective(load_settings(config_with_secrets, PROVIDERS))
    for secret in SECRET_VALUES:
        assert secret not in text
    data = tomllib.loads(text)
    assert data["api"]["client_secret_file"] == str(config_with_secrets.parent / "api-secret")
    assert data["accounts"][0]["password_file"] == str(config_with_secrets.parent / "dav-pw")


def test_effective_config_fills_every_default(config_with_secrets: Path) -> None:
    data = tomllib.loads(render_effective(load_settings(config_with_secrets, PROVIDERS)))
    assert data["sync"]["interval"] == "1m30s"
    assert data["sync"]["window_future_days"] == 201
    assert data["notify"]["verification_timeout"] == "5s"
    assert data["api"]["base_url"] == "http://127.0.0.1:0"
    assert data["accounts"][0]["timeout"] == "30s"
    assert data["accounts"][0]["conflict"] == "remote"
    assert data["accounts"][0]["calendars"] == ["Work", 'Home "quoted"']


def test_effective_config_loads_back_to_the_same_settings(
    config_with_secrets: Path, tmp_path: Path
) -> None:
    settings = load_settings(config_with_secrets, PROVIDERS)
    again = tmp_path / "effective.toml"
    again.write_text(render_effective(settings), encoding="utf-8")
    reloaded = load_settings(again, PROVIDERS)
    assert reloaded.store == settings.store
    assert reloaded.api == settings.api
    assert reloaded.sync == settings.sync
    assert reloaded.notify == settings.notify
    assert reloaded.logging == settings.logging
    assert [(a.name, dict(a.options)) for a in reloaded.accounts] == [
        (a.name, dict(a.options)) for a in settings.accounts
    ]


def test_example_documents_every_key_and_loads(tmp_path: Path) -> None:
    text = render_example(PROVIDERS, active_provider="memory")
    for section in CORE_SECTIONS:
        assert f"[{section.name}]" in text
        for key in section.keys:
            assert f"\n{key.name} = " in text or f"\n# {key.name} = " in text, key.name
            assert key.help.split()[0] in text
    for key in ACCOUNT.keys + CALDAV.keys:
        assert f"{key.name} = " in text, key.name
    path = tmp_path / "example.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path, PROVIDERS)
    # Only the active provider's account is live; the caldav block is a commented template.
    assert [(a.name, a.provider) for a in settings.accounts] == [("demo", "memory")]


def test_example_with_caldav_block_uncommented_is_valid_but_for_placeholders(
    tmp_path: Path,
) -> None:
    text = render_example({"caldav": CALDAV}, active_provider="caldav")
    path = tmp_path / "example.toml"
    path.write_text(text, encoding="utf-8")
    account = load_settings(path, {"caldav": CALDAV}).accounts[0]
    assert account.options["url"] == "https://calendar.example.org/"
    assert account.options["password_file"] is None


@pytest.mark.parametrize(
    "value", ["plain", 'quote " and \\ backslash', "tab\tnew\nline", "del\x7f", "ünïcode ✓"]
)
def test_toml_strings_round_trip(value: str) -> None:
    assert tomllib.loads(f"k = {toml_value(value)}")["k"] == value


def test_toml_value_scalars() -> None:
    assert tomllib.loads(f"a = {toml_value([1, 2.5, True, 'x'])}")["a"] == [1, 2.5, True, "x"]


def test_reference_lists_every_key() -> None:
    text = render_reference(PROVIDERS)
    for section in (*CORE_SECTIONS, ACCOUNT, CALDAV):
        for key in section.keys:
            assert f"| `{key.name}` |" in text, key.name
    assert '### `provider = "memory"`\n\nNo extra keys.' in text
    assert "| `url` | url | required | Server URL |" in text
