"""Delta rounds through the engine, the store and the API against the Graph fake (issue #13).

A restarted daemon places a removed occurrence from the cursor alone (the series
membership travels in it), without a full reconcile.

A cancellation (a removed occurrence, or one an organizer cancelled, which stays
listed with ``isCancelled``) that arrives in the same round as a change of its
series (moved or renamed) must reach the store: the stored series expands to exactly what Graph's
calendar view shows. Rounds started for a slid window list a series' instances in
start order, so an exception of the changed series comes before the occurrences
that carry the master's new etag.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync.providers import _graph_delta
from calsync.sync import SyncEngine
from tests.fakes.graph_testing import event_body, weekly
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fixtures.e2e import BOTH_BACKENDS
from tests.fixtures.e2e_microsoft import MicrosoftE2E, microsoft_e2e

__all__ = ["microsoft_e2e"]

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
WEEK = [SOON + timedelta(days=7 * n) for n in range(5)]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def occurrence_at(fake: MicrosoftGraphFake, master: str, start: datetime) -> str:
    [found] = [
        i["id"]
        for i in fake.instances(fake.default_calendar_id, start, start + timedelta(hours=1))
        if i.get("seriesMasterId") == master and i["originalStart"] == iso(start)
    ]
    return str(found)


def full_round_requests(fake: MicrosoftGraphFake) -> int:
    """Delta requests that start a round (a full listing of the window)."""
    with fake.lock:
        return sum(1 for r in fake.requests if "startDateTime" in r.query)


def graph_view(fake: MicrosoftGraphFake) -> list[tuple[str, str]]:
    """What Graph's calendar view shows, less the meetings it marks cancelled."""
    low, high = WEEK[0] - timedelta(days=1), WEEK[-1] + timedelta(days=1)
    return sorted(
        (i["start"]["dateTime"][:19] + "Z", str(i["subject"]))
        for i in fake.instances(fake.default_calendar_id, low, high)
        if not i.get("isCancelled")
    )


@pytest.mark.parametrize(
    "steps",
    [
        "reshape cancel",
        "rename cancel",
        "slide reshape except cancel",
        "slide except rename cancel",
        "slide reshape cancel except",
        "rename organizer-cancels",
        "reshape organizer-cancels",
        "slide except rename organizer-cancels",
    ],
)
def test_a_cancellation_in_the_round_of_its_series_change_reaches_the_store(
    microsoft_e2e: MicrosoftE2E, steps: str
) -> None:
    e2e, fake = microsoft_e2e
    calendar = fake.default_calendar_id
    master = fake.put_event(calendar, event_body("Weekly", SOON, recurrence=weekly(SOON, 5)))
    e2e.sync_ok()
    shift = timedelta()
    for step in steps.split():
        if step == "slide":  # the next pass starts a round for a window two days on
            e2e.clock.advance_to(e2e.clock() + timedelta(days=2))
        elif step == "reshape":
            shift = timedelta(hours=1)
            times = event_body("", SOON + shift)
            fake.patch_event(master, {"start": times["start"], "end": times["end"]})
        elif step == "rename":
            fake.patch_event(master, {"subject": "Renamed"})
        elif step == "except":
            fake.patch_event(occurrence_at(fake, master, WEEK[0] + shift), {"subject": "Moved"})
        elif step == "organizer-cancels":  # the occurrence stays, isCancelled
            fake.cancel_for_attendee(occurrence_at(fake, master, WEEK[2] + shift))
        else:
            fake.delete_event(occurrence_at(fake, master, WEEK[2] + shift))
    e2e.sync_ok()
    view = graph_view(fake)
    assert iso(WEEK[2] + shift) not in {start for start, _ in view}, "the fake cancelled it"
    assert sorted((e["start"], e["summary"]) for e in e2e.read()) == view


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_a_restarted_daemon_places_a_removed_occurrence_without_a_full_reconcile(
    microsoft_e2e: MicrosoftE2E, monkeypatch: pytest.MonkeyPatch
) -> None:
    e2e, fake = microsoft_e2e
    calendar = fake.default_calendar_id
    master = fake.put_event(calendar, event_body("Weekly", SOON, recurrence=weekly(SOON, 5)))
    fake.put_event(calendar, event_body("Single", SOON + timedelta(hours=3)))
    assert e2e.sync_ok().calendars[0].full_listing
    # A restart: a new engine builds a new provider, and nothing the process kept survives.
    monkeypatch.setattr(_graph_delta, "_memories", {})
    e2e.engine = SyncEngine(e2e.store, e2e.settings, clock=e2e.clock)
    fake.delete_event(occurrence_at(fake, master, WEEK[2]))
    rounds, full_rounds = fake.count("GET", "/calendarView/delta"), full_round_requests(fake)
    report = e2e.sync_ok()
    assert not report.calendars[0].full_listing, "no reconcile"
    assert fake.count("GET", "/calendarView/delta") == rounds + 1
    assert full_round_requests(fake) == full_rounds
    assert sorted(e["start"] for e in e2e.read() if e["summary"] == "Weekly") == [
        iso(w) for n, w in enumerate(WEEK) if n != 2
    ]
    assert [e["summary"] for e in e2e.read() if e["summary"] != "Weekly"] == ["Single"]


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
@pytest.mark.parametrize("code", ["syncStateNotFound", "resyncRequired"])
def test_a_reconcile_keeps_events_that_merely_left_the_window(
    microsoft_e2e: MicrosoftE2E, code: str
) -> None:
    e2e, fake = microsoft_e2e
    calendar = fake.default_calendar_id
    # [sync] window_past_days is 42: these are inside the window now, outside in 4 days.
    past = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=40)
    fake.put_event(calendar, event_body("Leaving", past))
    daily = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": (past - timedelta(days=1)).date().isoformat(),
                  "numberOfOccurrences": 2},
    }  # fmt: skip
    fake.put_event(calendar, event_body("Old series", past - timedelta(days=1), recurrence=daily))
    for n in range(6):
        fake.put_event(calendar, event_body(f"Staying {n}", SOON + timedelta(days=n)))
    doomed = fake.put_event(calendar, event_body("Doomed", SOON + timedelta(hours=3)))
    e2e.sync_ok()
    e2e.clock.advance_to(e2e.clock() + timedelta(days=4))
    assert not e2e.sync_ok().calendars[0].full_listing, "the window slid: a new round"
    fake.delete_event(doomed)
    fake.expire_delta_tokens(code)
    report = e2e.sync_ok()
    assert report.calendars[0].full_listing, "the 410 forced a full reconcile"
    assert report.calendars[0].tombstoned == 1
    live = sorted(e.content.summary for e in e2e.stored())
    assert live == ["Leaving", "Old series", *(f"Staying {n}" for n in range(6))]
    assert [e.content.summary for e in e2e.stored(include_deleted=True) if e.deleted] == ["Doomed"]
