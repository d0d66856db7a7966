"""Issue 6 end to end through the daemon: ``calsync run`` against a real Radicale.

The daemon is a subprocess configured by a TOML file with one caldav account
on a fresh Radicale calendar; the test PUTs resources on Radicale as another
client would, calls the daemon's HTTP API, and reads Radicale back over plain
WebDAV (PROPFIND + GET), independently of calsync's CalDAV client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.e2e import caldav_account, radicale_resources, radicale_summaries
from tests.fixtures.radicale import RadicaleCalendar, vevent_ics
from tests.system.provider_worlds import running_daemon

pytestmark = pytest.mark.slow

SOON = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0)


def ical(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_radicale_and_the_daemon_api_converge_both_ways(
    radicale_calendar: RadicaleCalendar, tmp_path: Path
) -> None:
    with running_daemon(tmp_path, caldav_account(radicale_calendar)) as world:
        radicale_calendar.put(
            "review.ics",
            vevent_ics(
                "review@tests",
                f"SUMMARY:Review\nDTSTART:{ical(SOON)}\nDTEND:{ical(SOON + timedelta(hours=1))}\n"
                f"DTSTAMP:{ical(datetime.now(UTC))}",
            ),
        )
        world.wait_for_summaries(["Review"])
        [review] = world.read()
        assert (review["start"], review["end"]) == (iso(SOON), iso(SOON + timedelta(hours=1)))

        calendar_id = world.provider_calendar_id("caldav")
        lunch = SOON + timedelta(days=1)
        world.upsert(
            calendar_id,
            "lunch",
            summary="Lunch",
            description="from the API",
            start=iso(lunch),
            end=iso(lunch + timedelta(minutes=45)),
        )
        world.wait(
            lambda: radicale_summaries(radicale_calendar) == ["Lunch", "Review"],
            "the upsert to reach Radicale",
        )
        world.wait_for_summaries(["Lunch", "Review"], include_managed=True)
        world.wait_for_passes(2)  # later passes neither duplicate nor drop anything

        assert radicale_summaries(radicale_calendar) == ["Lunch", "Review"]
        [pushed] = [
            component
            for resource in radicale_resources(radicale_calendar).values()
            for component in resource.walk("VEVENT")
            if str(component["SUMMARY"]) == "Lunch"
        ]
        assert pushed.decoded("DTSTART") == lunch
        assert pushed.decoded("DTEND") == lunch + timedelta(minutes=45)
        assert str(pushed["DESCRIPTION"]) == "from the API"
        assert world.summaries(include_managed=True) == ["Lunch", "Review"]

        assert world.terminate() == 0, world.daemon.logs()
        assert "Traceback" not in world.daemon.logs()


def test_an_app_write_reaches_radicale_without_waiting_for_the_interval(
    radicale_calendar: RadicaleCalendar, tmp_path: Path
) -> None:
    # One scheduled pass at start, the next a day later: only the push that the
    # write itself queues can bring the events to Radicale within the test.
    with running_daemon(tmp_path, caldav_account(radicale_calendar), interval="1d") as world:
        calendar_id = world.provider_calendar_id("caldav")
        world.wait(lambda: world.passes_ok() >= 1, "the first pass")
        for n in range(5):  # a burst of writes
            start = SOON + timedelta(days=n)
            world.upsert(
                calendar_id,
                f"burst-{n}",
                summary=f"Burst {n}",
                start=iso(start),
                end=iso(start + timedelta(minutes=30)),
            )
        want = [f"Burst {n}" for n in range(5)]
        world.wait(
            lambda: radicale_summaries(radicale_calendar) == want, "the writes to reach Radicale"
        )
        assert world.passes_ok() == 1, "no scheduled pass did it"
        assert world.terminate() == 0, world.daemon.logs()
        assert "Traceback" not in world.daemon.logs()
