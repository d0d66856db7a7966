"""End to end over CalDAV: a real Radicale, the configured sync engine, the real API.

Each test configures a ``caldav`` account in a TOML file, runs
``SyncEngine.sync_account`` (what the daemon schedules) and reads back through
``GET /v1/events`` with a token issued for that account; changes made through
the API are checked on Radicale with plain HTTP, independently of the provider.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.e2e import (
    BOTH_BACKENDS,
    E2EAccount,
    caldav_account,
    open_account,
    radicale_resources,
    radicale_summaries,
)
from tests.fixtures.radicale import RadicaleCalendar, vevent_ics

#: Three days ahead at 15:00 UTC: inside the API's default read window.
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timed_ics(uid: str, summary: str, start: datetime, minutes: int = 60) -> str:
    end = start + timedelta(minutes=minutes)
    return vevent_ics(
        uid,
        f"DTSTAMP:20260101T000000Z\nDTSTART:{stamp(start)}\nDTEND:{stamp(end)}\nSUMMARY:{summary}",
    )


def put_timed(calendar: RadicaleCalendar, name: str, summary: str, day: int = 0) -> str:
    return calendar.put(
        f"{name}.ics", timed_ics(f"{name}@e2e", summary, SOON + timedelta(days=day))
    )


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_initial_then_incremental_sync_and_a_deletion_reach_the_api(
    caldav_e2e: E2EAccount, radicale_calendar: RadicaleCalendar
) -> None:
    for n in range(3):
        put_timed(radicale_calendar, f"e{n}", f"Event {n}", day=n)
    first = caldav_e2e.sync_ok()
    assert first.calendars[0].full_listing and first.calendars[0].upserted == 3
    events = caldav_e2e.by_summary()
    assert sorted(events) == ["Event 0", "Event 1", "Event 2"]
    assert events["Event 1"]["start"] == iso(SOON + timedelta(days=1))
    assert events["Event 1"]["end"] == iso(SOON + timedelta(days=1, hours=1))
    assert {e["calendar_id"] for e in events.values()} == {caldav_e2e.calendar_id}
    assert caldav_e2e.calendar()["sync"]["last_error"] is None

    put_timed(radicale_calendar, "e3", "Event 3", day=3)
    put_timed(radicale_calendar, "e1", "Event 1 (renamed)", day=1)
    radicale_calendar.delete("e0.ics")
    second = caldav_e2e.sync_ok()
    outcome = second.calendars[0]
    assert not outcome.full_listing, "the stored sync token should have been used"
    assert (outcome.upserted, outcome.tombstoned) == (2, 1)
    assert sorted(caldav_e2e.by_summary()) == ["Event 1 (renamed)", "Event 2", "Event 3"]
    with_deleted = caldav_e2e.by_summary(include_deleted=True)
    assert with_deleted["Event 0"]["deleted"] is True
    assert not any(e["deleted"] for name, e in with_deleted.items() if name != "Event 0")


def test_an_expired_sync_token_reconciles_without_loss_or_duplicates(
    caldav_e2e: E2EAccount, radicale_calendar: RadicaleCalendar
) -> None:
    for n in range(4):
        put_timed(radicale_calendar, f"e{n}", f"Event {n}", day=n)
    caldav_e2e.sync_ok()
    caldav_e2e.upsert(
        "mine",
        summary="Managed",
        start=iso(SOON + timedelta(hours=3)),
        end=iso(SOON + timedelta(hours=4)),
    )
    caldav_e2e.sync_ok()  # pushed; its echo comes back with the next pull
    caldav_e2e.sync_ok()
    put_timed(radicale_calendar, "e4", "Event 4", day=4)
    radicale_calendar.delete("e0.ics")
    radicale_calendar.drop_sync_tokens()

    report = caldav_e2e.sync_ok()
    assert report.calendars[0].full_listing, "the dropped token should force a full listing"
    assert sorted(caldav_e2e.by_summary()) == ["Event 1", "Event 2", "Event 3", "Event 4"]
    managed = caldav_e2e.by_summary(only_managed=True)
    assert list(managed) == ["Managed"] and managed["Managed"]["event_id"] == "mine"
    stored = caldav_e2e.stored()
    remote_ids = [e.remote_id for e in stored]
    assert len(remote_ids) == len(set(remote_ids)) == 5
    assert radicale_summaries(radicale_calendar) == [
        "Event 1",
        "Event 2",
        "Event 3",
        "Event 4",
        "Managed",
    ]
    # Converged: another pass changes nothing.
    again = caldav_e2e.sync_ok().calendars[0]
    assert (again.upserted, again.tombstoned, again.pushed) == (0, 0, 0)


def _monday_after(moment: datetime) -> date:
    day = moment.date() + timedelta(days=7)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def series_ics(first: date, *, with_override: bool) -> str:
    """A weekly New York series: the 2nd week excluded, the 3rd moved an hour later."""
    week = [first + timedelta(days=7 * n) for n in range(5)]
    local = "%Y%m%dT090000"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        "BEGIN:VEVENT",
        "UID:standup@e2e",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=America/New_York:{week[0]:{local}}",
        f"DTEND;TZID=America/New_York:{week[0]:%Y%m%dT091500}",
        "RRULE:FREQ=WEEKLY;COUNT=5",
        f"EXDATE;TZID=America/New_York:{week[1]:{local}}",
        "SUMMARY:Standup",
        "END:VEVENT",
    ]
    if with_override:
        lines += [
            "BEGIN:VEVENT",
            "UID:standup@e2e",
            "DTSTAMP:20260101T000000Z",
            f"RECURRENCE-ID;TZID=America/New_York:{week[2]:{local}}",
            f"DTSTART;TZID=America/New_York:{week[2]:%Y%m%dT100000}",
            f"DTEND;TZID=America/New_York:{week[2]:%Y%m%dT101500}",
            "SUMMARY:Standup (late)",
            "END:VEVENT",
        ]
    lines += ["END:VCALENDAR", ""]
    return "\r\n".join(lines)


def _new_york(day: date, hour: int, minute: int = 0) -> str:
    from zoneinfo import ZoneInfo

    local = datetime(
        day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo("America/New_York")
    )
    return iso(local)


def test_recurrence_exdate_override_all_day_and_time_zones(
    caldav_e2e: E2EAccount, radicale_calendar: RadicaleCalendar
) -> None:
    first = _monday_after(SOON)
    week = [first + timedelta(days=7 * n) for n in range(5)]
    radicale_calendar.put("standup.ics", series_ics(first, with_override=True))
    offsite = first + timedelta(days=2)
    radicale_calendar.put(
        "offsite.ics",
        vevent_ics(
            "offsite@e2e",
            "DTSTAMP:20260101T000000Z\n"
            f"DTSTART;VALUE=DATE:{offsite:%Y%m%d}\n"
            f"DTEND;VALUE=DATE:{offsite + timedelta(days=2):%Y%m%d}\n"
            "SUMMARY:Offsite",
        ),
    )
    caldav_e2e.sync_ok()

    events = caldav_e2e.read()
    occurrences = sorted((e["start"], e["summary"]) for e in events if e["summary"] != "Offsite")
    assert occurrences == [
        (_new_york(week[0], 9), "Standup"),
        (_new_york(week[2], 10), "Standup (late)"),  # the moved one, moved
        (_new_york(week[3], 9), "Standup"),
        (_new_york(week[4], 9), "Standup"),
    ]  # week[1] is excluded (EXDATE)
    # Every occurrence of the series is recurring, the moved one (an override,
    # which carries no RRULE of its own) included; the all-day event is not.
    assert all(e["recurring"] for e in events if e["summary"].startswith("Standup"))
    assert not any(e["recurring"] for e in events if e["summary"] == "Offsite")
    late = next(e for e in events if e["summary"] == "Standup (late)")
    assert late["end"] == _new_york(week[2], 10, 15)
    [all_day] = [e for e in events if e["summary"] == "Offsite"]
    assert (all_day["start"], all_day["end"]) == (
        offsite.isoformat(),
        (offsite + timedelta(days=2)).isoformat(),
    )

    # Another client removes the override from the resource: the occurrence
    # reverts to the rule (CalDAV sends the resource whole; the override is gone).
    radicale_calendar.put("standup.ics", series_ics(first, with_override=False))
    caldav_e2e.sync_ok()
    starts = sorted(e["start"] for e in caldav_e2e.read() if e["summary"] == "Standup")
    assert starts == [_new_york(w, 9) for w in (week[0], week[2], week[3], week[4])]
    assert not [e for e in caldav_e2e.read() if e["summary"] == "Standup (late)"]

    # Put it back, then delete the whole resource: CalDAV reports the href only,
    # and every stored part of the series goes with it.
    radicale_calendar.put("standup.ics", series_ics(first, with_override=True))
    caldav_e2e.sync_ok()
    assert len([e for e in caldav_e2e.read() if e["summary"].startswith("Standup")]) == 4
    radicale_calendar.delete("standup.ics")
    outcome = caldav_e2e.sync_ok().calendars[0]
    assert outcome.tombstoned == 2  # the master and its override
    assert [e["summary"] for e in caldav_e2e.read()] == ["Offsite"]
    assert [e.content.summary for e in caldav_e2e.stored()] == ["Offsite"]


def test_two_way_create_update_delete_and_remote_edits(
    caldav_e2e: E2EAccount, radicale_calendar: RadicaleCalendar
) -> None:
    put_timed(radicale_calendar, "theirs", "Theirs", day=1)
    put_timed(radicale_calendar, "doomed", "Doomed", day=2)
    caldav_e2e.sync_ok()

    start, end = SOON + timedelta(hours=2), SOON + timedelta(hours=3)
    caldav_e2e.upsert("lunch", summary="Lunch", start=iso(start), end=iso(end), tzid="Europe/Paris")
    assert caldav_e2e.sync_ok().calendars[0].pushed == 1
    [lunch] = [e for e in caldav_e2e.stored() if e.managed]
    resources = radicale_resources(radicale_calendar)
    [vevent] = resources[lunch.remote_id or ""].walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Lunch"
    assert vevent.decoded("DTSTART").astimezone(UTC) == start

    caldav_e2e.upsert(
        "lunch", summary="Late lunch", start=iso(end), end=iso(end + timedelta(hours=1))
    )
    caldav_e2e.sync_ok()
    [vevent] = radicale_resources(radicale_calendar)[lunch.remote_id or ""].walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Late lunch"
    assert vevent.decoded("DTSTART").astimezone(UTC) == end

    # An external event deleted through the API (by event_uid) goes from Radicale too.
    doomed = caldav_e2e.by_summary()["Doomed"]
    response = caldav_e2e.http.request(
        "DELETE",
        f"/v1/calendars/{caldav_e2e.calendar_id}/events",
        json={"event_uid": doomed["event_uid"]},
        headers=caldav_e2e.headers,
    )
    assert response.status_code == 202, response.text
    caldav_e2e.sync_ok()
    assert radicale_summaries(radicale_calendar) == ["Late lunch", "Theirs"]

    # An edit on Radicale shows up in a read from the last `updated` seen.
    seen = max(e["updated"] for e in caldav_e2e.read(include_managed=True, include_deleted=True))
    put_timed(radicale_calendar, "theirs", "Theirs (edited)", day=1)
    caldav_e2e.sync_ok()
    changed = caldav_e2e.read(last_modified=seen, include_managed=True)
    assert "Theirs (edited)" in {e["summary"] for e in changed}
    assert "Theirs" not in {e["summary"] for e in changed}

    caldav_e2e.delete("lunch")
    caldav_e2e.sync_ok()
    assert radicale_summaries(radicale_calendar) == ["Theirs (edited)"]
    assert caldav_e2e.pending() == []


def test_the_mass_delete_guard_keeps_local_data_and_reports_the_error(
    caldav_e2e: E2EAccount, radicale_calendar: RadicaleCalendar
) -> None:
    for n in range(6):
        put_timed(radicale_calendar, f"e{n}", f"Event {n}", day=n)
    caldav_e2e.sync_ok()
    for n in range(1, 6):
        radicale_calendar.delete(f"e{n}.ics")

    report = caldav_e2e.sync()
    assert not report.ok
    [outcome] = report.calendars
    assert outcome.mass_delete_aborted and "max_delete_fraction" in (outcome.error or "")
    assert len(caldav_e2e.read()) == 6, "local data must be kept"
    last_error = caldav_e2e.calendar()["sync"]["last_error"]
    assert last_error is not None and "would delete 5 of 6" in last_error
    assert caldav_e2e.stored_calendar().last_error == last_error

    # The operator confirms: the deletions go through and the error clears.
    confirmed = caldav_e2e.sync(allow_mass_delete=True)
    assert confirmed.ok, confirmed.describe_failures()
    assert [e["summary"] for e in caldav_e2e.read()] == ["Event 0"]
    assert caldav_e2e.calendar()["sync"]["last_error"] is None


def _edit_on_radicale(calendar: RadicaleCalendar, href: str, summary: str) -> None:
    """Another client rewrites the resource's SUMMARY (keeping everything else)."""
    response = calendar.server.request("GET", calendar.server.base_url + href)
    assert response.status_code == 200
    body = response.text
    lines = [
        f"SUMMARY:{summary}" if line.startswith("SUMMARY:") else line for line in body.splitlines()
    ]
    put = calendar.server.request(
        "PUT",
        calendar.server.base_url + href,
        "\r\n".join(lines) + "\r\n",
        {"Content-Type": "text/calendar"},
    )
    assert put.status_code in (201, 204), put.text


