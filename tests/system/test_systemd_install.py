"""The documented install (systemd/install.sh), run for real into a temporary root.

What an operator on Debian 12 gets: a venv holding calsync, a ``calsync`` link that
runs it, a config that loads, and a unit that ``systemd-analyze verify`` accepts
(its ExecStart exists and is executable) and that scores <= 2.0 exposure.
Every path is moved under ``tmp_path``; only the prefixes differ from a real install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_systemd_unit import MAX_EXPOSURE, exposure, verify

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "systemd" / "install.sh"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def checkout_had_build_dir() -> bool:
    return (ROOT / "build").exists()


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory, checkout_had_build_dir: bool
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("root")
    paths = {
        "PREFIX": root / "opt" / "calsync",
        "BINDIR": root / "usr" / "local" / "bin",
        "UNITDIR": root / "etc" / "systemd" / "system",
        "CONFDIR": root / "etc" / "calsync",
        "STATEDIR": root / "var" / "lib" / "calsync",
    }
    env = {
        **os.environ,
        **{name: str(path) for name, path in paths.items()},
        "PYTHON": sys.executable,
        "SYSTEMCTL": ":",
    }
    run = subprocess.run(["sh", str(INSTALL)], env=env, capture_output=True, text=True, timeout=840)
    assert run.returncode == 0, f"install.sh failed:\n{run.stdout}\n{run.stderr}"
    return paths


def test_the_checkout_is_left_as_it_was(
    installed: dict[str, Path], checkout_had_build_dir: bool
) -> None:
    """Installing builds from a copy: setuptools' build/ does not appear in the checkout."""
    assert (ROOT / "build").exists() == checkout_had_build_dir


def test_the_command_is_a_link_into_the_venv(installed: dict[str, Path]) -> None:
    link = installed["BINDIR"] / "calsync"
    assert link.is_symlink()
    assert link.resolve() == (installed["PREFIX"] / "bin" / "calsync").resolve()
    version = subprocess.run([str(link), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("calsync "), version


def test_the_installed_config_loads_and_keeps_state_in_the_state_directory(
    installed: dict[str, Path],
) -> None:
    config = installed["CONFDIR"] / "calsync.toml"
    check = subprocess.run(
        [str(installed["BINDIR"] / "calsync"), "--config", str(config), "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    # ProtectSystem=strict leaves only the StateDirectory writable: the store lives there.
    assert f'url = "sqlite:///{installed["STATEDIR"]}/calsync.db"' in check.stdout
    credentials = installed["CONFDIR"] / "credentials"
    assert credentials.is_dir() and credentials.stat().st_mode & 0o777 == 0o700


def test_the_installed_unit_runs_the_installed_command(installed: dict[str, Path]) -> None:
    unit = installed["UNITDIR"] / "calsync.service"
    exec_start = [
        line.partition("=")[2]
        for line in unit.read_text().splitlines()
        if line.startswith("ExecStart=")
    ]
    config = installed["CONFDIR"] / "calsync.toml"
    assert exec_start == [f"{installed['BINDIR']}/calsync --config {config} run"]


def test_the_installed_unit_verifies_and_scores_at_most_two(installed: dict[str, Path]) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    unit = installed["UNITDIR"] / "calsync.service"
    verify(unit)
    assert exposure(unit) <= MAX_EXPOSURE


def test_the_installed_replica_template_verifies_and_scores_at_most_two(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    template = (installed["UNITDIR"] / "calsync@.service").read_text()
    assert f"ExecStart={installed['BINDIR']}/calsync --config " in template
    instance = tmp_path / "calsync@8081.service"  # what `systemctl start calsync@8081` loads
    instance.write_text(template)
    verify(instance)
    assert exposure(instance) <= MAX_EXPOSURE


def test_installing_again_upgrades_and_keeps_the_config(installed: dict[str, Path]) -> None:
    config = installed["CONFDIR"] / "calsync.toml"
    config.write_text(config.read_text() + "\n# edited by the operator\n")
    env = {
        **os.environ,
        **{name: str(path) for name, path in installed.items()},
        "PYTHON": sys.executable,
        "SYSTEMCTL": ":",
    }
    run = subprocess.run(["sh", str(INSTALL)], env=env, capture_output=True, text=True, timeout=840)
    assert run.returncode == 0, run.stderr
    assert config.read_text().endswith("# edited by the operator\n")
