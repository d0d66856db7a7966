"""``calsync token issue --api-key`` / ``--agent`` and ``calsync token revoke``."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from calsync.daemon import bootstrap
from tests.unit.test_cli import invoke, migrated  # noqa: F401  (the fixture)


def _last_word(config: Path, *args: str) -> str:
    result = invoke(config, *args)
    assert result.exit_code == 0, result.output
    return result.output.split()[-1]


def test_api_key_agent_token_and_revoke(migrated: Path) -> None:  # noqa: F811
    key = _last_word(migrated, "token", "issue", "--api-key")
    other_key = _last_word(migrated, "token", "issue", "--api-key")
    assert key.startswith("chr_sk_") and other_key != key
    _last_word(migrated, "token", "issue", "--account", "work")  # the account's rows exist now

    settings = bootstrap.load_settings(migrated)
    with bootstrap.store_session(settings) as store:
        with TestClient(bootstrap.build_app(settings, store)) as client:
            agents = client.get(
                "/chronary/v1/agents", headers={"Authorization": f"Bearer {key}"}
            ).json()
        (work,) = [a for a in agents["data"] if a["name"] == "work"]
        assert work["type"] == "human"  # a configured ([[accounts]]) account

        token = _last_word(migrated, "token", "issue", "--agent", work["id"])
        assert token.startswith("csa_")
        with TestClient(bootstrap.build_app(settings, store)) as client:
            account = client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
        assert account.json()["account"]["account_id"] == work["account_id"]

        assert invoke(migrated, "token", "revoke", key).exit_code == 0
        assert invoke(migrated, "token", "revoke", key).exit_code == 1
        with TestClient(bootstrap.build_app(settings, store)) as client:
            revoked = client.get("/chronary/v1/agents", headers={"Authorization": f"Bearer {key}"})
            kept = client.get(
                "/chronary/v1/agents", headers={"Authorization": f"Bearer {other_key}"}
            )
            still = client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and revoked.json()["error"]["type"] == "authentication_error"
    assert kept.status_code == 200
    assert still.status_code == 200


def test_issue_needs_exactly_one_target(migrated: Path) -> None:  # noqa: F811
    assert invoke(migrated, "token", "issue").exit_code == 2
    assert invoke(migrated, "token", "issue", "--api-key", "--account", "work").exit_code == 2
    unknown = invoke(migrated, "token", "issue", "--agent", "agt_nope")
    assert unknown.exit_code == 1
