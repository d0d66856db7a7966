"""End to end over Microsoft Graph: the fake, the configured sync engine, the real API.

The account is configured in a TOML file like an operator's; faults are injected
on the fake: lost responses, expired delta tokens (410), 429 with Retry-After,
expired access tokens and a revoked grant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.graph_testing import event_body
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fixtures.e2e import BOTH_BACKENDS
from tests.fixtures.e2e_microsoft import MicrosoftE2E, graph_sleeps, microsoft_e2e

__all__ = ["microsoft_e2e"]

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_summaries(fake: MicrosoftGraphFake) -> list[str]:
    start, end = SOON - timedelta(days=30), SOON + timedelta(days=120)
    return sorted(str(i["subject"]) for i in fake.instances(fake.default_calendar_id, start, end))


def put(fake: MicrosoftGraphFake, subject: str, start: datetime, **extra: Any) -> str:
    return fake.put_event(
        fake.default_calendar_id, event_body(subject, start, zone="Europe/Berlin", **extra)
    )


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_graph_events_reach_the_api_and_a_deletion_is_a_tombstone(
    microsoft_e2e: MicrosoftE2E,
) -> None:
    e2e, fake = microsoft_e2e
    ids = [put(fake, f"M{n}", SOON + timedelta(days=n)) for n in range(3)]
    e2e.sync_ok()
    events = e2e.by_summary()
    assert sorted(events) == ["M0", "M1", "M2"]
    assert events["M2"]["start"] == iso(SOON + timedelta(days=2))
    fake.delete_event(ids[0])
    fake.patch_event(ids[1], {"subject": "M1 (renamed)"})
    outcome = e2e.sync_ok().calendars[0]
    assert not outcome.full_listing and (outcome.upserted, outcome.tombstoned) == (1, 1)
    assert sorted(e2e.by_summary()) == ["M1 (renamed)", "M2"]
    assert e2e.by_summary(include_deleted=True)["M0"]["deleted"] is True


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_api_writes_reach_graph_and_come_back_as_our_own(microsoft_e2e: MicrosoftE2E) -> None:
    e2e, fake = microsoft_e2e
    e2e.sync_ok()
    e2e.upsert("standup", summary="Standup", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    e2e.sync_ok()
    assert graph_summaries(fake) == ["Standup"]
    [remote_id] = fake.event_ids(fake.default_calendar_id)
    props = fake.extended_properties(remote_id)
    [stored] = e2e.stored()
    assert [p["value"] for p in props] == [stored.event_uid], "marked as ours"
    e2e.upsert("standup", summary="Standup v2", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    e2e.sync_ok()
    e2e.sync_ok()
    assert graph_summaries(fake) == ["Standup v2"]
    assert [e["summary"] for e in e2e.read(include_managed=True)] == ["Standup v2"]
    e2e.delete("standup")
    e2e.sync_ok()
    assert graph_summaries(fake) == []
    assert e2e.pending() == []


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_a_lost_create_answer_lands_on_graph_once(microsoft_e2e: MicrosoftE2E) -> None:
    e2e, fake = microsoft_e2e
    graph_sleeps(e2e)
    e2e.sync_ok()
    e2e.upsert("call", summary="Call", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    # Every try of the POST is processed and its answer dropped.
    fake.lose_next_responses(20, path_contains="/events")
    report = e2e.sync()
    assert not report.ok and e2e.pending()
    fake.lose_next_responses(0, path_contains="/events")
    fake._lost.clear()
    if report.retry_at is not None:
        e2e.clock.advance_to(report.retry_at)
    for _ in range(3):
        e2e.sync_ok()
    assert fake.count("POST", "/events") >= 2, "the create was retried"
    assert graph_summaries(fake) == ["Call"], "a retried create never duplicates"
    assert [e["summary"] for e in e2e.read(include_managed=True)] == ["Call"]
    assert e2e.pending() == []
    [stored] = e2e.stored()
    assert stored.managed and stored.event_id == "call"


@pytest.mark.parametrize("code", ["SyncStateNotFound", "resyncRequired"])
def test_an_expired_delta_token_reconciles_without_duplicates(
    microsoft_e2e: MicrosoftE2E, code: str
) -> None:
    e2e, fake = microsoft_e2e
    ids = [put(fake, f"M{n}", SOON + timedelta(days=n)) for n in range(4)]
    e2e.sync_ok()
    e2e.upsert("mine", summary="Mine", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    e2e.sync_ok()
    put(fake, "M4", SOON + timedelta(days=4))
    fake.delete_event(ids[0])
    fake.expire_delta_tokens(code)

    report = e2e.sync_ok()
    assert report.calendars[0].full_listing, "a 410 forces a full listing"
    assert sorted(e2e.by_summary()) == ["M1", "M2", "M3", "M4"]
    assert list(e2e.by_summary(only_managed=True)) == ["Mine"]
    remote_ids = [e.remote_id for e in e2e.stored()]
    assert len(remote_ids) == len(set(remote_ids)) == 5
    assert graph_summaries(fake) == ["M1", "M2", "M3", "M4", "Mine"]


def test_a_long_rate_limit_backs_the_account_off_until_retry_after(
    microsoft_e2e: MicrosoftE2E,
) -> None:
    e2e, fake = microsoft_e2e
    put(fake, "M0", SOON)
    e2e.sync_ok()
    put(fake, "M1", SOON + timedelta(days=1))
    fake.fail_next(429, retry_after=120, path_contains="/delta")
    before = e2e.clock()
    limited = e2e.sync()
    assert not limited.ok and limited.retry_at is not None
    assert limited.retry_at >= before + timedelta(seconds=120)
    assert "ApplicationThrottled" in (e2e.calendar()["sync"]["last_error"] or "")
    e2e.clock.advance_to(limited.retry_at)
    e2e.sync_ok()
    assert sorted(e2e.by_summary()) == ["M0", "M1"]
    assert e2e.calendar()["sync"]["last_error"] is None


def test_short_fractional_retry_afters_are_waited_out_in_the_pass(
    microsoft_e2e: MicrosoftE2E,
) -> None:
    e2e, fake = microsoft_e2e
    waits: list[float] = []
    graph_sleeps(e2e, waits.append)
    put(fake, "M0", SOON)
    fake.fail_next(429, retry_after=0.25, path_contains="/delta")
    fake.fail_next(503, retry_after=1.5, path_contains="/delta")
    fake.fail_next(504, path_contains="/delta")
    e2e.sync_ok()
    assert waits[:2] == [0.25, 1.5]
    assert len(waits) == 3
    assert sorted(e2e.by_summary()) == ["M0"]


def test_a_400_is_never_retried_and_its_graph_error_is_reported(
    microsoft_e2e: MicrosoftE2E,
) -> None:
    e2e, fake = microsoft_e2e
    e2e.sync_ok()
    fake.fail_next(400, "ErrorInvalidRequest", message="Bad thing.", method="POST")
    e2e.upsert("x", summary="X", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    posts = fake.count("POST", "/events")
    report = e2e.sync()
    assert not report.ok
    assert fake.count("POST", "/events") - posts == 1
    assert "ErrorInvalidRequest: Bad thing." in (e2e.calendar()["sync"]["last_error"] or "")


def test_an_expired_access_token_is_refreshed_once(microsoft_e2e: MicrosoftE2E) -> None:
    e2e, fake = microsoft_e2e
    e2e.sync_ok()
    fake.expire_access_tokens()
    e2e.upsert("call", summary="Call", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    token_requests = fake.count("POST", "/token")
    e2e.sync_ok()
    assert fake.count("POST", "/token") - token_requests == 1
    assert graph_summaries(fake) == ["Call"]


@pytest.mark.parametrize("aadsts", [50173, 70008, 700082])
def test_a_revoked_grant_disconnects_the_profile(microsoft_e2e: MicrosoftE2E, aadsts: int) -> None:
    e2e, fake = microsoft_e2e
    e2e.sync_ok()
    fake.revoke_refresh_tokens(aadsts)
    fake.expire_access_tokens()
    report = e2e.sync()
    assert not report.ok
    with e2e.store.read() as uow:
        account = uow.accounts.find_by_name(e2e.account.name)
        assert account is not None
        [profile] = uow.profiles.list(account.pk)
    assert not profile.connected
    assert f"AADSTS{aadsts}" in " ".join(report.describe_failures())


def test_a_series_with_a_moved_and_a_cancelled_occurrence_reads_back(
    microsoft_e2e: MicrosoftE2E,
) -> None:
    e2e, fake = microsoft_e2e
    recurrence = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [SOON.strftime("%A").lower()],
                    "firstDayOfWeek": "monday"},
        "range": {"type": "numbered", "startDate": SOON.date().isoformat(),
                  "numberOfOccurrences": 5},
    }  # fmt: skip
    master = fake.put_event(
        fake.default_calendar_id, event_body("Weekly", SOON, recurrence=recurrence)
    )
    e2e.sync_ok()
    week = [SOON + timedelta(days=7 * n) for n in range(5)]
    assert sorted(e["start"] for e in e2e.read()) == [iso(w) for w in week]
    occurrences = {
        i["originalStart"]: i["id"]
        for i in fake.instances(fake.default_calendar_id, week[0], week[4] + timedelta(days=1))
    }
    moved = week[1] + timedelta(hours=2)
    fake.patch_event(
        occurrences[iso(week[1])],
        {**event_body("Weekly (moved)", moved), "subject": "Weekly (moved)"},
    )
    fake.delete_event(occurrences[iso(week[2])])
    e2e.sync_ok()
    assert sorted((e["start"], e["summary"]) for e in e2e.read()) == [
        (iso(week[0]), "Weekly"),
        (iso(moved), "Weekly (moved)"),
        (iso(week[3]), "Weekly"),
        (iso(week[4]), "Weekly"),
    ]
    # Moving the whole series rebuilds it on Graph: its exceptions and cancellations go.
    later = [w + timedelta(hours=1) for w in week]
    fake.patch_event(master, {"start": event_body("", later[0])["start"],
                              "end": event_body("", later[0])["end"]})  # fmt: skip
    e2e.sync_ok()
    assert sorted((e["start"], e["summary"]) for e in e2e.read()) == [
        (iso(w), "Weekly") for w in later
    ]
    fake.delete_event(master)
    e2e.sync_ok()
    assert e2e.read() == []


def test_a_first_sync_shows_an_occurrence_cancelled_before_it_as_cancelled(
    microsoft_e2e: MicrosoftE2E,
) -> None:
    e2e, fake = microsoft_e2e
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": SOON.date().isoformat(),
                  "numberOfOccurrences": 4},
    }  # fmt: skip
    fake.put_event(
        fake.default_calendar_id,
        event_body("Daily", SOON, zone="Europe/Berlin", recurrence=recurrence),
    )
    days = [SOON + timedelta(days=n) for n in range(4)]
    [second] = [
        i["id"]
        for i in fake.instances(fake.default_calendar_id, days[0], days[3] + timedelta(days=1))
        if i["originalStart"] == iso(days[1])
    ]
    fake.delete_event(second)
    e2e.sync_ok()
    expected = [iso(days[0]), iso(days[2]), iso(days[3])]
    assert sorted(e["start"] for e in e2e.read()) == expected
    fake.expire_delta_tokens()
    assert e2e.sync_ok().calendars[0].full_listing
    assert sorted(e["start"] for e in e2e.read()) == expected
