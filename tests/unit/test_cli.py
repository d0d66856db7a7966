"""The ``calsync`` command through click's runner, on a real SQLite file, plus one real process."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

import calsync
from calsync.cli.main import cli
from calsync.daemon import bootstrap
from calsync.errors import CredentialsInvalid
from calsync.providers import registry
from calsync.providers.registry import ProviderSpec
from calsync.store.repos import journal_repos
from calsync.store.schema import head_revision


def write_config(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "calsync.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///state/calsync.db"\n'
        '[api]\nlisten = "127.0.0.1:18080"\n'
        '[logging]\nlevel = "warning"\n' + body,
        encoding="utf-8",
    )
    return path


ACCOUNTS = """
[[accounts]]
name = "work"
provider = "memory"
[[accounts]]
name = "home"
provider = "memory"
"""


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    config = write_config(tmp_path, ACCOUNTS)
    result = invoke(config, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return config


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"calsync {calsync.__version__}"


def test_config_check_prints_the_effective_config_redacted(tmp_path: Path) -> None:
    secret_value = "s3cret-value-that-must-not-show"
    (tmp_path / "client-secret").write_text(secret_value + "\n")
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[api]\nclient_id = "app"\nclient_secret_file = "client-secret"\n' + ACCOUNTS,
        encoding="utf-8",
    )
    result = invoke(config, "config", "check")
    assert result.exit_code == 0, result.output
    assert "[[accounts]]" in result.stdout and 'name = "work"' in result.stdout
    assert "client_secret_file" in result.stdout
    assert str(tmp_path / "client-secret") in result.stdout  # shown as the file it is read from
    assert secret_value not in result.output
    # defaults are filled in
    assert 'interval = "5m"' in result.stdout


def test_invalid_config_names_file_and_key_without_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[accounts]]\nname = "x"\nprovider = "nosuch"\n')
    result = invoke(config, "config", "check")
    assert result.exit_code == 2
    assert str(config) in result.output
    assert "accounts[0].provider" in result.output
    assert "hint:" in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_is_a_user_error(tmp_path: Path) -> None:
    result = invoke(tmp_path / "absent.toml", "status")
    assert result.exit_code == 2
    assert "absent.toml" in result.output and "Traceback" not in result.output


def test_config_defaults_to_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    monkeypatch.setenv("CALSYNC_CONFIG", str(config))
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert str(config.parent) in result.stdout  # the SQLite path is resolved next to it


def test_commands_before_db_upgrade_say_how_to_fix_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, ACCOUNTS)
    result = invoke(config, "status")
    assert result.exit_code == 1
    assert "calsync db upgrade" in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_is_idempotent(migrated: Path) -> None:
    result = invoke(migrated, "db", "upgrade")
    assert result.exit_code == 0
    assert f"already at revision {head_revision()}, nothing to do" in result.output
    assert (migrated.parent / "state" / "calsync.db").is_file()


def test_db_upgrade_says_what_it_did(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    created = invoke(config, "db", "upgrade")
    assert created.exit_code == 0, created.output
    assert f"created the schema at revision {head_revision()}" in created.output
    assert "up to date" not in created.output and "nothing to do" not in created.output


def test_status_with_no_accounts(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert invoke(config, "db", "upgrade").exit_code == 0
    result = invoke(config, "status")
    assert result.exit_code == 0
    assert "no accounts" in result.output


def test_sync_once_discovers_calendars_and_status_lists_them(migrated: Path) -> None:
    before = invoke(migrated, "status")
    assert before.exit_code == 0
    assert "never synced" in before.output

    result = invoke(migrated, "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "work: ok, 1 calendar(s)" in result.output
    assert "home: ok, 1 calendar(s)" in result.output

    status = invoke(migrated, "status")
    assert status.exit_code == 0
    rows = status.output.splitlines()
    assert rows[0].startswith("ACCOUNT")
    assert {row.split()[0] for row in rows[1:]} == {"work", "home"}
    assert all("cal_" in row and "ago" in row for row in rows[1:])

    # accounts and profiles exist with their public id prefixes
    settings = bootstrap.load_settings(migrated)
    with bootstrap.store_session(settings) as store, store.read() as uow:
        accounts = uow.accounts.list(kind="connected")
        assert sorted(a.name or "" for a in accounts) == ["home", "work"]
        assert all(a.sub.startswith("acc_") for a in accounts)
        profiles = [p for a in accounts for p in uow.profiles.list(a.pk)]
        assert len(profiles) == 2 and all(p.profile_id.startswith("pro_") for p in profiles)

    # a second pass creates nothing new
    assert invoke(migrated, "sync", "--once").exit_code == 0
    assert len(invoke(migrated, "status").output.splitlines()) == 3


def _column(header: str, row: str, name: str) -> str:
    """The cell of column ``name`` in ``row`` (columns start where their header does)."""
    names = ["LAST SYNC", "CURSOR AGE", "LAST ERROR"]
    start = header.index(name)
    following = [header.index(n) for n in names if header.index(n) > start]
    return row[start : min(following) if following else None].strip()


def test_status_shows_the_cursor_age_apart_from_the_last_sync(
    migrated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke(migrated, "sync", "--once", "--account", "work").exit_code == 0
    now = datetime.now(UTC)
    settings = bootstrap.load_settings(migrated)
    with bootstrap.store_session(settings) as store, store.write() as uow:
        account = uow.accounts.find_by_name("work")
        assert account is not None
        (calendar,) = uow.calendars.list(account.pk)
        # The store stamps a cursor with its own clock: move that clock 5 hours back.
        monkeypatch.setattr(journal_repos, "utcnow", lambda: now - timedelta(hours=5))
        uow.cursors.set(calendar.pk, "cursor-5h-old")
        uow.calendars.set_sync_status(
            calendar.pk, last_sync_at=now - timedelta(days=2), last_error=None
        )
    monkeypatch.undo()

    header, *rows = invoke(migrated, "status").output.splitlines()
    (work,) = [row for row in rows if row.startswith("work")]
    assert _column(header, work, "LAST SYNC").endswith("(2d0h ago)")
    assert re.fullmatch(r"5h[0-9]m ago", _column(header, work, "CURSOR AGE"))


def test_sync_once_for_one_account(migrated: Path) -> None:
    result = invoke(migrated, "sync", "--once", "--account", "home")
    assert result.exit_code == 0
    assert "home: ok" in result.output and "work" not in result.output


def test_sync_once_unknown_account_is_a_user_error(migrated: Path) -> None:
    result = invoke(migrated, "sync", "--once", "--account", "nope")
    assert result.exit_code == 2
    assert "'nope'" in result.output and "'work'" in result.output


def test_sync_without_once_explains(migrated: Path) -> None:
    result = invoke(migrated, "sync")
    assert result.exit_code == 2
    assert "--once" in result.output


@pytest.fixture
def refusing_provider() -> object:
    class Refusing:
        def list_calendars(self) -> list[object]:
            raise CredentialsInvalid("the server refused the password")

        def close(self) -> None:
            pass

    registry.register(ProviderSpec(name="refusing", factory=lambda name, options: Refusing()))  # type: ignore[arg-type]
    yield
    registry.unregister("refusing")


def test_sync_once_failure_exits_nonzero_and_names_the_account(
    tmp_path: Path, refusing_provider: object
) -> None:
    config = write_config(
        tmp_path, ACCOUNTS + '[[accounts]]\nname = "broken"\nprovider = "refusing"\n'
    )
    assert invoke(config, "db", "upgrade").exit_code == 0
    result = invoke(config, "sync", "--once")
    assert result.exit_code == 1
    assert "work: ok" in result.output
    assert "broken: FAILED" in result.output
    assert "error: broken: the server refused the password" in result.stderr
    assert "sync failed for: broken" in result.stderr
    status = invoke(config, "status")
    broken = next(line for line in status.output.splitlines() if line.startswith("broken"))
    assert "disconnected" in broken and "the server refused the password" in broken
    settings = bootstrap.load_settings(config)
    with bootstrap.store_session(settings) as store, store.read() as uow:
        account = uow.accounts.find_by_name("broken")
        assert account is not None
        profile = uow.profiles.list(account.pk)[0]
        assert not profile.connected
        assert profile.disconnect_reason == "the server refused the password"


def test_token_issue_prints_a_token_that_authenticates(migrated: Path) -> None:
    result = invoke(migrated, "token", "issue", "--account", "work")
    assert result.exit_code == 0, result.output
    token = result.output.split()[-1]
    assert token.startswith("csa_")

    settings = bootstrap.load_settings(migrated)
    with bootstrap.store_session(settings) as store:
        with TestClient(bootstrap.build_app(settings, store)) as client:
            ok = client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
            denied = client.get("/v1/account", headers={"Authorization": "Bearer csa_wrong"})
        with store.read() as uow:
            account = uow.accounts.find_by_name("work")
    assert ok.status_code == 200, ok.text
    assert account is not None
    assert ok.json()["account"]["account_id"] == account.sub
    assert denied.status_code == 401


def test_token_issue_for_unknown_account(migrated: Path) -> None:
    result = invoke(migrated, "token", "issue", "--account", "ghost")
    assert result.exit_code == 2
    assert "ghost" in result.output


def test_real_process_reports_errors_without_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[sync]\ninterval = "often"\n')
    done = subprocess.run(
        [sys.executable, "-m", "calsync.cli.main", "--config", str(config), "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "sync.interval" in done.stderr and str(config) in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    version = subprocess.run(
        [sys.executable, "-m", "calsync.cli.main", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0 and calsync.__version__ in version.stdout


def test_a_bug_exits_70_and_asks_for_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_loader(path: Path) -> object:
        raise RuntimeError("invariant broken")

    monkeypatch.setattr(bootstrap, "load_settings", broken_loader)
    config = write_config(tmp_path)
    result = invoke(config, "status")
    assert result.exit_code == 70
    assert "invariant broken" in result.output and "please report" in result.output
    assert "Traceback" not in result.output
    debug = CliRunner().invoke(cli, ["--config", str(config), "--debug", "status"])
    assert debug.exit_code == 70
    assert "Traceback" in debug.output and "broken_loader" in debug.output
