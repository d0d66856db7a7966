"""End to end over Google: the fake Google server, the configured sync engine, the real API.

The account is configured in a TOML file like an operator's (client secret and
refresh token in files); faults are injected on the fake: lost responses,
expired sync tokens (410), 429 with Retry-After, expired access tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.model import EventContent
from calsync.providers import registry
from calsync.providers.base import Provider, WriteResult
from calsync.sync import SyncEngine
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.e2e import BOTH_BACKENDS, GOOGLE_CALENDAR, E2EAccount

GoogleE2E = tuple[E2EAccount, GoogleCalendarFake]
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timed(summary: str, start: datetime, minutes: int = 60) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": iso(start), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": iso(start + timedelta(minutes=minutes)), "timeZone": "Europe/Berlin"},
    }


def live_summaries(fake: GoogleCalendarFake) -> list[str]:
    return sorted(e.get("summary", "") for e in fake.live_events(GOOGLE_CALENDAR))


class BeforeCreate:
    """A provider whose ``create_event`` first runs ``hook`` (to time a fault on the fake).

    Everything else is the real provider the registry builds from the config.
    """

    def __init__(self, inner: Provider, hook: Callable[[], None]) -> None:
        self._inner = inner
        self._hook = hook
        self.capabilities = inner.capabilities

    def create_event(
        self,
        calendar_remote_id: str,
        event_uid: str,
        content: EventContent,
        *,
        master_remote_id: str | None = None,
    ) -> WriteResult:
        self._hook()
        return self._inner.create_event(
            calendar_remote_id, event_uid, content, master_remote_id=master_remote_id
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def with_hook_before_create(e2e: E2EAccount, hook: Callable[[], None]) -> None:
    def factory(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
        return BeforeCreate(registry.create(name, account_name, options), hook)

    e2e.engine = SyncEngine(e2e.store, e2e.settings, provider_factory=factory, clock=e2e.clock)


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_events_on_google_reach_the_api_and_a_cancellation_is_a_deletion(
    google_e2e: GoogleE2E,
) -> None:
    e2e, fake = google_e2e
    ids = [
        fake.put_event(GOOGLE_CALENDAR, timed(f"G{n}", SOON + timedelta(days=n))) for n in range(3)
    ]
    e2e.sync_ok()
    events = e2e.by_summary()
    assert sorted(events) == ["G0", "G1", "G2"]
    assert events["G2"]["start"] == iso(SOON + timedelta(days=2))
    fake.cancel_event(GOOGLE_CALENDAR, ids[0])
    fake.patch_event(GOOGLE_CALENDAR, ids[1], {"summary": "G1 (renamed)"})
    outcome = e2e.sync_ok().calendars[0]
    assert not outcome.full_listing and (outcome.upserted, outcome.tombstoned) == (1, 1)
    assert sorted(e2e.by_summary()) == ["G1 (renamed)", "G2"]
    assert e2e.by_summary(include_deleted=True)["G0"]["deleted"] is True


def test_an_api_upsert_lands_on_google_once_despite_a_lost_insert_response(
    google_e2e: GoogleE2E,
) -> None:
    e2e, fake = google_e2e
    e2e.sync_ok()
    with_hook_before_create(e2e, lambda: fake.lose_next_responses(1))
    e2e.upsert("standup", summary="Standup", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    inserts_before = fake.count("POST", "/events")
    e2e.sync()  # the insert is processed, its reply lost; retried at once or next pass
    e2e.sync_ok()
    e2e.sync_ok()
    assert fake.count("POST", "/events") - inserts_before >= 2, "the insert was not retried"
    assert live_summaries(fake) == ["Standup"]
    assert [e["summary"] for e in e2e.read(include_managed=True)] == ["Standup"]
    assert e2e.pending() == []
    [stored] = e2e.stored()
    assert stored.managed and stored.event_id == "standup"


def test_an_expired_sync_token_mid_life_reconciles_without_duplicates(
    google_e2e: GoogleE2E,
) -> None:
    e2e, fake = google_e2e
    ids = [
        fake.put_event(GOOGLE_CALENDAR, timed(f"G{n}", SOON + timedelta(days=n))) for n in range(4)
    ]
    e2e.sync_ok()
    e2e.upsert("mine", summary="Mine", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    e2e.sync_ok()
    fake.put_event(GOOGLE_CALENDAR, timed("G4", SOON + timedelta(days=4)))
    fake.cancel_event(GOOGLE_CALENDAR, ids[0])
    fake.expire_sync_tokens()

    report = e2e.sync_ok()
    assert report.calendars[0].full_listing, "a 410 should force a full listing"
    assert sorted(e2e.by_summary()) == ["G1", "G2", "G3", "G4"]
    assert list(e2e.by_summary(only_managed=True)) == ["Mine"]
    remote_ids = [e.remote_id for e in e2e.stored()]
    assert len(remote_ids) == len(set(remote_ids)) == 5
    assert live_summaries(fake) == ["G1", "G2", "G3", "G4", "Mine"]


def test_a_rate_limit_backs_the_account_off_until_retry_after(google_e2e: GoogleE2E) -> None:
    e2e, fake = google_e2e
    fake.put_event(GOOGLE_CALENDAR, timed("G0", SOON))
    e2e.sync_ok()
    fake.put_event(GOOGLE_CALENDAR, timed("G1", SOON + timedelta(days=1)))
    fake.fail_next(429, "rateLimitExceeded", retry_after=120)
    before = e2e.clock()
    limited = e2e.sync()
    assert not limited.ok and limited.retry_at is not None
    assert limited.retry_at >= before + timedelta(seconds=120)
    assert "G1" not in e2e.by_summary()
    assert e2e.calendar()["sync"]["last_error"]

    skipped = e2e.sync()
    assert skipped.skipped and skipped.retry_at == limited.retry_at
    e2e.clock.advance_to(limited.retry_at)
    e2e.sync_ok()
    assert sorted(e2e.by_summary()) == ["G0", "G1"]
    assert e2e.calendar()["sync"]["last_error"] is None


def test_an_expired_access_token_is_refreshed_mid_pass(google_e2e: GoogleE2E) -> None:
    e2e, fake = google_e2e
    e2e.sync_ok()
    with_hook_before_create(e2e, fake.expire_access_tokens)
    e2e.upsert("call", summary="Call", start=iso(SOON), end=iso(SOON + timedelta(hours=1)))
    token_requests = fake.count("POST", "/token")
    e2e.sync_ok()
    # The pass reuses the account's token; one refresh after the 401 on the insert.
    assert fake.count("POST", "/token") - token_requests == 1
    assert live_summaries(fake) == ["Call"]
    assert e2e.pending() == []


def test_a_series_with_a_moved_and_a_cancelled_instance_reads_back(google_e2e: GoogleE2E) -> None:
    e2e, fake = google_e2e
    master = fake.put_event(
        GOOGLE_CALENDAR, {**timed("Weekly", SOON), "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"]}
    )
    week = [SOON + timedelta(days=7 * n) for n in range(5)]
    fake.patch_event(
        GOOGLE_CALENDAR,
        f"{master}_{week[1]:%Y%m%dT%H%M%SZ}",
        timed("Weekly (moved)", week[1] + timedelta(hours=2)),
    )
    fake.cancel_event(GOOGLE_CALENDAR, f"{master}_{week[2]:%Y%m%dT%H%M%SZ}")
    e2e.sync_ok()
    occurrences = sorted((e["start"], e["summary"]) for e in e2e.read())
    assert occurrences == [
        (iso(week[0]), "Weekly"),
        (iso(week[1] + timedelta(hours=2)), "Weekly (moved)"),
        (iso(week[3]), "Weekly"),
        (iso(week[4]), "Weekly"),
    ]  # week[2] is cancelled

    # Deleting the series on Google takes its instances along, here too.
    fake.cancel_event(GOOGLE_CALENDAR, master)
    e2e.sync_ok()
    assert e2e.read() == []
    assert e2e.stored() == []
