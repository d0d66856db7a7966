"""The sync engine against the in-memory provider and a real store (SQLite and PostgreSQL).

Covers: first sync and echo suppression, cursor-expiry reconcile, conflicts under
both policies, the mass-delete guard, empty and partial listings, backoff with
``retry_after``, 401 -> disconnected, pending pushes surviving provider faults,
lost write responses, read-only providers and rediscovery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

import pytest

from calsync.config import Settings
from calsync.errors import CredentialsInvalid, RateLimited
from calsync.model import EventContent, RemoteCalendar, RemoteEvent
from calsync.providers import registry
from calsync.providers.base import Capabilities, Provider
from calsync.providers.memory import MemoryBackend, drop_backend, get_backend
from calsync.store import CalendarRecord, EventRecord, Store
from calsync.sync import PROFILE_DISCONNECTED, AccountSyncReport, Backoff, SyncEngine
from calsync.sync.etags import split_stored
from tests.fixtures.api import make_settings
from tests.fixtures.store import memory_account

BASE = datetime(2026, 6, 1, 9, tzinfo=UTC)


def content(summary: str, day: int = 0) -> EventContent:
    start = BASE + timedelta(days=day)
    return EventContent(summary=summary, start=start, end=start + timedelta(hours=1))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SyncHarness:
    """One account on a fresh memory backend, synced into ``store`` by a `SyncEngine`."""

    def __init__(
        self,
        store: Store,
        *,
        conflict: Literal["remote", "local"] = "remote",
        provider_factory: Any = registry.create,
    ) -> None:
        self.store = store
        self.name = f"acct-{uuid.uuid4().hex[:12]}"
        drop_backend(self.name)
        self.backend: MemoryBackend = get_backend(self.name)
        self.cal_remote_id = self.backend.ensure_calendar("Work")
        self.account = memory_account(self.name, ["Work"], page_size=3, conflict=conflict)
        base: Settings = make_settings(store.backend, "http://127.0.0.1:1", 1)
        self.settings = replace(base, accounts=(self.account,))
        self.clock = Clock()
        self.engine = SyncEngine(
            store, self.settings, provider_factory=provider_factory, clock=self.clock
        )
        self.engine.discover(self.account)  # the calendar exists before the first API write

    def close(self) -> None:
        drop_backend(self.name)

    def sync(self, *, keep_backoff: bool = False, **kwargs: Any) -> AccountSyncReport:
        report = self.engine.sync_account(self.account, **kwargs)
        # Tests drive time themselves; never let a backoff from one step block the next.
        if report.retry_at is not None and not keep_backoff:
            self.clock.now = max(self.clock.now, report.retry_at)
        return report

    def calendar(self) -> CalendarRecord:
        with self.store.read() as uow:
            account = uow.accounts.find_by_name(self.name)
            assert account is not None
            [calendar] = [
                c for c in uow.calendars.list(account.pk) if c.remote_id == self.cal_remote_id
            ]
            return calendar

    @cached_property
    def calendar_pk(self) -> int:
        """The calendar's key (stable; `calendar` re-reads the whole record)."""
        return self.calendar().pk

    def events(self, *, include_deleted: bool = False) -> list[EventRecord]:
        with self.store.read() as uow:
            return uow.events.list_calendar(self.calendar_pk, include_deleted=include_deleted)

    def live_by_summary(self) -> dict[str, EventRecord]:
        return {e.content.summary: e for e in self.events()}

    def remote(self) -> dict[str, RemoteEvent]:
        return self.backend.events(self.cal_remote_id)

    def remote_summaries(self) -> list[str]:
        return sorted(e.content.summary for e in self.remote().values())

    def local_upsert(self, event_id: str, body: EventContent) -> None:
        with self.store.write() as uow:
            uow.events.upsert_managed(self.calendar_pk, event_id, body)

    def local_delete(self, event_id: str) -> None:
        with self.store.write() as uow:
            uow.events.delete_managed(self.calendar_pk, event_id)

    def stored(self, event_id: str) -> EventRecord | None:
        """The app's event ``event_id`` as stored (tombstone included), if any."""
        with self.store.read() as uow:
            return uow.events.get_in_calendar(self.calendar_pk, event_id=event_id)

    def pending(self) -> list[EventRecord]:
        with self.store.read() as uow:
            return uow.events.pending_pushes(calendar_pk=self.calendar_pk)

    def cursor(self) -> str | None:
        with self.store.read() as uow:
            record = uow.cursors.get(self.calendar_pk)
        return None if record is None else record.cursor

    def assert_converged(self) -> None:
        stored = {e.remote_id: e for e in self.events()}
        remote = self.remote()
        assert set(stored) == set(remote)
        for remote_id, event in remote.items():
            assert stored[remote_id].fingerprint == event.content.fingerprint()
        assert self.pending() == []


