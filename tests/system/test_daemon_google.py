"""Issue 6 end to end through the daemon: ``calsync run`` against the Google fake.

The daemon is a subprocess configured by a TOML file whose google account
points ``token_uri`` and ``api_endpoint`` at the fake (client secret and
refresh token in files). Its scheduler syncs every second; the test only
changes the fake, calls the daemon's HTTP API and waits, bounded, for the two
sides to agree. Exactly-once is checked on the fake's own request log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.e2e import GOOGLE_CALENDAR, google_account
from tests.system.provider_worlds import DaemonWorld, running_daemon

pytestmark = pytest.mark.slow

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
#: Matches ``events.insert`` on the fake (its paths are percent-encoded, so no calendar id).
INSERT_PATH = "/events"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timed(summary: str, start: datetime) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": iso(start), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": iso(start + timedelta(hours=1)), "timeZone": "Europe/Berlin"},
    }


def live_summaries(fake: GoogleCalendarFake) -> list[str]:
    return sorted(e.get("summary", "") for e in fake.live_events(GOOGLE_CALENDAR))


def inserts(fake: GoogleCalendarFake, status: int | None = None) -> int:
    """``events.insert`` requests on the fake's log (the id is in the body, not the path)."""
    with fake.lock:
        return sum(
            1
            for r in fake.requests
            if r.method == "POST"
            and r.path.endswith("/events")
            and (status is None or r.status == status)
        )


@pytest.fixture
def fake() -> Iterator[GoogleCalendarFake]:
    with GoogleCalendarFake() as started:
        started.add_calendar("Team", calendar_id=GOOGLE_CALENDAR, primary=True, time_zone="UTC")
        yield started


@pytest.fixture
def world(fake: GoogleCalendarFake, tmp_path: Path) -> Iterator[DaemonWorld]:
    with running_daemon(tmp_path, google_account(fake, tmp_path)) as running:
        yield running


def test_google_events_reach_the_api_and_an_upsert_lands_once_despite_a_lost_reply(
    fake: GoogleCalendarFake, world: DaemonWorld
) -> None:
    for n in range(2):
        fake.put_event(GOOGLE_CALENDAR, timed(f"G{n}", SOON + timedelta(days=n)))
    world.wait_for_summaries(["G0", "G1"])
    [g1] = [e for e in world.read() if e["summary"] == "G1"]
    assert g1["start"] == iso(SOON + timedelta(days=1))

    # The insert is processed by "Google", but its reply never reaches the daemon.
    fake.on_next_request("POST", INSERT_PATH, lambda: fake.lose_next_responses(1))
    calendar_id = world.provider_calendar_id("google")
    world.upsert(
        calendar_id,
        "standup",
        summary="Standup",
        start=iso(SOON),
        end=iso(SOON + timedelta(hours=1)),
    )
    world.wait(lambda: "Standup" in live_summaries(fake), "the upsert to reach the fake")
    world.wait_for_summaries(["G0", "G1", "Standup"], include_managed=True)
    world.wait_for_passes(2)  # later passes must not insert it again

    assert inserts(fake) >= 2, "the lost insert was never retried"
    assert inserts(fake, status=200) == 1, "the event was created more than once"
    assert live_summaries(fake) == ["G0", "G1", "Standup"]
    assert world.summaries(include_managed=True) == ["G0", "G1", "Standup"]
    assert world.terminate() == 0, world.daemon.logs()
    assert "Traceback" not in world.daemon.logs()


def test_an_expired_sync_token_mid_life_converges_without_duplicates(
    fake: GoogleCalendarFake, world: DaemonWorld
) -> None:
    ids = [
        fake.put_event(GOOGLE_CALENDAR, timed(f"G{n}", SOON + timedelta(days=n))) for n in range(3)
    ]
    world.wait_for_summaries(["G0", "G1", "G2"])
    calendar_id = world.provider_calendar_id("google")
    world.upsert(
        calendar_id, "mine", summary="Mine", start=iso(SOON), end=iso(SOON + timedelta(hours=1))
    )
    world.wait(lambda: "Mine" in live_summaries(fake), "the upsert to reach the fake")
    world.wait_for_passes(1)  # a pass that stored a sync token after the push

    with fake.lock:  # one atomic change between two passes
        fake.put_event(GOOGLE_CALENDAR, timed("G3", SOON + timedelta(days=3)))
        fake.cancel_event(GOOGLE_CALENDAR, ids[0])
        fake.expire_sync_tokens()
    world.wait_for_summaries(["G1", "G2", "G3", "Mine"], include_managed=True)
    world.wait_for_passes(2)

    assert any(r.status == 410 for r in fake.requests), "no pass met the expired sync token"
    assert world.summaries(include_managed=True) == ["G1", "G2", "G3", "Mine"]
    assert live_summaries(fake) == ["G1", "G2", "G3", "Mine"]
    assert inserts(fake, status=200) == 1
    assert world.terminate() == 0, world.daemon.logs()


def test_a_rate_limit_holds_back_scheduled_passes_and_app_writes_alike(
    fake: GoogleCalendarFake, world: DaemonWorld
) -> None:
    fake.put_event(GOOGLE_CALENDAR, timed("G0", SOON))
    world.wait_for_summaries(["G0"])
    calendar_id = world.provider_calendar_id("google")

    # An hour's Retry-After: whatever the machine's speed, the test ends inside it.
    fake.fail_next(429, "rateLimitExceeded", retry_after=3600)
    world.wait(lambda: any(r.status == 429 for r in fake.requests), "a pass to meet the 429")
    world.daemon.wait_for_log("account 'gmail' backs off: next sync at")
    with fake.lock:
        quiet_from = len(fake.requests)
    world.upsert(
        calendar_id, "mine", summary="Mine", start=iso(SOON), end=iso(SOON + timedelta(hours=1))
    )
    world.daemon.wait_for_log(f"local push of calendar {calendar_id} skipped: backing off")

    with fake.lock:
        since_the_429 = [f"{r.method} {r.path}" for r in fake.requests[quiet_from:]]
    assert since_the_429 == [], "nothing reached Google during the backoff"
    assert world.summaries(include_managed=True) == ["G0", "Mine"], "the write is kept"
    assert "sync finished (failed)" in world.daemon.logs()
    assert world.terminate() == 0, world.daemon.logs()


def test_watch_channels_open_right_after_the_first_sync(
    fake: GoogleCalendarFake, tmp_path: Path
) -> None:
    # A fresh install: the renewal job's first run (at start) finds no calendar
    # yet, and its next run is 5 minutes away. The pass that first syncs the
    # calendar opens its channel; a remote change then arrives by push, long
    # before the next scheduled pass (a day away).
    with running_daemon(
        tmp_path,
        google_account(fake, tmp_path),
        interval="1d",
        extra="[notify]\nallow_private_callbacks = true",
    ) as world:
        world.wait(lambda: world.passes_ok() >= 1, "the first pass")
        world.wait(lambda: len(fake.channels) == 1, "a watch channel on the synced calendar")
        (channel,) = fake.channels.values()
        assert channel.calendar_id == GOOGLE_CALENDAR
        assert channel.address == f"{world.base_url}/push/google"
        fake.put_event(GOOGLE_CALENDAR, timed("Pushed", SOON))
        world.wait_for_summaries(["Pushed"])
        assert world.passes_ok() == 1, "the push brought it, not a scheduled pass"
        assert world.terminate() == 0, world.daemon.logs()
