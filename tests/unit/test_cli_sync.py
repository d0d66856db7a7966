"""``calsync sync --once`` through the real engine: per-calendar failures, the
mass-delete guard and its override, and the exit codes (click's runner, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from calsync.cli.main import cli
from calsync.errors import TransientProviderError
from calsync.providers import memory, registry
from calsync.providers.registry import ProviderSpec
from tests.fixtures.store import content

BACKEND = "cli-sync-test"


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "calsync.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///state/calsync.db"\n'
        '[api]\nlisten = "127.0.0.1:18080"\n'
        '[logging]\nlevel = "error"\n'
        '[[accounts]]\nname = "team"\nprovider = "memory"\n'
        f'backend = "{BACKEND}"\ncalendars = ["Work", "Home"]\n',
        encoding="utf-8",
    )
    return path


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    memory.drop_backend(BACKEND)
    path = write_config(tmp_path)
    assert invoke(path, "db", "upgrade").exit_code == 0
    yield path
    memory.drop_backend(BACKEND)


def test_a_failing_calendar_is_named_with_its_reason_and_exits_1(config: Path) -> None:
    first = invoke(config, "sync", "--once")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "team: ok, 2 calendar(s)"

    backend = memory.get_backend(BACKEND)
    backend.remote_upsert(backend.calendar_id("Home"), content("Dentist"))
    backend.fail_next_pulls(1, TransientProviderError("the server answered 503"))
    failed = invoke(config, "sync", "--once")
    assert failed.exit_code == 1
    failures = [line for line in failed.stderr.splitlines() if line.startswith("error: team/")]
    assert failures == ["error: team/Work: the server answered 503"]
    assert "error: sync failed for: team" in failed.stderr

    # The other calendar synced in the same pass; status shows both outcomes.
    status = invoke(config, "status").stdout.splitlines()
    work = next(line for line in status if " Work " in line)
    home = next(line for line in status if " Home " in line)
    assert "the server answered 503" in work and " connected " in work
    assert "the server answered 503" not in home

    again = invoke(config, "sync", "--once")
    assert again.exit_code == 0, again.output


def test_mass_delete_is_refused_until_allowed(config: Path) -> None:
    backend = memory.get_backend(BACKEND)
    work = backend.ensure_calendar("Work")  # the provider would create it on first use
    ids = [backend.remote_upsert(work, content(f"E{i}", day=i)).remote_id for i in range(10)]
    assert invoke(config, "sync", "--once").stdout.startswith(
        "team: ok, 2 calendar(s), 10 upserted"
    )

    for remote_id in ids[:8]:
        backend.remote_delete(work, remote_id)
    refused = invoke(config, "sync", "--once")
    assert refused.exit_code == 1
    assert "error: team/Work: this sync would delete 8 of 10 events" in refused.stderr
    assert "--allow-mass-delete" in refused.stderr

    allowed = invoke(config, "sync", "--once", "--allow-mass-delete")
    assert allowed.exit_code == 0, allowed.output
    assert "8 deleted" in allowed.stdout
    assert invoke(config, "sync", "--once").exit_code == 0


def test_usage_errors_exit_2(config: Path) -> None:
    assert invoke(config, "sync").exit_code == 2
    unknown = invoke(config, "sync", "--once", "--account", "nobody")
    assert unknown.exit_code == 2
    assert "'team'" in unknown.output


def test_a_bug_inside_the_engine_logs_its_traceback_and_exits_70(config: Path) -> None:
    """The engine catches everything to keep other calendars going; a bug still
    reaches the log with its real traceback, and the command exits 70."""
    invoke(config, "sync", "--once")
    memory.get_backend(BACKEND).fail_next_pulls(1, KeyError("a bug in calsync"))
    result = invoke(config, "sync", "--once")
    assert result.exit_code == 70, result.output
    assert "error: team/Work: unexpected KeyError: 'a bug in calsync'" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "NoneType: None" not in result.stderr
    assert "memory_backend.py" in result.stderr  # the frame that raised it
    assert "please report it" in result.stderr
    assert result.stderr.count("KeyError: 'a bug in calsync'") == 2  # traceback + report line


@pytest.fixture
def buggy_provider() -> Iterator[None]:
    class Buggy:
        def list_calendars(self) -> list[object]:
            return [None]  # not a RemoteCalendar: the engine trips over it

        def close(self) -> None:
            pass

    registry.register(ProviderSpec(name="buggy", factory=lambda name, options: Buggy()))  # type: ignore[arg-type]
    yield
    registry.unregister("buggy")


def test_a_bug_at_account_level_exits_70_too(config: Path, buggy_provider: None) -> None:
    config.write_text(
        config.read_text(encoding="utf-8") + '[[accounts]]\nname = "odd"\nprovider = "buggy"\n',
        encoding="utf-8",
    )
    result = invoke(config, "sync", "--once")
    assert result.exit_code == 70, result.output
    assert "team: ok" in result.stdout
    assert "error: odd: unexpected AttributeError" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "NoneType: None" not in result.stderr
