"""A full run as a user would make it, grepped for the secrets its URLs carry.

ICS feeds whose URLs are their own credentials (a Google-style ``private-…``
path segment, a ``?token=`` query, and the issue's own example
``/private-abc/basic.ics?token=SECRET``), a feed that cannot be reached, a
CalDAV account pointed at a server that is not CalDAV, and a webhook channel
whose callback URL carries a token: ``config check``, ``db upgrade``,
``sync --once`` (plain and ``--debug``), ``status``, ``token issue``,
``account list``, then ``calsync --debug run`` with the API answering and the
webhook delivering. Every line of every CLI output and daemon log, and every
page (``/v1/calendars``, ``/v1/events``, ``/v1/channels``, ``/v1/account``,
``/v1/profiles``, the iCal feeds, ``/metrics``, ``/healthz``) must be free of
the secrets. The one exception is the channel's own ``callback_url`` in the
channel objects the API returns to the application that registered it (as
Cronofy does).
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.feeds import FeedServer
from tests.integration.notify_receiver import Receiver, running_receiver
from tests.system.harness import DaemonProcess, free_port, get, wait_for_http, wait_until

pytestmark = pytest.mark.slow

FEED_CAPABILITY = f"private-{secrets.token_hex(16)}"
FEED_TOKEN = f"SeCrEtFeed{secrets.token_hex(6)}"
HOOK_CAPABILITY = secrets.token_urlsafe(18)
HOOK_KEY = f"HooKkey{secrets.token_hex(5)}"
CLIENT_SECRET = f"client-secret-{secrets.token_hex(8)}"
#: The issue's own example: a short capability and a word as the token.
EXAMPLE_SEGMENT = "private-abc"
EXAMPLE_TOKEN = "SECRET"
SECRETS = (FEED_CAPABILITY, FEED_TOKEN, HOOK_CAPABILITY, HOOK_KEY, CLIENT_SECRET)
SHORT_SECRETS = (EXAMPLE_SEGMENT, EXAMPLE_TOKEN)


def feed(name: str | None, *summaries: str) -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//EN"]
    if name:
        head.append(f"X-WR-CALNAME:{name}")
    events = []
    for index, summary in enumerate(summaries, start=1):
        day = (datetime.now(UTC) + timedelta(days=index)).strftime("%Y%m%d")
        events += [
            "BEGIN:VEVENT",
            f"UID:{summary.lower().replace(' ', '-')}@tests",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{day}T100000Z",
            f"DTEND:{day}T110000Z",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    return "\r\n".join([*head, *events, "END:VCALENDAR"]) + "\r\n"


@dataclass
class Transcript:
    """Everything a user or an operator could read during the run."""

    outputs: dict[str, str] = field(default_factory=dict)

    def add(self, what: str, text: str) -> None:
        self.outputs[what] = self.outputs.get(what, "") + text

    def leaks(self) -> list[str]:
        found = []
        for what, text in self.outputs.items():
            for secret in SECRETS:
                if secret in text:
                    found.append(f"{what}: {secret}")
            for secret in SHORT_SECRETS:
                if secret in text:
                    found.append(f"{what}: {secret}")
        return found


def run_cli(transcript: Transcript, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "calsync.cli.main", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
    )
    transcript.add(f"calsync {' '.join(args)}", done.stdout + done.stderr)
    return done


def without_callback_urls(document: Any) -> Any:
    """The API's JSON minus ``callback_url`` inside channel objects (the registrant's own)."""
    if isinstance(document, dict):
        return {
            k: without_callback_urls(v)
            for k, v in document.items()
            if not (k == "callback_url" and "channel_id" in document)
        }
    if isinstance(document, list):
        return [without_callback_urls(item) for item in document]
    return document


def page(transcript: Transcript, response: httpx.Response, what: str) -> httpx.Response:
    assert response.status_code < 400, f"{what}: {response.status_code} {response.text}"
    text = response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        text = json.dumps(without_callback_urls(response.json()))
    transcript.add(
        f"page {what}", text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    )
    return response


def write_config(tmp_path: Path, feeds: FeedServer, port: int) -> Path:
    closed = free_port()
    (tmp_path / "api-client-secret").write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    team = feeds.url(f"{FEED_CAPABILITY}/team.ics") + f"?token={FEED_TOKEN}"
    example = feeds.url(f"{EXAMPLE_SEGMENT}/basic.ics") + f"?token={EXAMPLE_TOKEN}"
    unreachable = f"http://127.0.0.1:{closed}/{FEED_CAPABILITY}/team.ics?token={FEED_TOKEN}"
    not_dav = feeds.url(f"{FEED_CAPABILITY}/dav/") + f"?token={FEED_TOKEN}"
    text = f"""
[store]
url = "sqlite:///state/calsync.db"
[api]
listen = "127.0.0.1:{port}"
client_id = "app"
client_secret_file = "api-client-secret"
[notify]
allow_private_callbacks = true
[logging]
level = "info"

[[accounts]]
name = "team"
provider = "ics"
url = "{team}"
interval = "1s"

[[accounts]]
name = "example"
provider = "ics"
url = "{example}"

[[accounts]]
name = "unreachable"
provider = "ics"
url = "{unreachable}"
timeout = "5s"

