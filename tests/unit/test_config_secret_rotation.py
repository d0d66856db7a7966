"""``[api] previous_client_secret_files``: a list of secret files, and the signing secrets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from calsync.config import Secret, load_settings
from calsync.config.render import render_effective
from calsync.config.schema import Key, KeyType
from calsync.errors import ConfigError
from calsync.notify.signing import CRONOFY_HEADER, Signer, signing_secrets

API_WITH_ROTATION = """[api]
client_id = "app"
client_secret_file = "current"
previous_client_secret_files = ["old-1", "old-2"]
"""


def _config(tmp_path: Path, text: str, **files: str) -> Path:
    for name, value in files.items():
        (tmp_path / name.replace("_", "-")).write_text(value + "\n")
    path = tmp_path / "calsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_previous_secrets_load_like_other_secret_files_and_sign_after_the_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "old-2").write_text("second-old-from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    path = _config(tmp_path, API_WITH_ROTATION, current="now", old_1="first-old", old_2="ignored")
    settings = load_settings(path)
    previous = settings.api.previous_client_secret_files
    assert [s.reveal() for s in previous] == ["first-old", "second-old-from-systemd"]
    assert previous[1].source == credentials / "old-2"
    assert signing_secrets(settings) == ("now", "first-old", "second-old-from-systemd")
    effective = render_effective(settings)
    assert "first-old" not in effective and "second-old" not in effective
    assert str(tmp_path / "old-1") in effective  # secrets appear only as their file


def test_the_default_is_no_previous_secret(tmp_path: Path) -> None:
    path = _config(
        tmp_path, '[api]\nclient_id = "app"\nclient_secret_file = "current"\n', current="x"
    )
    settings = load_settings(path)
    assert settings.api.previous_client_secret_files == ()
    assert signing_secrets(settings) == ("x",)


def test_a_missing_previous_secret_file_is_a_config_error(tmp_path: Path) -> None:
    path = _config(tmp_path, API_WITH_ROTATION, current="now", old_1="first-old")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == "api.previous_client_secret_files"
    assert "old-2" in info.value.problem


def test_previous_secrets_need_a_current_one_and_duplicates_sign_once(tmp_path: Path) -> None:
    path = _config(tmp_path, API_WITH_ROTATION, current="now", old_1="now", old_2="old")
    settings = load_settings(path)
    assert signing_secrets(settings) == ("now", "old")
    header = Signer(signing_secrets(settings)).headers("msg_1", 1, b"{}")[CRONOFY_HEADER]
    assert len(header.split(",")) == 2
    without_current = replace(settings, api=replace(settings.api, client_secret_file=None))
    assert signing_secrets(without_current) == ()
    assert Secret("old") in settings.api.previous_client_secret_files


def test_only_list_keys_named_files_may_be_secret() -> None:
    Key("x_files", KeyType.STR_LIST, [], secret=True)
    with pytest.raises(ValueError, match="_files"):
        Key("x_names", KeyType.STR_LIST, [], secret=True)
