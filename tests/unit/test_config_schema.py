"""The schema primitives refuse descriptions that could not be validated or documented."""

from __future__ import annotations

import pytest

from calsync.config import Key, KeyType, Section


def test_secret_keys_must_be_file_paths() -> None:
    with pytest.raises(ValueError, match="_file"):
        Key("client_secret", KeyType.STR, secret=True)
    assert Key("client_secret_file", KeyType.PATH, secret=True).secret


def test_enum_needs_choices_and_required_has_no_default() -> None:
    with pytest.raises(ValueError, match="choices"):
        Key("mode", KeyType.ENUM, "a")
    with pytest.raises(ValueError, match="default"):
        Key("name", KeyType.STR, "x", required=True)


def test_section_refuses_duplicate_keys_and_finds_keys() -> None:
    with pytest.raises(ValueError, match="url twice"):
        Section("x", [Key("url", KeyType.URL), Key("url", KeyType.STR)])
    section = Section("x", [Key("a", KeyType.INT, 1), Key("b", KeyType.BOOL, True)])
    assert section.key_names == ("a", "b")
    assert section.get("b") is section.keys[1]
    assert section.get("c") is None
    assert Key("mode", KeyType.ENUM, "a", choices=("a", "b")).type_label == '"a" | "b"'