[[accounts]]
name = "notdav"
provider = "caldav"
url = "{not_dav}"
timeout = "5s"
"""
    config = tmp_path / "calsync.toml"
    config.write_text(text, encoding="utf-8")
    return config


def test_no_secret_in_any_log_page_or_output(tmp_path: Path, feed_server: FeedServer) -> None:
    for folder in (FEED_CAPABILITY, EXAMPLE_SEGMENT, f"{FEED_CAPABILITY}/dav"):
        (feed_server.root / folder).mkdir(parents=True)
    feed_server.write(f"{FEED_CAPABILITY}/team.ics", feed("Team calendar", "Kick-off"))
    feed_server.write(f"{EXAMPLE_SEGMENT}/basic.ics", feed(None, "Holiday"))
    port = free_port()
    config = write_config(tmp_path, feed_server, port)
    transcript = Transcript()

    check = run_cli(transcript, config, "config", "check")
    assert check.returncode == 0, check.stderr
    assert "/***/team.ics?token=***" in check.stdout  # the URL is still shown, redacted
    assert run_cli(transcript, config, "db", "upgrade").returncode == 0
    once = run_cli(transcript, config, "sync", "--once")
    assert once.returncode == 1, once.stdout + once.stderr
    assert "team: ok, 1 calendar(s), 1 upserted" in once.stdout
    assert "example: ok" in once.stdout
    assert "unreachable/" in once.stderr and "connection refused" in once.stderr
    assert "notdav: CalDAV principal discovery at" in once.stderr
    debug_once = run_cli(transcript, config, "--debug", "sync", "--once")
    assert debug_once.returncode == 1
    status = run_cli(transcript, config, "status")
    assert status.returncode == 0, status.stderr
    # Named from X-WR-CALNAME, else from the host and the last path segment.
    assert "Team calendar" in status.stdout
    assert f"127.0.0.1:{feed_server.port}/basic.ics" in status.stdout
    assert run_cli(transcript, config, "account", "list").returncode == 0
    tokens = {}
    for account in ("team", "example", "unreachable", "notdav"):
        issued = run_cli(transcript, config, "token", "issue", "--account", account)
        assert issued.returncode == 0, issued.stderr
        tokens[account] = issued.stdout.split()[-1]

    with running_receiver() as receiver:
        callback = f"{receiver.url}/{HOOK_CAPABILITY}?key={HOOK_KEY}"
        daemon = DaemonProcess(config, cwd=tmp_path, global_args=["--debug"])
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/healthz", daemon)
            daemon.wait_for_log("account 'team': sync finished (ok)")
            daemon.wait_for_log("account 'notdav': sync finished (failed)")
            drive_the_api(transcript, base, tokens, callback, receiver, feed_server, daemon)
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0, daemon.logs()
        finally:
            daemon.stop()
            transcript.add("daemon log (--debug)", daemon.logs())
    assert " DEBUG " in transcript.outputs["daemon log (--debug)"]
    after = run_cli(transcript, config, "status")
    assert "Team calendar" in after.stdout

    assert transcript.leaks() == []


def drive_the_api(
    transcript: Transcript,
    base: str,
    tokens: dict[str, str],
    callback: str,
    receiver: Receiver,
    feeds: FeedServer,
    daemon: DaemonProcess,
) -> None:
    def authorized(account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[account]}"}

    created = httpx.post(
        f"{base}/v1/channels",
        json={"callback_url": callback},
        headers=authorized("team"),
        timeout=30,
        trust_env=False,
    )
    page(transcript, created, "POST /v1/channels")
    assert receiver.wait_for(lambda got: len(got) >= 1, 30), "no verification delivered"
    # A change in the feed: synced within a second or two, then notified.
    feeds.write(f"{FEED_CAPABILITY}/team.ics", feed("Team calendar", "Kick-off", "Retro"))
    assert receiver.wait_for(lambda got: len(got) >= 2, 30), "no change notification delivered"
    wait_until(
        lambda: "Retro" in get(f"{base}/v1/events?tzid=Etc/UTC", headers=authorized("team")).text,
        30,
        "the new event in the API",
    )

    for account in tokens:
        listed = page(
            transcript,
            get(f"{base}/v1/calendars", headers=authorized(account)),
            f"/v1/calendars {account}",
        )
        for calendar in listed.json()["calendars"]:
            page(transcript, get(calendar["ical_url"]), f"ical {calendar['calendar_id']}")
        for path in ("/v1/events?tzid=Etc/UTC", "/v1/account", "/v1/profiles", "/v1/channels"):
            page(transcript, get(f"{base}{path}", headers=authorized(account)), f"{path} {account}")
    calendars = get(f"{base}/v1/calendars", headers=authorized("team")).json()["calendars"]
    assert [c["calendar_name"] for c in calendars] == ["Team calendar"]
    errors = [
        c["sync"]["last_error"]
        for c in get(f"{base}/v1/calendars", headers=authorized("unreachable")).json()["calendars"]
    ]
    assert errors and "connection refused" in errors[0] and "/***/team.ics?token=***" in errors[0]
    page(transcript, get(f"{base}/healthz"), "/healthz")
    metrics = get(f"{base}/metrics", headers={"Authorization": f"Bearer {CLIENT_SECRET}"})
    page(transcript, metrics, "/metrics")
    assert "calsync_calendar_sync_error" in metrics.text
    assert daemon.proc.poll() is None
