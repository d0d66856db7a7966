"""`make run`'s command line works from a fresh copy of the repository root.

It runs ``calsync --config config.example.toml run`` exactly as the Makefile
does (after its ``mkdir -p var``), in a temporary copy so ``./var`` lands
there, and expects the API on 127.0.0.1:8080 as the README promises.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from tests.system.harness import REPO_ROOT, DaemonProcess, port_is_free, wait_for_http

pytestmark = pytest.mark.slow

EXAMPLE = REPO_ROOT / "config.example.toml"
PORT = 8080


def test_make_run_command_line(tmp_path: Path) -> None:
    if not EXAMPLE.is_file():
        pytest.skip("config.example.toml is not generated yet")
    if not port_is_free(PORT):
        pytest.skip(f"127.0.0.1:{PORT} is in use by another process; cannot test `make run`")
    shutil.copy(EXAMPLE, tmp_path / "config.example.toml")
    (tmp_path / "var").mkdir()  # the Makefile's `mkdir -p var`
    daemon = DaemonProcess(Path("config.example.toml"), cwd=tmp_path)
    try:
        response = wait_for_http(f"http://127.0.0.1:{PORT}/healthz", daemon)
        assert response.status_code == 200
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.logs()
    finally:
        daemon.stop()
    assert (tmp_path / "var" / "calsync.db").is_file()
    assert "Traceback" not in daemon.logs()