@pytest.fixture
def harness(store: Store) -> Iterator[SyncHarness]:
    h = SyncHarness(store)
    yield h
    h.close()


def test_first_sync_imports_and_a_pushed_event_comes_back_as_an_echo(
    harness: SyncHarness,
) -> None:
    for day in range(5):
        harness.backend.remote_upsert(harness.cal_remote_id, content(f"remote {day}", day))
    report = harness.sync()
    assert report.ok, report.describe_failures()
    assert report.calendars[0].full_listing and report.calendars[0].upserted == 5
    harness.assert_converged()

    harness.local_upsert("app-1", content("mine"))
    assert harness.sync().calendars[0].pushed == 1
    again = harness.sync()
    assert again.calendars[0].upserted == 0  # the echo changed nothing
    assert harness.backend.stats.creates == 1
    mine = harness.live_by_summary()["mine"]
    assert mine.managed and mine.event_id == "app-1" and mine.remote_id is not None
    assert len(harness.events()) == 6
    harness.assert_converged()


def test_a_pushed_event_deleted_remotely_before_its_echo_is_tombstoned(
    harness: SyncHarness,
) -> None:
    # Incremental pulls may omit an event created *and* deleted since the cursor.
    harness.backend.remote_upsert(harness.cal_remote_id, content("stays"))
    assert harness.sync().ok
    harness.local_upsert("app-1", content("short-lived"))
    assert harness.sync().calendars[0].pushed == 1
    pushed = harness.live_by_summary()["short-lived"]
    assert pushed.remote_id is not None
    assert split_stored(pushed.etag)[1] is False  # unconfirmed until its echo is pulled
    harness.backend.remote_delete(harness.cal_remote_id, pushed.remote_id)
    assert harness.sync().ok
    assert list(harness.live_by_summary()) == ["stays"]
    harness.assert_converged()


def test_cursor_expiry_reconciles_keeping_pending_pushes_and_metadata(
    harness: SyncHarness,
) -> None:
    ids = [
        harness.backend.remote_upsert(harness.cal_remote_id, content(f"r{i}", i)).remote_id
        for i in range(5)
    ]
    assert harness.sync().ok
    with harness.store.write() as uow:
        uow.calendars.update(harness.calendar().pk, metadata={"team": "blue"})
    harness.backend.remote_delete(harness.cal_remote_id, ids[0])
    harness.backend.remote_upsert(harness.cal_remote_id, content("added later", 9))
    harness.backend.expire_cursors()
    harness.local_upsert("pending-1", content("not pushed yet"))
    harness.backend.fail_next_writes(1)  # the push fails: it must stay pending

    report = harness.sync()
    assert report.calendars[0].full_listing
    summaries = set(harness.live_by_summary())
    assert summaries == {"r1", "r2", "r3", "r4", "added later", "not pushed yet"}
    assert [p.event_id for p in harness.pending()] == ["pending-1"]
    assert harness.calendar().metadata == {"team": "blue"}

    assert harness.sync().ok
    harness.assert_converged()
    assert "not pushed yet" in harness.remote_summaries()


@pytest.mark.parametrize("conflict", ["remote", "local"])
def test_conflicts_follow_the_account_policy_and_keep_the_loser(
    store: Store, conflict: Literal["remote", "local"]
) -> None:
    h = SyncHarness(store, conflict=conflict)
    try:
        h.local_upsert("app-1", content("original"))
        assert h.sync().ok
        [stored] = h.events()
        assert stored.remote_id is not None
        h.local_upsert("app-1", content("edited here"))
        h.backend.remote_upsert(
            h.cal_remote_id, content("edited there"), remote_id=stored.remote_id
        )

        report = h.sync()
        assert report.ok and report.calendars[0].conflicts == 1
        winner = "edited there" if conflict == "remote" else "edited here"
        assert h.remote_summaries() == [winner]
        assert [e.content.summary for e in h.events()] == [winner]
        assert h.sync().ok
        h.assert_converged()
        # The losing version is kept in the change log: as the remote write's
        # ``previous`` when remote wins, as a ``conflict`` row when local wins.
        loser = "edited here" if conflict == "remote" else "edited there"
        with store.read() as uow:
            changes = uow.changes.list_since(h.calendar().account_pk)
        kept = [
            (c.op, c.previous.get("summary"))
            for c in changes
            if c.event_uid == stored.event_uid and c.previous
        ]
        expected_op = "updated" if conflict == "remote" else "conflict"
        assert (expected_op, loser) in kept
    finally:
        h.close()