@pytest.mark.parametrize("conflict", ["remote", "local"])
def test_a_conflict_is_settled_by_the_account_policy(
    conflict: str, radicale_calendar: RadicaleCalendar, e2e_store_url: str, tmp_path: Path
) -> None:
    options = {} if conflict == "remote" else {"conflict": "local"}  # remote is the default
    with open_account(e2e_store_url, tmp_path, caldav_account(radicale_calendar, **options)) as e2e:
        e2e.sync_ok()
        window = {"start": iso(SOON), "end": iso(SOON + timedelta(hours=1))}
        e2e.upsert("plan", summary="Plan", **window)
        e2e.sync_ok()
        e2e.sync_ok()  # the echo
        [mine] = [e for e in e2e.stored() if e.managed]
        assert mine.remote_id is not None and mine.etag is not None

        e2e.upsert("plan", summary="Plan (ours)", **window)
        _edit_on_radicale(radicale_calendar, mine.remote_id, "Plan (theirs)")
        outcome = e2e.sync_ok().calendars[0]
        assert outcome.conflicts == 1
        winner = "Plan (theirs)" if conflict == "remote" else "Plan (ours)"
        assert [e["summary"] for e in e2e.read(only_managed=True)] == [winner]
        assert radicale_summaries(radicale_calendar) == [winner]
        assert e2e.pending() == []
