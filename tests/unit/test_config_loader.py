"""load_settings: a valid file, and every kind of error naming the file, the key and the line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from calsync.config import (
    Key,
    KeyType,
    ListenAddress,
    Secret,
    Section,
    load_settings,
    settings_from_tables,
)
from calsync.errors import ConfigError

CALDAV = Section(
    "caldav",
    [
        Key("url", KeyType.URL, help="Server URL", required=True),
        Key("username", KeyType.STR, help="Login"),
        Key("password_file", KeyType.PATH, help="Password", secret=True),
        Key("calendars", KeyType.STR_LIST, ["*"], "Which calendars"),
    ],
)
PROVIDERS = {"memory": Section("memory"), "caldav": CALDAV}

WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "calsync.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path, PROVIDERS)
    return info.value


def test_valid_file_loads_typed_values_and_defaults(write_config: WriteConfig) -> None:
    path = write_config(
        """
[store]
url = "sqlite:///data/state.db"

[api]
listen = "[::1]:9000"

[sync]
interval = "1h30m"

[logging]
level = "DEBUG"
format = "json"

[[accounts]]
name = "home"
provider = "memory"

[[accounts]]
name = "work"
provider = "caldav"
url = "https://dav.example.org/"
interval = "1m30s"
conflict = "local"
enabled = false
"""
    )
    settings = load_settings(path, PROVIDERS)
    assert settings.path == path
    assert settings.store.url == f"sqlite:///{path.parent}/data/state.db"
    assert settings.api.listen == ListenAddress("::1", 9000)
    assert settings.api.base_url == "http://[::1]:9000"
    assert settings.api.client_credentials_enabled is False
    assert settings.api.page_size == 100
    assert settings.sync.interval == timedelta(hours=1, minutes=30)
    assert settings.sync.rediscover_interval == timedelta(hours=1)
    assert settings.notify.debounce == timedelta(seconds=1)
    assert settings.logging.level == "debug"
    assert settings.logging.format == "json"
    home, work = settings.accounts
    assert (home.name, home.provider, home.interval, home.conflict) == (
        "home",
        "memory",
        None,
        "remote",
    )
    assert dict(home.options) == {}
    assert work.interval == timedelta(seconds=90)
    assert (work.conflict, work.enabled) == ("local", False)
    assert dict(work.options) == {
        "url": "https://dav.example.org/",
        "username": None,
        "password_file": None,
        "calendars": ("*",),
    }
    assert settings.account("work") is work


def test_empty_file_is_all_defaults(write_config: WriteConfig) -> None:
    settings = load_settings(write_config(""))
    assert settings.api.listen == ListenAddress("127.0.0.1", 8080)
    assert settings.api.base_url == "http://127.0.0.1:8080"
    assert settings.sync.interval == timedelta(minutes=5)
    assert settings.store.url.endswith("/var/calsync.db")
    assert settings.accounts == ()
    # The defaults the issues and api.md promise.
    assert (settings.api.rate_limit_per_second, settings.api.rate_limit_per_minute) == (50, 500)
    assert settings.api.page_size == 100
    assert settings.api.access_token_ttl == timedelta(hours=1)  # expires_in 3600
    assert not settings.api.client_credentials_enabled
    assert (settings.sync.window_past_days, settings.sync.window_future_days) == (42, 201)
    assert settings.sync.max_delete_fraction == 0.5
    assert settings.notify.allow_private_callbacks is False
    assert settings.notify.debounce == timedelta(seconds=1)
    assert settings.notify.verification_timeout == timedelta(seconds=5)
    assert (settings.logging.level, settings.logging.format) == ("info", "text")


@pytest.mark.parametrize(
    ("text", "key", "line", "problem"),
    [
        ('[api]\nlisten = "127.0.0.1:1"\nlisen = "x"\n', "api.lisen", 3, "did you mean `listen`"),
        ('colour = "red"\n', "colour", 1, "unknown top-level key"),
        ("[server]\nport = 1\n", "server", 1, "unknown section"),
        (
            '[[accounts]]\nname = "a"\nprovider = "memory"\nurl = "https://x/"\n',
            "accounts[0].url",
            4,
            "unknown key",
        ),
        ('[api]\npage_size = "ten"\n', "api.page_size", 2, "expected an integer"),
        ("[api]\npage_size = true\n", "api.page_size", 2, "expected an integer"),
        ("[api]\npage_size = 0\n", "api.page_size", 2, "below the minimum"),
        ("[notify]\nallow_private_callbacks = 1\n", "notify.allow_private_callbacks", 2, "true"),
        ('[sync]\ninterval = "5 minutes"\n', "sync.interval", 2, "invalid duration"),
        ("[sync]\ninterval = 300\n", "sync.interval", 2, "duration string"),
        ('[sync]\ninterval = "30m1h"\n', "sync.interval", 2, "largest to smallest"),
        ('[sync]\ninterval = "250ms"\n', "sync.interval", 2, "below the minimum of 1s"),
        ('[api]\nlisten = "localhost"\n', "api.listen", 2, "host:port"),
        ('[api]\nbase_url = "ftp://x"\n', "api.base_url", 2, "http"),
        ('[logging]\nformat = "xml"\n', "logging.format", 2, "not one of text, json"),
        ('[logging]\nlevel = "loud"\n', "logging.level", 2, "not one of"),
        ('[api]\nclient_secret = "hunter22"\n', "api.client_secret", 2, "client_secret_file"),
        ('[store]\nurl = "postgresql://u:pw@db/x"\n', "store.url", 2, "password_file"),
        (
            '[[accounts]]\nname = "a"\nprovider = "caldav"\nurl = "https://x/"\npassword = "pw"\n',
            "accounts[0].password",
            5,
            "password_file",
        ),
        (
            '[[accounts]]\nname = "a"\nprovider = "memory"\n\n'
            '[[accounts]]\nname = "b"\nprovider = "exchange"\n',
            "accounts[1].provider",
            7,
            "unknown provider 'exchange' (known: caldav, memory)",
        ),
        (
            '[[accounts]]\nname = "a"\nprovider = "memory"\n\n'
            '[[accounts]]\nname = "a"\nprovider = "memory"\n',
            "accounts[1].name",
            6,
            "duplicate account name 'a'",
        ),
        ('[[accounts]]\nname = "a"\n', "accounts[0].provider", 1, "required key is missing"),
        (
            '[[accounts]]\nname = "a"\nprovider = "caldav"\n',
            "accounts[0].url",
            1,
            "required key is missing",
        ),
        ('[api]\nclient_id = "app"\n', "api.client_id", 2, "set `client_secret_file` too"),
        ('[accounts]\nname = "a"\n', "accounts", None, "[[accounts]]"),
        ('api = "x"\n', "api", 1, "expected a [api] table"),
    ],
)
def test_errors_name_file_key_and_line(
    write_config: WriteConfig, text: str, key: str, line: int | None, problem: str
) -> None:
    path = write_config(text)
    error = load_error(path)
    assert error.path == str(path)
    assert error.key == key
    assert error.line == line
    assert problem in error.problem
    # The rendered message the CLI prints carries all three.
    expected_where = f"{path}:{line}" if line is not None else str(path)
    assert str(error).startswith(f"{expected_where}: {key}: ")


def test_inline_secret_value_is_not_echoed(write_config: WriteConfig) -> None:
    error = load_error(write_config('[api]\nclient_secret = "hunter22-very-secret"\n'))
    assert "hunter22-very-secret" not in str(error)


def test_toml_syntax_error_has_line_number(write_config: WriteConfig) -> None:
    path = write_config('[api]\nlisten = "127.0.0.1:8080"\npage_size = \n')
    error = load_error(path)
    assert (error.key, error.line) == ("syntax", 3)
    assert "(at line" not in error.problem
    assert "column" in error.problem
    assert str(error).startswith(f"{path}:3: syntax: ")


def test_missing_config_file(tmp_path: Path) -> None:
    error = load_error(tmp_path / "nope.toml")
    assert error.key == "file"
    assert str(tmp_path / "nope.toml") in str(error)


def test_secret_file_read_relative_to_config(write_config: WriteConfig) -> None:
    path = write_config('[api]\nclient_id = "app"\nclient_secret_file = "secrets/api"\n')
    (path.parent / "secrets").mkdir()
    (path.parent / "secrets" / "api").write_text("s3cr3t-value\n")
    settings = load_settings(path)
    secret = settings.api.client_secret_file
    assert isinstance(secret, Secret)
    assert secret.reveal() == "s3cr3t-value"
    assert secret.source == path.parent / "secrets" / "api"
    assert "s3cr3t" not in repr(settings)
    assert repr(secret) == "Secret('***')"
    assert settings.api.client_credentials_enabled


def test_missing_secret_file_names_key_and_file(write_config: WriteConfig) -> None:
    path = write_config('[api]\nclient_id = "app"\nclient_secret_file = "absent-secret"\n')
    error = load_error(path)
    assert (error.key, error.line) == ("api.client_secret_file", 3)
    assert str(path.parent / "absent-secret") in error.problem


def test_empty_secret_file_is_refused(write_config: WriteConfig) -> None:
    path = write_config('[store]\npassword_file = "pw"\n')
    (path.parent / "pw").write_text("\n")
    assert "is empty" in load_error(path).problem


def test_credentials_directory_is_searched_first(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "caldav-pw").write_text("from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    path = write_config(
        '[[accounts]]\nname = "a"\nprovider = "caldav"\nurl = "https://x/"\n'
        'password_file = "caldav-pw"\n'
    )
    (path.parent / "caldav-pw").write_text("beside-the-config")
    secret = load_settings(path, PROVIDERS).accounts[0].options["password_file"]
    assert secret.reveal() == "from-systemd"
    assert secret.source == credentials / "caldav-pw"
    # Without the credential, the lookup falls back to the config's directory.
    (credentials / "caldav-pw").unlink()
    fallback = load_settings(path, PROVIDERS).accounts[0].options["password_file"]
    assert fallback.reveal() == "beside-the-config"


def test_credential_from_the_unit_directory_is_found_by_its_file_name(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemd/calsync.service loads /etc/calsync/credentials as a directory, so
    # the file "caldav-pw" arrives as the credential "calsync_caldav-pw".
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "calsync_caldav-pw").write_text("from-the-directory")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    path = write_config(
        '[[accounts]]\nname = "a"\nprovider = "caldav"\nurl = "https://x/"\n'
        'password_file = "caldav-pw"\n'
    )
    secret = load_settings(path, PROVIDERS).accounts[0].options["password_file"]
    assert secret.reveal() == "from-the-directory"


def test_missing_credential_lists_every_place_looked(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    error = load_error(write_config('[store]\npassword_file = "db"\n'))
    assert str(tmp_path / "creds" / "db") in error.problem
    assert str(tmp_path / "db") in error.problem


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        (
            "postgresql://calsync@127.0.0.1/calsync",
            "postgresql+psycopg://calsync@127.0.0.1/calsync",
        ),
        ("postgresql+psycopg://u@h:5/d", "postgresql+psycopg://u@h:5/d"),
    ],
)
def test_store_urls(write_config: WriteConfig, url: str, expected: str) -> None:
    assert load_settings(write_config(f'[store]\nurl = "{url}"\n')).store.url == expected


def test_unsupported_store_url(write_config: WriteConfig) -> None:
    error = load_error(write_config('[store]\nurl = "mysql://h/d"\n'))
    assert (error.key, error.line) == ("store.url", 2)


def test_wildcard_listen_gives_loopback_base_url(write_config: WriteConfig) -> None:
    settings = load_settings(write_config('[api]\nlisten = "0.0.0.0:8443"\n'))
    assert settings.api.listen == ListenAddress("0.0.0.0", 8443)
    assert settings.api.base_url == "http://127.0.0.1:8443"


def test_explicit_base_url_loses_trailing_slash(write_config: WriteConfig) -> None:
    settings = load_settings(write_config('[api]\nbase_url = "https://cal.example.org/"\n'))
    assert settings.api.base_url == "https://cal.example.org"


def test_tables_get_the_files_defaults_and_errors() -> None:
    """`settings_from_tables`: what embedding code and tests use instead of a file."""
    where = Path("/etc/app/embedded.toml")
    settings = settings_from_tables({"store": {"url": "sqlite:///state.db"}}, where)
    assert settings.store.url == "sqlite:////etc/app/state.db"  # relative to `where`
    assert settings.api.page_size == 100 and settings.store.history_retention == timedelta(days=30)
    with pytest.raises(ConfigError) as info:
        settings_from_tables({"api": {"page_size": 0}}, where)
    assert (info.value.path, info.value.key, info.value.line) == (str(where), "api.page_size", None)
