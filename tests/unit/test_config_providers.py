"""``[providers.google]``, ``[providers.microsoft]``, ``[api] redirect_uris`` and
``[store] vault_key_file`` (issue #12): typed, defaulted, and checked by `config check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from calsync.cli.main import cli
from calsync.config import (
    GoogleAppSettings,
    MicrosoftAppSettings,
    Secret,
    load_settings,
    render_effective,
)
from calsync.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_absent_tables_offer_no_provider(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""))
    assert settings.providers.google is None
    assert settings.providers.microsoft is None
    assert settings.providers.configured == ()
    assert settings.api.redirect_uris == ()
    assert settings.store.vault_key_file is None


def test_google_and_microsoft_tables_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "google-client-secret").write_text("g-secret\n", encoding="utf-8")
    (tmp_path / "ms-secret").write_text("m-secret\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_text("not checked here\n", encoding="utf-8")
    path = write(
        tmp_path,
        """
[api]
redirect_uris = ["https://app.example.org/connected"]

[providers.google]
client_id = "g-client"
client_secret_file = "google-client-secret"

[providers.microsoft]
client_id = "m-client"
client_secret_file = "ms-secret"
authority = "https://login.example.org/tenant/"
ca_file = "ca.pem"
""",
    )
    settings = load_settings(path)
    assert settings.api.redirect_uris == ("https://app.example.org/connected",)
    assert settings.providers.configured == ("google", "microsoft")
    assert settings.providers.google == GoogleAppSettings(
        client_id="g-client",
        client_secret_file=Secret("g-secret"),
        auth_uri="https://accounts.google.com/o/oauth2/v2/auth",
        token_uri="https://oauth2.googleapis.com/token",
        api_endpoint="https://www.googleapis.com/calendar/v3/",
        ca_file=None,
    )
    assert settings.providers.microsoft == MicrosoftAppSettings(
        client_id="m-client",
        client_secret_file=Secret("m-secret"),
        authority="https://login.example.org/tenant",
        graph_endpoint="https://graph.microsoft.com/v1.0",
        ca_file=tmp_path / "ca.pem",
    )
    shown = render_effective(settings)
    assert "[providers.google]" in shown and "[providers.microsoft]" in shown
    assert "g-secret" not in shown and "m-secret" not in shown
    assert f'client_secret_file = "{tmp_path / "google-client-secret"}"' in shown


def test_config_check_names_a_missing_secret_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.google]\nclient_id = "g"\nclient_secret_file = "nowhere-secret"\n',
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2, result.output
    assert f"{path}:3: providers.google.client_secret_file" in result.output
    assert "nowhere-secret" in result.output
    assert "Traceback" not in result.output


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.microsoft]\nclient_id = "m"\nca_file = "no-ca.pem"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == "providers.microsoft.ca_file"
    assert info.value.line == 3
    assert "no-ca.pem" in info.value.problem


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[providers.outlook]\nclient_id = "x"\n', "providers.outlook", "unknown provider table"),
        ("[providers.google]\n", "providers.google.client_id", "required"),
        ('[providers.google]\nclient_id = "x"\nclient_secret = "s"\n', "", "secrets must not"),
        ('[api]\nredirect_uris = ["app://x"]\n', "api.redirect_uris", "absolute http(s)"),
        ('[api]\nredirect_uris = ["https://a/#f"]\n', "api.redirect_uris", "fragment"),
    ],
)
def test_refused_tables(tmp_path: Path, text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert info.value.key.startswith(key)
    assert words in info.value.problem


def test_store_vault_key_file_is_a_secret(tmp_path: Path) -> None:
    (tmp_path / "vault").write_text("key-text\n", encoding="utf-8")
    settings = load_settings(write(tmp_path, '[store]\nvault_key_file = "vault"\n'))
    assert settings.store.vault_key_file == Secret("key-text")
    assert "key-text" not in render_effective(settings)


def test_google_accounts_inherit_ca_file_and_a_missing_one_is_named(tmp_path: Path) -> None:
    """Issue #12: the sync of a google [[accounts]] table trusts [providers.google] ca_file
    unless the table names its own; a file that is not there is a config error."""
    from calsync.daemon.bootstrap import load_settings as load_with_providers

    for name in ("ca.pem", "own.pem", "token"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    account = '[[accounts]]\nname = "{name}"\nprovider = "google"\nclient_id = "g"\n'
    text = (
        '[providers.google]\nclient_id = "g"\nca_file = "ca.pem"\n'
        + account.format(name="inherits")
        + account.format(name="own")
        + 'ca_file = "own.pem"\n'
    )
    settings = load_with_providers(write(tmp_path, text))
    options = {a.name: a.options for a in settings.accounts}
    assert options["inherits"]["ca_file"] == tmp_path / "ca.pem"
    assert options["own"]["ca_file"] == tmp_path / "own.pem"
    # Without [providers.google] ca_file nothing is inherited.
    plain = load_with_providers(write(tmp_path, account.format(name="plain")))
    assert plain.accounts[0].options.get("ca_file") is None

    path = write(tmp_path, account.format(name="lost") + 'ca_file = "no-ca.pem"\n')
    with pytest.raises(ConfigError) as info:
        load_with_providers(path)
    assert info.value.key.endswith("ca_file") and info.value.line == 5
    assert "no-ca.pem" in info.value.problem
