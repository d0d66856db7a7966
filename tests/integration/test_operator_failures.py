"""What an operator sees when an account cannot sync: through the CLI, against real Radicale.

* a first sync that never connected shows its error in ``calsync status``, and
  the profile is "connected" only after a success;
* a ``calendars`` filter matching nothing fails ``sync --once`` and names the
  calendars that exist;
* credentials the server refused are not sent again (counted as 401 answers
  to requests with credentials, at a proxy in front of Radicale) until they
  change or the operator names the account in ``sync --once --account``.

Each runs the ``calsync`` command in-process (click's runner) over a config
file, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from calsync.cli.main import cli
from calsync.cli.status import collect_status
from calsync.daemon import bootstrap
from calsync.sync import SyncEngine
from tests.fixtures.fault_proxy import FaultProxy, fault_proxy
from tests.fixtures.radicale import RadicaleCalendar, RadicaleServer, free_port


@dataclass
class Operator:
    """A config file with one CalDAV account, and the ``calsync`` command on it."""

    tmp_path: Path
    store_url: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = f"dav-{uuid.uuid4().hex[:8]}"

    def configure(self, url: str, password: str, *, calendars: list[str] | None = None) -> None:
        secret = self.tmp_path / "dav-password"
        secret.write_text(password + "\n")
        lines = [
            f'[store]\nurl = "{self.store_url}"',
            '[logging]\nlevel = "warning"',
            "[[accounts]]",
            f'name = "{self.name}"',
            'provider = "caldav"',
            f'url = "{url}"',
            'username = "alice"',
            f'password_file = "{secret}"',
            'timeout = "30s"',
        ]
        if calendars is not None:
            lines.append("calendars = [" + ", ".join(f'"{c}"' for c in calendars) + "]")
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def config(self) -> Path:
        return self.tmp_path / "calsync.toml"

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args])

    def status_line(self) -> str:
        result = self.run("status")
        assert result.exit_code == 0, result.output
        (line,) = [row for row in result.stdout.splitlines() if row.startswith(self.name)]
        return line


@pytest.fixture
def operator(tmp_path: Path, store_url: str) -> Operator:
    return Operator(tmp_path, store_url)


@pytest.fixture
def proxy(radicale_server: RadicaleServer) -> Iterator[FaultProxy]:
    with fault_proxy(radicale_server.base_url) as running:
        yield running


def test_a_first_sync_that_never_connected_shows_why(
    operator: Operator, radicale_calendar: RadicaleCalendar
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/alice/"  # nothing listens there
    operator.configure(unreachable, radicale_calendar.server.password)
    failed = operator.run("sync", "--once")
    assert failed.exit_code == 1
    assert "connection refused" in failed.stderr.lower()

    line = operator.status_line()
    assert "never connected" in line
    assert " connected " not in f" {line} ".replace("never connected", "")
    assert "refused" in line.lower() and "127.0.0.1" in line  # the very first error

    # The same server, reachable: connected from the first success on, error gone.
    operator.configure(
        radicale_calendar.server.principal_url,
        radicale_calendar.server.password,
        calendars=[radicale_calendar.url],
    )
    assert operator.run("sync", "--once").exit_code == 0
    rows = [r for r in operator.run("status").stdout.splitlines() if r.startswith(operator.name)]
    assert rows and all(" connected " in r and "never" not in r for r in rows)
    assert all("refused" not in r.lower() for r in rows)


def test_a_calendars_filter_matching_nothing_names_the_calendars_that_exist(
    operator: Operator, radicale_server: RadicaleServer
) -> None:
    existing = f"A-Work-{uuid.uuid4().hex[:6]}"  # sorts first among the listed names
    radicale_server.new_calendar(existing)
    operator.configure(radicale_server.principal_url, radicale_server.password, calendars=["Wrok"])

    result = operator.run("sync", "--once")
    assert result.exit_code == 1, result.output
    assert "ok," not in result.stdout
    assert 'no calendar matches calendars = ["Wrok"]' in result.stderr
    assert f'"{existing}"' in result.stderr

    line = operator.status_line()
    assert "Wrok" in line and existing in line

    # Fixed, it syncs.
    operator.configure(
        radicale_server.principal_url, radicale_server.password, calendars=[existing]
    )
    fixed = operator.run("sync", "--once")
    assert fixed.exit_code == 0, fixed.output
    assert "1 calendar(s)" in fixed.stdout


def test_refused_credentials_are_not_sent_again_until_they_change(
    operator: Operator, proxy: FaultProxy, radicale_calendar: RadicaleCalendar
) -> None:
    principal = f"{proxy.base_url}/alice/"
    server = radicale_calendar.server
    operator.configure(principal, "not-the-password", calendars=[radicale_calendar.url])

    first = operator.run("sync", "--once")
    assert first.exit_code == 1
    assert "refused our credentials" in first.stderr
    attempts = proxy.refused_logins()
    assert attempts >= 1

    # Every later pass, in a fresh process (sync --once) or a long-lived engine
    # (the daemon's scheduler), stops before the server: no further failed login.
    for _ in range(3):
        again = operator.run("sync", "--once")
        assert again.exit_code == 1
        assert "not retried with the same credentials" in again.stderr
    settings = bootstrap.load_settings(operator.config)
    with bootstrap.store_session(settings) as store:
        engine = SyncEngine(store, settings)
        for _ in range(3):
            report = engine.sync_account(settings.accounts[0])
            assert report.skipped and not report.ok
        (row,) = [r for r in collect_status(store, settings) if r.account == operator.name]
        assert row.connected is False and "refused" in (row.last_error or "")
    assert proxy.refused_logins() == attempts
    assert "disconnected" in operator.status_line()

    # The operator asks for this account: it is tried (and refused) once more.
    forced = operator.run("sync", "--once", "--account", operator.name)
    assert forced.exit_code == 1 and "refused our credentials" in forced.stderr
    assert proxy.refused_logins() > attempts
    attempts = proxy.refused_logins()
    assert operator.run("sync", "--once").exit_code == 1
    assert proxy.refused_logins() == attempts

    # New credentials (the secret file changed; a reload reads it): tried, and accepted.
    operator.configure(principal, server.password, calendars=[radicale_calendar.url])
    fixed = operator.run("sync", "--once")
    assert fixed.exit_code == 0, fixed.output
    assert proxy.refused_logins() == attempts
    line = operator.status_line()
    assert " connected " in f" {line} " and "disconnected" not in line
