"""systemd/calsync.service: what the daemon relies on, and a sandbox that scores ≤ 2.0."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "calsync.service"
MAX_EXPOSURE = 2.0


def directives() -> dict[str, list[str]]:
    """``Key`` -> every value assigned to it, in order (comments and sections dropped)."""
    found: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a directive: {raw!r}"
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def _analyze() -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return analyze


def exposure(unit: Path) -> float:
    """``systemd-analyze security --offline=yes``'s overall exposure of ``unit``."""
    run = subprocess.run(
        [_analyze(), "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    assert match, f"no score in systemd-analyze output:\n{run.stdout}\n{run.stderr}"
    return float(match.group(1))


def verify(unit: Path) -> None:
    """``systemd-analyze verify``: syntax, directives, and an executable ExecStart."""
    run = subprocess.run(
        [_analyze(), "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in run.stderr.splitlines() if unit.name in line]
    assert run.returncode == 0 and not problems, f"{run.stdout}\n{run.stderr}"


def installed_unit(directory: Path, calsync: Path) -> Path:
    """The unit as systemd/install.sh writes it when the command is ``calsync``."""
    text = UNIT.read_text().replace("/usr/local/bin/calsync", str(calsync))
    target = directory / "calsync.service"
    target.write_text(text)
    return target


def test_exposure_score_is_at_most_two() -> None:
    assert exposure(UNIT) <= MAX_EXPOSURE


def test_unit_verifies_once_its_command_is_installed(tmp_path: Path) -> None:
    # install.sh links /usr/local/bin/calsync to a venv's command; here the command of
    # the venv running the tests stands in for it (tests/system/test_systemd_install.py
    # runs the real install).
    command = Path(sys.executable).parent / "calsync"
    assert command.is_file() and os.access(command, os.X_OK), command
    verify(installed_unit(tmp_path, command))


def test_unit_without_its_command_does_not_verify(tmp_path: Path) -> None:
    """The check has teeth: a missing ExecStart binary is what broke the old install."""
    with pytest.raises(AssertionError, match="not executable"):
        verify(installed_unit(tmp_path, tmp_path / "missing" / "calsync"))


def test_lifecycle_matches_the_daemon() -> None:
    unit = directives()
    assert unit["Type"] == ["notify"], "the daemon sends READY=1"
    assert unit["NotifyAccess"] == ["main"]
    assert int(unit["WatchdogSec"][0]) > 0, "the daemon pings WATCHDOG=1"
    assert unit["ExecStart"] == ["/usr/local/bin/calsync --config /etc/calsync/calsync.toml run"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"], "SIGHUP reloads the config"
    assert unit["Restart"] == ["on-failure"]


def test_secrets_arrive_as_credentials() -> None:
    unit = directives()
    # One directory: each file in it becomes the credential calsync_<name>,
    # which the config's *_file lookup finds by <name>.
    assert unit["LoadCredential"] == ["calsync:/etc/calsync/credentials"]
    assert "calsync/credentials" in unit["ConfigurationDirectory"][0].split()


def test_sandbox_keeps_the_network_the_daemon_needs() -> None:
    unit = directives()
    # Providers, the database and webhook receivers are all reached over IP.
    assert "IPAddressDeny" not in unit
    assert "PrivateNetwork" not in unit
    assert set(unit["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert unit["DynamicUser"] == ["yes"] and unit["StateDirectory"] == ["calsync"]
    assert unit["CapabilityBoundingSet"] == [""]
    assert unit["ProtectSystem"] == ["strict"]


def test_the_replica_template_is_the_unit_with_a_port_per_instance() -> None:
    template = UNIT.with_name("calsync@.service")

    def parsed(path: Path) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if line and not line.startswith(("#", ";", "[")):
                key, _, value = line.partition("=")
                found.setdefault(key.strip(), []).append(value.strip())
        return found

    single, replica = parsed(UNIT), parsed(template)
    assert replica["ExecStart"] == [single["ExecStart"][0] + " --listen 127.0.0.1:%i"]
    assert "%i" in replica["Description"][0]
    rest = {k: v for k, v in replica.items() if k not in ("ExecStart", "Description")}
    assert rest == {k: v for k, v in single.items() if k not in ("ExecStart", "Description")}