@pytest.mark.parametrize("conflict", ["remote", "local"])
def test_remote_delete_against_local_edit(
    store: Store, conflict: Literal["remote", "local"]
) -> None:
    h = SyncHarness(store, conflict=conflict)
    try:
        h.local_upsert("app-1", content("original"))
        assert h.sync().ok
        assert h.sync().ok  # pulls the echo: the cursor now covers our own create
        [stored] = h.events()
        h.local_upsert("app-1", content("edited here"))
        assert stored.remote_id is not None
        h.backend.remote_delete(h.cal_remote_id, stored.remote_id)
        assert h.sync().ok
        assert h.sync().ok
        h.assert_converged()
        expected = [] if conflict == "remote" else ["edited here"]
        assert h.remote_summaries() == expected
    finally:
        h.close()


def test_mass_delete_guard_aborts_records_the_error_and_can_be_overridden(
    harness: SyncHarness,
) -> None:
    ids = [
        harness.backend.remote_upsert(harness.cal_remote_id, content(f"r{i}", i)).remote_id
        for i in range(6)
    ]
    assert harness.sync().ok
    cursor = harness.cursor()
    for remote_id in ids[:4]:
        harness.backend.remote_delete(harness.cal_remote_id, remote_id)

    report = harness.sync()
    assert not report.ok
    [outcome] = report.failed
    assert outcome.mass_delete_aborted and "would delete 4 of 6" in (outcome.error or "")
    assert "would delete 4 of 6" in (harness.calendar().last_error or "")
    assert len(harness.events()) == 6 and harness.cursor() == cursor
    assert any("would delete" in line for line in report.describe_failures())

    assert harness.sync(allow_mass_delete=True).ok
    assert harness.calendar().last_error is None
    harness.assert_converged()


@pytest.mark.parametrize("mode", ["empty", "partial"])
def test_empty_and_partial_listings_delete_nothing(
    harness: SyncHarness, mode: Literal["empty", "partial"]
) -> None:
    for i in range(3):  # below the guard's minimum: only the listing rules protect it
        harness.backend.remote_upsert(harness.cal_remote_id, content(f"r{i}", i))
    assert harness.sync().ok
    harness.backend.expire_cursors()
    expired = harness.cursor()
    harness.backend.truncate_next_listing(0.34, mode=mode)
    report = harness.sync()
    assert len(harness.events()) == 3
    # Nothing proved complete, so no new cursor: the next pass lists again.
    assert harness.cursor() == expired
    assert report.ok == (mode == "partial")  # an empty "complete" listing is refused
    assert harness.sync().ok
    harness.assert_converged()


def test_rate_limit_backs_off_honouring_retry_after(harness: SyncHarness) -> None:
    harness.backend.remote_upsert(harness.cal_remote_id, content("r"))
    harness.backend.fail_next_pulls(1, lambda: RateLimited("slow down", retry_after=120))
    start = harness.clock.now
    report = harness.sync(keep_backoff=True)
    assert not report.ok and report.retry_at is not None
    assert report.retry_at >= start + timedelta(seconds=120)
    assert "slow down" in (harness.calendar().last_error or "")

    harness.clock.advance(60)
    skipped = harness.sync(keep_backoff=True)
    assert skipped.skipped and not skipped.ok and harness.backend.stats.pulls == 1

    harness.clock.now = report.retry_at
    assert harness.sync().ok
    assert harness.engine.backoff(harness.name).failures == 0
    assert harness.calendar().last_error is None


