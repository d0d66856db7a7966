"""Microsoft 365 end to end: ``calsync account add microsoft`` and ``calsync run``
against the Graph fake over HTTPS (issue #13).

``account add`` runs as a real process whose browser is a script named in
``$BROWSER``: it follows the fake's automatic sign-in to the CLI's loopback
redirect. The printed ``[[accounts]]`` table, pasted into a config with
``[providers.microsoft]``, is what the daemon runs. The test changes the fake,
calls the daemon's HTTP API and waits, bounded, for both sides to agree;
exactly-once is checked on the fake's request log.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from calsync.providers import secrets_vault
from tests.fakes.graph_testing import event_body
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.system.harness import REPO_ROOT
from tests.system.provider_worlds import DaemonWorld, running_daemon

pytestmark = pytest.mark.slow

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)

BROWSER_SCRIPT = """#!{python}
import os, sys
import httpx

reply = httpx.get(sys.argv[1], follow_redirects=True, trust_env=False, timeout=10,
                  verify=os.environ["FAKE_GRAPH_CA"])
sys.exit(0 if reply.status_code == 200 else 1)
"""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_summaries(fake: MicrosoftGraphFake) -> list[str]:
    start, end = SOON - timedelta(days=30), SOON + timedelta(days=120)
    return sorted(str(i["subject"]) for i in fake.instances(fake.default_calendar_id, start, end))


def creates(fake: MicrosoftGraphFake, status: int | None = None) -> int:
    with fake.lock:
        return sum(
            1
            for r in fake.requests
            if r.method == "POST"
            and r.path.endswith("/events")
            and (status is None or r.status == status)
        )


def app_table(fake: MicrosoftGraphFake, directory: Path) -> str:
    secret = directory / "ms-client-secret"
    secret.write_text(fake.client_secret + "\n", encoding="utf-8")
    return (
        "[providers.microsoft]\n"
        f'client_id = "{fake.client_id}"\n'
        f'client_secret_file = "{secret}"\n'
        f'authority = "{fake.authority}"\n'
        f'graph_endpoint = "{fake.graph_endpoint}"\n'
        f'ca_file = "{fake.ca_file}"\n'
    )


def add_account(fake: MicrosoftGraphFake, directory: Path, app: str) -> dict[str, Any]:
    """``calsync account add microsoft --name outlook`` as a process; the table it prints."""
    (directory / "state").mkdir(exist_ok=True)
    config = directory / "add.toml"
    config.write_text('[store]\nurl = "sqlite:///state/calsync.db"\n' + app, encoding="utf-8")
    browser = directory / "browser"
    browser.write_text(BROWSER_SCRIPT.format(python=sys.executable), encoding="utf-8")
    browser.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    env.update(BROWSER=str(browser), FAKE_GRAPH_CA=str(fake.ca_file), PYTHONPATH=str(REPO_ROOT))
    argv = [sys.executable, "-m", "calsync.cli.main", "--config", str(config)]
    added = subprocess.run(
        [*argv, "account", "add", "microsoft", "--name", "outlook", "--timeout", "20"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    token_file = directory / "state" / "microsoft-outlook.token"
    key_file = directory / "state" / "calsync-vault-key"
    assert f"encrypted refresh token written to {token_file}" in added.stderr
    assert fake.authority in added.stderr  # the sign-in URL, for headless machines
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    keys = secrets_vault.load_keys(key_file.read_text(encoding="ascii"))
    stored = token_file.read_text(encoding="ascii").strip()
    assert secrets_vault.TokenVault(keys).decrypt(stored) in fake.refresh_tokens
    authorize = next(r for r in fake.requests if r.path.endswith("/oauth2/v2.0/authorize"))
    assert authorize.query["code_challenge_method"] == "S256"
    assert "offline_access" in authorize.query["scope"].split()
    [table] = tomllib.loads(added.stdout)["accounts"]
    assert "client_id" not in table, "inherited from [providers.microsoft]"
    return dict(table)


@pytest.fixture
def fake() -> Iterator[MicrosoftGraphFake]:
    with MicrosoftGraphFake() as started:
        yield started


@pytest.fixture
def world(fake: MicrosoftGraphFake, tmp_path: Path) -> Iterator[DaemonWorld]:
    app = app_table(fake, tmp_path)
    account = add_account(fake, tmp_path, app)
    with running_daemon(tmp_path, account, extra=app) as running:
        yield running


def test_an_added_account_syncs_both_ways_and_a_lost_reply_lands_once(
    fake: MicrosoftGraphFake, world: DaemonWorld
) -> None:
    for n in range(2):
        fake.put_event(fake.default_calendar_id, event_body(f"M{n}", SOON + timedelta(days=n)))
    world.wait_for_summaries(["M0", "M1"])
    [m1] = [e for e in world.read() if e["summary"] == "M1"]
    assert m1["start"] == iso(SOON + timedelta(days=1))

    # The create is processed by "Graph", but its reply never reaches the daemon.
    fake.on_next_request("POST", "/events", lambda: fake.lose_next_responses(1))
    calendar_id = world.provider_calendar_id("microsoft")
    world.upsert(
        calendar_id,
        "standup",
        summary="Standup",
        start=iso(SOON),
        end=iso(SOON + timedelta(hours=1)),
    )
    world.wait(lambda: "Standup" in graph_summaries(fake), "the upsert to reach the fake")
    world.wait_for_summaries(["M0", "M1", "Standup"], include_managed=True)
    world.wait_for_passes(2)
    assert creates(fake) >= 2, "the lost create was never retried"
    assert graph_summaries(fake) == ["M0", "M1", "Standup"], "created exactly once"

    world.upsert(
        calendar_id,
        "standup",
        summary="Standup v2",
        start=iso(SOON),
        end=iso(SOON + timedelta(hours=1)),
    )
    world.wait(lambda: "Standup v2" in graph_summaries(fake), "the update to reach the fake")
    response = world.http.request(
        "DELETE",
        f"/v1/calendars/{calendar_id}/events",
        json={"event_id": "standup"},
        headers=world.headers,
    )
    assert response.status_code == 202, response.text
    world.wait(lambda: graph_summaries(fake) == ["M0", "M1"], "the deletion to reach the fake")
    world.wait_for_summaries(["M0", "M1"], include_managed=True)
    assert world.terminate() == 0, world.daemon.logs()
    assert "Traceback" not in world.daemon.logs()
    # msal's token cache outlives the process, encrypted with the vault key.
    cache = world.directory / "state" / "microsoft-outlook.cache"
    assert cache.read_text(encoding="ascii").startswith(secrets_vault.CIPHERTEXT_PREFIX)


def test_an_expired_delta_token_and_a_throttle_converge_without_duplicates(
    fake: MicrosoftGraphFake, world: DaemonWorld
) -> None:
    ids = [
        fake.put_event(fake.default_calendar_id, event_body(f"M{n}", SOON + timedelta(days=n)))
        for n in range(3)
    ]
    world.wait_for_summaries(["M0", "M1", "M2"])
    with fake.lock:  # one atomic change between two passes
        fake.put_event(fake.default_calendar_id, event_body("M3", SOON + timedelta(days=3)))
        fake.delete_event(ids[0])
        fake.expire_delta_tokens("resyncRequired")
        fake.fail_next(429, retry_after=0.5, path_contains="/delta")
    world.wait_for_summaries(["M1", "M2", "M3"])
    world.wait_for_passes(1)
    assert any(r.status == 410 for r in fake.requests), "no pass met the expired token"
    assert any(r.status == 429 for r in fake.requests)
    assert world.summaries() == ["M1", "M2", "M3"]
    assert world.terminate() == 0, world.daemon.logs()


def test_a_revoked_grant_shows_the_profile_disconnected(
    fake: MicrosoftGraphFake, world: DaemonWorld
) -> None:
    world.wait(lambda: world.passes_ok() >= 1, "the first pass")
    fake.revoke_refresh_tokens(70008)
    fake.expire_access_tokens()

    def disconnected() -> bool:
        response = world.http.get("/v1/profiles", headers=world.headers)
        assert response.status_code == 200, response.text
        return any(not p["profile_connected"] for p in response.json()["profiles"])

    world.wait(disconnected, "the profile to show disconnected")
    # The profile row commits before the pass logs why: wait for the line as well.
    world.wait(lambda: "AADSTS70008" in world.daemon.logs(), "the AADSTS code in the log")
    assert world.terminate() == 0, world.daemon.logs()


def test_a_subscription_brings_graph_changes_at_once(
    fake: MicrosoftGraphFake, tmp_path: Path
) -> None:
    # A day between scheduled passes: whatever arrives after the first one came by push.
    app = app_table(fake, tmp_path)
    account = add_account(fake, tmp_path, app)
    extra = app + "[notify]\nallow_private_callbacks = true\n"
    with running_daemon(tmp_path, account, interval="1d", extra=extra) as world:
        world.wait(lambda: world.passes_ok() >= 1, "the first pass")
        world.wait(lambda: len(fake.subscriptions) == 1, "a subscription on the synced calendar")
        (subscription,) = fake.subscriptions.values()
        assert subscription.calendar_id == fake.default_calendar_id
        assert subscription.notification_url.startswith(f"{world.base_url}/push/microsoft?")
        validations = [d for d in fake.deliveries if "validationToken" in d.body]
        assert validations and all(d.status == 200 for d in validations)

        fake.put_event(fake.default_calendar_id, event_body("Pushed", SOON))
        world.wait_for_summaries(["Pushed"])
        assert world.passes_ok() == 1, "the notification brought it, not a scheduled pass"

        # A change whose notification Graph dropped, then a lifecycle "missed": that
        # syncs the calendar at once too.
        with fake.lock:
            subscription.paused = True
        fake.put_event(fake.default_calendar_id, event_body("Missed", SOON + timedelta(days=1)))
        fake.send_lifecycle_event(subscription.id, "missed")
        world.wait_for_summaries(["Missed", "Pushed"])
        assert world.passes_ok() == 1

        # Forgeries are refused without saying why; the genuine one is taken.
        [channel] = parse_qs(urlsplit(subscription.notification_url).query)["channel"]
        url = f"/push/microsoft?channel={channel}"
        item = {
            "subscriptionId": subscription.id,
            "clientState": subscription.client_state,
            "changeType": "updated",
            "resource": "Users/x/Events/y",
        }
        for forged in (
            {**item, "clientState": "guessed"},
            {**item, "subscriptionId": "00000000-0000-0000-0000-000000000000"},
            {k: v for k, v in item.items() if k != "clientState"},
        ):
            assert world.http.post(url, json={"value": [forged]}).status_code == 404, forged
        unknown = "/push/microsoft?channel=calsync-unknown&validationToken=hello"
        assert world.http.post(unknown).status_code == 404
        assert world.http.post(url, json={"value": [item]}).status_code == 202

        # "subscriptionRemoved": the channel is forgotten (the renewal job opens a new one).
        fake.send_lifecycle_event(subscription.id, "subscriptionRemoved")
        world.wait(
            lambda: world.http.post(url, json={"value": [item]}).status_code == 404,
            "the removed subscription's channel to be forgotten",
        )
        assert world.terminate() == 0, world.daemon.logs()


def test_a_restarted_daemon_places_a_removed_occurrence_from_the_cursor(
    fake: MicrosoftGraphFake, tmp_path: Path
) -> None:
    """The series membership of occurrence ids lives in the stored cursor, not in the
    process: after a restart, an occurrence's ``@removed`` is placed (a cancelled
    occurrence of its series) without listing the calendar again."""
    calendar = fake.default_calendar_id
    weeks = [SOON + timedelta(days=7 * n) for n in range(4)]
    recurrence = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [SOON.strftime("%A").lower()],
                    "firstDayOfWeek": "monday"},
        "range": {"type": "numbered", "startDate": SOON.date().isoformat(),
                  "numberOfOccurrences": 4},
    }  # fmt: skip
    master = fake.put_event(calendar, event_body("Weekly", SOON, recurrence=recurrence))
    app = app_table(fake, tmp_path)
    account = add_account(fake, tmp_path, app)

    def starts(world: DaemonWorld) -> list[str]:
        return sorted(e["start"] for e in world.read() if e["summary"] == "Weekly")

    with running_daemon(tmp_path, account, extra=app) as first:
        first.wait(lambda: starts(first) == [iso(w) for w in weeks], "the series")
        assert first.terminate() == 0, first.daemon.logs()
    with fake.lock:
        rounds_started = sum(1 for r in fake.requests if "startDateTime" in r.query)
    [occurrence] = [
        i["id"]
        for i in fake.instances(calendar, weeks[2], weeks[2] + timedelta(hours=1))
        if i.get("seriesMasterId") == master
    ]
    fake.delete_event(occurrence)
    with running_daemon(tmp_path, account, extra=app) as second:
        expected = [iso(w) for n, w in enumerate(weeks) if n != 2]
        second.wait(lambda: starts(second) == expected, "the cancelled occurrence to go")
        second.wait_for_passes(1)
        assert starts(second) == expected
        with fake.lock:
            assert sum(1 for r in fake.requests if "startDateTime" in r.query) == rounds_started, (
                "the restarted daemon listed the calendar again"
            )
        assert second.terminate() == 0, second.daemon.logs()
