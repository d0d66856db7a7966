"""The one mapping from exceptions to what the user reads and the exit code."""

from __future__ import annotations

import pytest

from calsync.cli.errors import EXIT_BUG, EXIT_FAILURE, EXIT_USER, report_for
from calsync.errors import (
    AuthError,
    CalsyncError,
    ConfigError,
    CredentialsInvalid,
    NotFound,
    StoreError,
    UserError,
    ValidationError,
)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("/etc/c.toml", "api.listen", "bad port", line=3), EXIT_USER),
        (UserError("no such account"), EXIT_USER),
        (ValidationError.single("name", "errors.required", "required"), EXIT_USER),
        (NotFound("no calendar"), EXIT_FAILURE),
        (AuthError("bad token"), EXIT_FAILURE),
        (StoreError("cannot connect"), EXIT_FAILURE),
        (CredentialsInvalid("refused"), EXIT_FAILURE),
        (RuntimeError("boom"), EXIT_BUG),
    ],
)
def test_exit_codes_follow_the_error_tree(exc: BaseException, code: int) -> None:
    assert report_for(exc).exit_code == code


def test_config_error_names_file_line_key_and_hint() -> None:
    report = report_for(ConfigError("/etc/c.toml", "api.listen", "bad port", line=3))
    assert report.lines[0] == "error: /etc/c.toml:3: api.listen: bad port"
    assert report.lines[1] == f"hint: {ConfigError.hint}"


def test_store_error_tells_the_user_to_upgrade() -> None:
    report = report_for(StoreError("schema is too old"))
    assert any("calsync db upgrade" in line for line in report.lines)


def test_no_hint_line_when_the_class_has_none() -> None:
    report = report_for(NotFound("no calendar cal_x"))
    assert report.lines == ("error: no calendar cal_x",)


def test_explicit_hint_overrides_the_class_hint() -> None:
    report = report_for(CalsyncError("x", hint="do y"))
    assert report.lines == ("error: x", "hint: do y")


def _raise_bug() -> None:
    raise KeyError("missing-thing")


def test_unexpected_exception_is_short_without_debug() -> None:
    try:
        _raise_bug()
    except KeyError as exc:
        report = report_for(exc)
    text = "\n".join(report.lines)
    assert "KeyError" in text and "missing-thing" in text
    assert "please report" in text
    assert "Traceback" not in text
    assert "_raise_bug" not in text


def test_unexpected_exception_shows_traceback_with_debug() -> None:
    try:
        _raise_bug()
    except KeyError as exc:
        report = report_for(exc, debug=True)
    text = "\n".join(report.lines)
    assert "Traceback" in text and "_raise_bug" in text
    assert report.exit_code == EXIT_BUG