def test_backoff_is_full_jitter_capped_and_resets() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    top = Backoff(base=2.0, cap=60.0, rng=lambda: 1.0)
    delays = [(top.failure(now) - now).total_seconds() for _ in range(7)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    bottom = Backoff(base=2.0, cap=60.0, rng=lambda: 0.0)
    assert bottom.failure(now) == now and bottom.ready(now)
    assert bottom.failure(now, retry_after=30) == now + timedelta(seconds=30)
    assert not bottom.ready(now + timedelta(seconds=29))
    top.success()
    assert top.failures == 0 and top.ready(now)


def test_invalid_credentials_mark_the_profile_disconnected(harness: SyncHarness) -> None:
    assert harness.sync().ok
    harness.backend.fail_next_pulls(1, CredentialsInvalid("401 from the server"))
    report = harness.sync()
    assert not report.ok and "401" in (report.error or "")
    calendar = harness.calendar()
    with harness.store.read() as uow:
        profile = uow.profiles.get_by_pk(calendar.profile_pk)
        notes = [o for o in uow.outbox.list() if o.kind == PROFILE_DISCONNECTED]
    assert not profile.connected and "401" in (profile.disconnect_reason or "")
    assert [n.payload["profile_id"] for n in notes] == [profile.profile_id]

    # The same credentials are not sent again: no pull reaches the provider.
    pulls = harness.backend.stats.pulls
    for _ in range(3):
        skipped = harness.sync()
        assert skipped.skipped and not skipped.ok
        assert "not retried with the same credentials" in (skipped.error or "")
        assert f"calsync sync --once --account {harness.name}" in (skipped.error or "")
    assert harness.backend.stats.pulls == pulls
    # An app's write is not pushed with them either.
    assert harness.engine.push_calendar(harness.account, calendar).skipped

    # The operator asks for this account (`sync --once --account`): tried, and they work.
    assert harness.sync(retry_refused=True).ok
    with harness.store.read() as uow:
        reconnected = uow.profiles.get_by_pk(calendar.profile_pk)
    assert reconnected.connected and reconnected.refused_credentials is None
    assert harness.sync().ok and harness.backend.stats.pulls > pulls


def test_refused_credentials_are_tried_again_once_they_change(harness: SyncHarness) -> None:
    assert harness.sync().ok
    harness.backend.fail_next_pulls(1, CredentialsInvalid("401 from the server"))
    assert not harness.sync().ok
    pulls = harness.backend.stats.pulls
    assert harness.sync().skipped and harness.backend.stats.pulls == pulls

    # A reload with other credentials (here: any option changes the fingerprint).
    harness.account = replace(harness.account, options={**harness.account.options, "page_size": 4})
    assert harness.sync().ok
    assert harness.backend.stats.pulls > pulls


def test_pending_pushes_survive_failures_and_reach_the_provider_once(
    harness: SyncHarness,
) -> None:
    assert harness.sync().ok
    for i in range(4):
        harness.local_upsert(f"app-{i}", content(f"mine {i}", i))
    harness.backend.fail_next_writes(2)
    harness.backend.lose_next_write_responses(1)
    report = harness.sync()
    assert not report.ok
    assert len(harness.pending()) == 4  # nothing pushed: the first push already failed
    harness.sync()  # the lost response: written remotely, still pending here
    for _ in range(3):
        harness.sync()
    harness.assert_converged()
    origins = [e.origin_event_uid for e in harness.remote().values()]
    assert len(origins) == 4 and len(set(origins)) == 4

    harness.local_delete("app-0")
    assert harness.sync().ok
    assert sorted(harness.remote_summaries()) == ["mine 1", "mine 2", "mine 3"]
    harness.assert_converged()


class _Wrapped:
    """A memory provider with a different face: read-only, or hiding calendars."""

    def __init__(
        self, inner: Provider, *, read_only: bool = False, hidden: Sequence[str] = ()
    ) -> None:
        self._inner = inner
        self._hidden = set(hidden)
        self.capabilities = Capabilities(read_only=read_only)

    def list_calendars(self) -> Sequence[RemoteCalendar]:
        return [c for c in self._inner.list_calendars() if c.name not in self._hidden]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_read_only_providers_are_never_written(store: Store) -> None:
    def factory(name: str, account: str, options: Mapping[str, Any]) -> Provider:
        return _Wrapped(registry.create(name, account, options), read_only=True)

    h = SyncHarness(store, provider_factory=factory)
    try:
        h.backend.remote_upsert(h.cal_remote_id, content("feed item"))
        assert h.sync().ok
        h.local_upsert("app-1", content("cannot go anywhere"))
        assert h.sync().ok
        assert h.backend.stats.creates == 0 and len(h.pending()) == 1
    finally:
        h.close()


def test_rediscovery_adds_new_calendars_and_marks_removed_ones_deleted(store: Store) -> None:
    hidden: list[str] = []

    def factory(name: str, account: str, options: Mapping[str, Any]) -> Provider:
        return _Wrapped(registry.create(name, account, options), hidden=hidden)

    h = SyncHarness(store, provider_factory=factory)
    try:
        assert h.sync().ok
        h.backend.add_calendar("Home")
        h.engine.discover(h.account)
        with store.read() as uow:
            names = {c.name: c for c in uow.calendars.list(h.calendar().account_pk)}
        assert set(names) == {"Work", "Home"} and not names["Home"].deleted

        hidden.append("Home")
        h.engine.discover(h.account)
        with store.read() as uow:
            home = uow.calendars.get_by_pk(names["Home"].pk)
        assert home.deleted
        assert [c.name for c in h.sync().calendars] == ["Work"]
    finally:
        h.close()


class RecordingProgress:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []

    def start(self, total: int | None) -> None:
        self.calls.append(("start", total))

    def advance(self, n: int) -> None:
        self.calls.append(("advance", n))

    def finish(self) -> None:
        self.calls.append(("finish", None))


def test_progress_follows_the_pages_of_a_full_listing(harness: SyncHarness) -> None:
    for i in range(7):  # page_size is 3: three pages
        harness.backend.remote_upsert(harness.cal_remote_id, content(f"r{i}", i))
    progress = RecordingProgress()
    assert harness.sync(progress=progress).ok
    assert progress.calls == [
        ("start", 7),
        ("advance", 3),
        ("advance", 3),
        ("advance", 1),
        ("finish", None),
    ]
