"""``calsync account add google``, ``account list`` and ``keys rotate`` end to end,
against the fake Google server over real HTTP.

``account add`` runs as a real process whose browser is played by a script
named in ``$BROWSER`` (Python's `webbrowser` runs it with the consent URL): it
follows the fake's automatic consent to the CLI's loopback redirect, exactly
as a browser would. The other commands run in-process through click's runner
(same code, without paying the interpreter start-up a dozen times).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from calsync.cli.main import cli
from calsync.providers import secrets_vault
from calsync.store import Store
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import google_fake
from tests.system.harness import REPO_ROOT

__all__ = ["google_fake"]

pytestmark = pytest.mark.slow

BROWSER_SCRIPT = """#!{python}
import os
import ssl
import sys
import httpx

# A browser that trusts the HTTPS fake's throw-away CA when it is named.
ca = os.environ.get("FAKE_GOOGLE_CA")
verify = ssl.create_default_context(cafile=ca) if ca else True
reply = httpx.get(sys.argv[1], follow_redirects=True, trust_env=False, timeout=10, verify=verify)
sys.exit(0 if reply.status_code == 200 else 1)
"""


@pytest.fixture
def fake(google_fake: GoogleCalendarFake) -> GoogleCalendarFake:
    google_fake.add_calendar("Work", calendar_id="work@example.com", primary=True)
    return google_fake


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[store]\nurl = "sqlite:///state/calsync.db"\n'
        '[api]\nlisten = "127.0.0.1:18081"\n'
        '[logging]\nlevel = "warning"\n',
        encoding="utf-8",
    )
    store = Store(f"sqlite:///{tmp_path / 'state' / 'calsync.db'}")
    (tmp_path / "state").mkdir()
    store.upgrade()
    store.dispose()
    browser = tmp_path / "browser"
    browser.write_text(BROWSER_SCRIPT.format(python=sys.executable), encoding="utf-8")
    browser.chmod(0o755)
    yield tmp_path


def calsync_process(
    workdir: Path, *args: str, browser_ca: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    env.update(
        BROWSER=str(workdir / "browser"),
        OAUTHLIB_INSECURE_TRANSPORT="1",  # the fake speaks plain http on loopback
        PYTHONPATH=str(REPO_ROOT),
    )
    if browser_ca is not None:
        env["FAKE_GOOGLE_CA"] = str(browser_ca)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "calsync.cli.main",
            "--config",
            str(workdir / "calsync.toml"),
            *args,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(autouse=True)
def _insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def calsync(workdir: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(workdir / "calsync.toml"), *args], catch_exceptions=False
    )


def decrypt(token_file: Path, key_file: Path) -> str:
    keys = secrets_vault.load_keys(key_file.read_text(encoding="ascii"))
    return secrets_vault.TokenVault(keys).decrypt(token_file.read_text(encoding="ascii").strip())


def test_add_sync_disconnect_reconnect_and_rotate_keys(
    workdir: Path, fake: GoogleCalendarFake
) -> None:
    (workdir / "client-secret").write_text(fake.client_secret + "\n", encoding="utf-8")
    added = calsync_process(
        workdir,
        *("account", "add", "google", "--name", "work", "--client-id", fake.client_id),
        *("--client-secret-file", "client-secret", "--timeout", "20"),
        *("--auth-uri", fake.auth_uri, "--token-uri", fake.token_uri),
    )
    assert added.returncode == 0, added.stderr
    token_file = workdir / "state" / "google-work.token"
    key_file = workdir / "state" / "calsync-vault-key"
    assert f"encrypted refresh token written to {token_file}" in added.stderr
    assert f"created a new vault key in {key_file}" in added.stderr
    assert fake.auth_uri in added.stderr  # the consent URL is printed for headless machines
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert token_file.read_text().startswith(secrets_vault.CIPHERTEXT_PREFIX)
    first_token = decrypt(token_file, key_file)
    assert first_token in fake.refresh_tokens
    authorize = next(r for r in fake.requests if r.path == "/authorize")
    assert authorize.query["code_challenge_method"] == "S256"
    snippet = added.stdout
    assert f'refresh_token_file = "{token_file}"' in snippet
    assert f'vault_key_file = "{key_file}"' in snippet
    assert f'token_uri = "{fake.token_uri}"' in snippet

    # The printed table, pasted into the config, is a working account.
    config = workdir / "calsync.toml"
    config.write_text(
        config.read_text() + snippet + f'api_endpoint = "{fake.api_endpoint}"\n', encoding="utf-8"
    )
    synced = calsync(workdir, "sync", "--once")
    assert synced.exit_code == 0, synced.stderr
    assert synced.stdout.strip() == "work: ok, 1 calendar(s)"
    listed = calsync(workdir, "account", "list")
    (row,) = listed.stdout.splitlines()[1:]
    name, kind, provider, enabled, sub, profile, state = row.split()
    assert (name, kind, provider, enabled, state) == (
        "work",
        "config",
        "google",
        "yes",
        "connected",
    )
    assert sub.startswith("acc_") and profile.startswith("pro_")

    # Google revokes the token (and with it its access tokens, which this process
    # keeps between passes): the pass fails and the profile shows disconnected.
    fake.revoke_refresh_tokens()
    refused = calsync(workdir, "sync", "--once")
    assert refused.exit_code == 1
    assert "error: work: " in refused.stderr
    assert "disconnected" in calsync(workdir, "account", "list").stdout
    assert " disconnected " in calsync(workdir, "status").stdout

    # Reconnecting needs only the name: client, token file and key come from the config.
    again = calsync_process(
        workdir, "account", "add", "google", "--name", "work", "--auth-uri", fake.auth_uri
    )
    assert again.returncode == 0, again.stderr
    assert "created a new vault key" not in again.stderr
    assert decrypt(token_file, key_file) in fake.refresh_tokens
    assert calsync(workdir, "sync", "--once").exit_code == 0
    assert calsync(workdir, "account", "list").stdout.splitlines()[1].split()[-1] == "connected"

    # Rotate to a new key: the token opens with it, not with the old key alone.
    refresh_token = decrypt(token_file, key_file)
    new_key_file = workdir / "state" / "vault-key-2"
    rotated = calsync(workdir, "keys", "rotate", "--new-key-file", str(new_key_file))
    assert rotated.exit_code == 0, rotated.stderr
    assert f"re-encrypted {token_file}" in rotated.stdout
    assert f"generated a new key in {new_key_file}" in rotated.stdout
    new_keys = secrets_vault.load_keys(new_key_file.read_text(encoding="ascii"))
    old_keys = secrets_vault.load_keys(key_file.read_text(encoding="ascii"))
    assert new_keys[1:] == old_keys  # the old key stays readable from the new file
    stored = token_file.read_text(encoding="ascii").strip()
    assert secrets_vault.TokenVault(new_keys[:1]).decrypt(stored) == refresh_token
    with pytest.raises(Exception, match="cannot be decrypted"):
        secrets_vault.TokenVault(old_keys).decrypt(stored)

    # Pointing the account at the new key file keeps it working.
    config.write_text(
        config.read_text().replace(str(key_file), str(new_key_file)), encoding="utf-8"
    )
    assert calsync(workdir, "sync", "--once").exit_code == 0


def add_providers_google(workdir: Path, fake: GoogleCalendarFake, extra: str = "") -> Path:
    """Append a [providers.google] table for ``fake`` (its secret in a file) to the config."""
    (workdir / "client-secret").write_text(fake.client_secret + "\n", encoding="utf-8")
    config = workdir / "calsync.toml"
    config.write_text(
        config.read_text()
        + "[providers.google]\n"
        + f'client_id = "{fake.client_id}"\nclient_secret_file = "client-secret"\n'
        + f'auth_uri = "{fake.auth_uri}"\ntoken_uri = "{fake.token_uri}"\n'
        + extra,
        encoding="utf-8",
    )
    return config


def test_add_takes_client_and_endpoints_from_providers_google(
    workdir: Path, fake: GoogleCalendarFake
) -> None:
    """Without flags, `account add google` uses the [providers.google] table (issue #12)."""
    add_providers_google(workdir, fake)
    added = calsync_process(
        workdir, "account", "add", "google", "--name", "home", "--timeout", "20"
    )
    assert added.returncode == 0, added.stderr
    assert f'client_id = "{fake.client_id}"' in added.stdout
    assert f'client_secret_file = "{workdir / "client-secret"}"' in added.stdout
    assert f'token_uri = "{fake.token_uri}"' in added.stdout
    token_file = workdir / "state" / "google-home.token"
    assert decrypt(token_file, workdir / "state" / "calsync-vault-key") in fake.refresh_tokens
    authorize = next(r for r in fake.requests if r.path == "/authorize")
    assert authorize.query["client_id"] == fake.client_id


def test_add_and_sync_over_https_trust_providers_google_ca_file(workdir: Path) -> None:
    """Issue #12: behind a private CA, `account add google` exchanges the code, and the
    account it prints syncs, trusting [providers.google] ca_file (nothing else does)."""
    with GoogleCalendarFake(tls=True) as fake:
        fake.add_calendar("Work", calendar_id="work@example.com", primary=True)
        config = add_providers_google(workdir, fake, f'ca_file = "{fake.ca_file}"\n')
        added = calsync_process(
            workdir,
            *("account", "add", "google", "--name", "home", "--timeout", "20"),
            browser_ca=fake.ca_file,
        )
        assert added.returncode == 0, added.stderr
        token_file = workdir / "state" / "google-home.token"
        assert decrypt(token_file, workdir / "state" / "calsync-vault-key") in fake.refresh_tokens
        assert "ca_file" not in added.stdout, "the account inherits it: not repeated"

        config.write_text(
            config.read_text() + added.stdout + f'api_endpoint = "{fake.api_endpoint}"\n',
            encoding="utf-8",
        )
        synced = calsync(workdir, "sync", "--once")
        assert synced.exit_code == 0, synced.stderr
        assert synced.stdout.strip() == "home: ok, 1 calendar(s)"

        # Without it, the code exchange fails in one line naming the certificate.
        config.write_text(
            config.read_text().replace(f'ca_file = "{fake.ca_file}"\n', ""), encoding="utf-8"
        )
        refused = calsync_process(
            workdir,
            *("account", "add", "google", "--name", "other", "--timeout", "20"),
            browser_ca=fake.ca_file,
        )
        assert refused.returncode == 1, refused.stderr
        [error] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert "certificate" in error and "ca_file" in error, refused.stderr
        assert "Pool" not in refused.stderr and "Traceback" not in refused.stderr
