"""systemd/calsync.service: what the daemon relies on, and a sandbox that scores ≤ 2.0."""

from __future__ import annotations

import re
import shutil
import subprocess
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


def test_exposure_score_is_at_most_two() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    run = subprocess.run(
        [analyze, "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for calsync\.service: (\d+\.\d+)", run.stdout)
    assert match, f"no score in systemd-analyze output:\n{run.stdout}\n{run.stderr}"
    assert float(match.group(1)) <= MAX_EXPOSURE


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
