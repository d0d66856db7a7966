"""Start-up cost, as behaviour: which libraries a command imports (issue #11).

Each command runs in a fresh interpreter (this test process has imported
everything already) and reports ``sys.modules`` when it is done. Reading the
config must not import any provider's implementation, and a pass over a memory
account must not import the API server or another provider's client library.
How long that takes is measured in ``bench/cli_start.py``, never here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from calsync.providers import registry
from calsync.store import schema

#: Imported by a provider implementation or the daemon, never needed to read a config.
PROVIDER_LIBRARIES = (
    "googleapiclient",
    "google.auth",
    "google_auth_oauthlib",
    "httplib2",
    "caldav",
    "niquests",
    "msal",
    "httpx",
    "icalendar",
    "recurring_ical_events",
    "cryptography",
)
SERVER_LIBRARIES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "apscheduler",
    "pydantic",
    "prometheus_client",
)
#: Tables of the API, channels, connect, Chronary, availability, leases and rate
#: limits: a sync pass over SQLite queries none of them.
UNUSED_BY_A_PASS = (
    "calsync.store.availability_models",
    "calsync.store.channels_models",
    "calsync.store.chronary_models",
    "calsync.store.lease_models",
    "calsync.store.provider_channels_models",
    "calsync.store.rate_models",
    "calsync.store.repos.channels",
    "calsync.store.repos.chronary",
    "calsync.store.repos.sync_leases",
    "calsync.store.repos.tokens",
)
#: Alembic only for `db upgrade`; importlib.metadata only for `--version`.
MIGRATION_LIBRARIES = ("alembic", "mako", "pygments")

EVERY_PROVIDER = """
[[accounts]]
name = "dav"
provider = "caldav"
url = "https://dav.example.com/"
username = "alice"
[[accounts]]
name = "gmail"
provider = "google"
client_id = "1234-abc.apps.googleusercontent.com"
[[accounts]]
name = "feed"
provider = "ics"
url = "https://example.com/team.ics"
[[accounts]]
name = "outlook"
provider = "microsoft"
client_id = "8a7c3e0f-2b1d-4c59-9e6a-1f0b7d3c5a21"
[[accounts]]
name = "demo"
provider = "memory"
"""

MEMORY_ONLY = """
[[accounts]]
name = "demo"
provider = "memory"
"""

# Runs the console script's entry point, then writes what it imported.
RUNNER = """
import json, sys
out, argv = sys.argv[1], sys.argv[2:]
from calsync.cli.main import main
try:
    main(argv)
except SystemExit as exit:
    code = exit.code
else:
    code = 0
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def write_config(tmp_path: Path, accounts: str) -> Path:
    path = tmp_path / "calsync.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///calsync.db"\n[logging]\nlevel = "warning"\n' + accounts,
        encoding="utf-8",
    )
    return path


def imported_by(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(out), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        # Not a TTY, so no progress bars either way; the env keeps user site hooks out.
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
        cwd=tmp_path,
    )
    assert out.exists(), done.stderr
    result = json.loads(out.read_text())
    return result["code"], set(result["modules"])


def loaded(modules: set[str], libraries: tuple[str, ...]) -> list[str]:
    """The ``libraries`` (or any submodule of them) found in ``modules``."""
    return sorted(
        lib for lib in libraries if any(m == lib or m.startswith(f"{lib}.") for m in modules)
    )


def test_config_check_imports_no_provider_implementation(tmp_path: Path) -> None:
    config = write_config(tmp_path, EVERY_PROVIDER)
    code, modules = imported_by(tmp_path, "--config", str(config), "config", "check")
    assert code == 0
    # The light schema modules are what told the loader about every provider's keys.
    for name in ("caldav", "google", "ics", "memory", "microsoft"):
        assert f"calsync.providers._{name}_config" in modules
        assert f"calsync.providers.{name}" not in modules
    assert loaded(modules, PROVIDER_LIBRARIES) == []
    assert loaded(modules, SERVER_LIBRARIES) == []
    assert loaded(modules, MIGRATION_LIBRARIES) == []
    assert loaded(modules, ("sqlalchemy", "calsync.store", "calsync.sync", "calsync.api")) == []
    assert "importlib.metadata" not in modules


def test_a_memory_pass_imports_only_what_it_runs(tmp_path: Path) -> None:
    config = write_config(tmp_path, MEMORY_ONLY)
    code, _ = imported_by(tmp_path, "--config", str(config), "db", "upgrade")
    assert code == 0
    code, modules = imported_by(tmp_path, "--config", str(config), "sync", "--once")
    assert code == 0
    assert "calsync.providers.memory" in modules  # the pass really ran the provider
    assert loaded(modules, PROVIDER_LIBRARIES) == []
    assert loaded(modules, SERVER_LIBRARIES) == []
    assert loaded(modules, MIGRATION_LIBRARIES) == []
    assert loaded(modules, ("calsync.api", "calsync.notify", "rich")) == []
    # A SQLite store needs neither PostgreSQL's dialect nor its driver.
    assert loaded(modules, ("sqlalchemy.dialects.postgresql", "psycopg")) == []
    # Nor the mapped classes of tables a pass never queries: the unit of work builds
    # those repositories on first use (mapping them is most of calsync's own import).
    assert loaded(modules, UNUSED_BY_A_PASS) == []
    assert "calsync.store.models" in modules


def test_every_model_module_is_known_to_the_schema() -> None:
    # What a pass leaves out, migrations and the schema check still see.
    from calsync.store import models

    tables = set(schema.metadata().tables)
    found = {
        path.stem
        for path in Path(models.__file__).parent.glob("*models.py")
        if path.stem != "__init__"
    }
    assert {name.rpartition(".")[2] for name in schema.MODEL_MODULES} == found
    assert {"events", "notification_channels", "sync_leases", "api_keys"} <= tables


def test_version_still_reads_the_installed_metadata(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = subprocess.run(
        [sys.executable, "-m", "calsync.cli.main", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"calsync {version('calsync')}"


@pytest.mark.parametrize("name", ["caldav", "google", "ics", "memory", "microsoft"])
def test_every_builtin_has_a_light_schema_equal_to_its_specs(name: str) -> None:
    # The section the loader validates with is the one the implementation declares.
    light = registry.config_sections()[name]
    assert light is registry.get(name).config_section


def test_the_shipped_head_read_from_text_is_alembics() -> None:
    assert schema.shipped_head() == schema.head_revision()


def test_the_shipped_head_falls_back_on_a_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for stem, down in (("0001", "None"), ("0002_a", '"0001"'), ("0002_b", '"0001"')):
        (tmp_path / f"{stem}.py").write_text(
            f'revision: str = "{stem}"\ndown_revision: str | None = {down}\n', encoding="utf-8"
        )
    monkeypatch.setattr(schema, "VERSIONS_DIR", tmp_path)
    monkeypatch.setattr(schema, "head_revision", lambda: "asked alembic")
    assert schema.shipped_head() == "asked alembic"
    (tmp_path / "0003_merge.py").write_text(
        'revision = "0003_merge"\ndown_revision = ("0002_a", "0002_b")\n', encoding="utf-8"
    )
    assert schema.shipped_head() == "0003_merge"
