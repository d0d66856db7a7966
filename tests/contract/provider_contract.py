"""The contract every provider passes, whatever protocol it speaks.

Subclass `ProviderContract` in a provider's test module and supply the fixtures:

``provider``
    A connected `calsync.providers.base.Provider`.
``remote``
    A `RemoteControl` that edits the same remote out-of-band, the way another
    client of the server would (a direct CalDAV PUT, a rewritten ICS file, the
    fake Google server's store, `MemoryBackend.remote_upsert`).
``writable`` (optional)
    Whether the contract may write through the provider; defaults to
    ``not provider.capabilities.read_only``. Write tests skip when it is False.
``calendar_id`` / ``window`` (optional)
    The calendar under test (default: the first one listed) and the sync window.

The calendar may hold events when a test starts; every test measures against
a full pull it takes first. Override `comparable` when a protocol normalises a
field (say, a zone name) in a way the engine does not care about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.errors import PreconditionFailed
from calsync.ids import new_id
from calsync.model import EventContent, Location, RemoteEvent, round_trip_view
from calsync.providers.base import Provider, PullPage, SyncWindow


class RemoteControl(Protocol):
    """Edits the remote behind the provider's back."""

    def create(self, calendar_remote_id: str, content: EventContent) -> str:
        """Create an event and return the remote id the provider will report for it."""
        ...

    def update(self, calendar_remote_id: str, remote_id: str, content: EventContent) -> None: ...

    def delete(self, calendar_remote_id: str, remote_id: str) -> None: ...


@dataclass
class PullResult:
    """Every page of one pull, merged."""

    pages: list[PullPage]
    changed: dict[str, RemoteEvent] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    @property
    def final(self) -> PullPage:
        return self.pages[-1]

    @property
    def listed_ids(self) -> list[str]:
        return [event.remote_id for page in self.pages for event in page.changed]


def base_time() -> datetime:
    """A whole hour a week ahead: inside any sensible sync window."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(days=7)


def timed_content(summary: str = "Planning", *, offset_hours: int = 1) -> EventContent:
    start = base_time() + timedelta(hours=offset_hours)
    return EventContent(
        summary=summary,
        start=start,
        end=start + timedelta(minutes=90),
        tzid="Europe/Berlin",
        description="Agenda:\nfirst line\nsecond line",
        location=Location(description="Room 4.01"),
    )


def free_tentative_content(summary: str = "Maybe lunch") -> EventContent:
    """Transparency and status round-trip too (they decide free/busy)."""
    return replace(timed_content(summary), transparency="transparent", status="tentative")


def all_day_content(summary: str = "Conference") -> EventContent:
    first: date = base_time().date() + timedelta(days=3)
    return EventContent(summary=summary, start=first, end=first + timedelta(days=2))


def pull_all(
    provider: Provider, calendar_id: str, cursor: str | None, window: SyncWindow
) -> PullResult:
    """Run one pull to the end, checking that the pages are well formed."""
    pages = list(provider.pull(calendar_id, cursor, window))
    assert pages, "a pull yields at least one (final) page"
    for page in pages[:-1]:
        assert not page.final, "only the last page is final"
        assert page.cursor is None, "only the final page carries a cursor"
        assert not page.full_listing, "only the final page may claim a full listing"
    assert pages[-1].final, "the last page is marked final"
    result = PullResult(pages)
    for page in pages:
        for event in page.changed:
            assert isinstance(event.remote_id, str) and event.remote_id
            assert event.etag is None or isinstance(event.etag, str)
            result.changed[event.remote_id] = event
            result.deleted.discard(event.remote_id)
        for remote_id in page.deleted:
            assert isinstance(remote_id, str)
            result.changed.pop(remote_id, None)
            result.deleted.add(remote_id)
    return result


def apply_pull(state: dict[str, RemoteEvent], result: PullResult) -> dict[str, RemoteEvent]:
    """The remote as known after ``result``, the way the engine folds a pull in."""
    if result.final.unchanged:
        return dict(state)
    if result.final.full_listing:
        return dict(result.changed)
    merged = {rid: event for rid, event in state.items() if rid not in result.deleted}
    merged.update(result.changed)
    return merged


def _summaries() -> st.SearchStrategy[str]:
    alphabet = st.characters(whitelist_categories=("L", "N"), max_codepoint=0x24F)
    return st.text(alphabet, min_size=1, max_size=20)


@st.composite
def simple_contents(draw: st.DrawFn) -> EventContent:
    """Timed single events every protocol can carry without loss."""
    start = base_time() + timedelta(minutes=15 * draw(st.integers(0, 4 * 24 * 30)))
    return EventContent(
        summary=draw(_summaries()),
        start=start,
        end=start + timedelta(minutes=15 * draw(st.integers(1, 16))),
        tzid="Etc/UTC",
        description=draw(st.sampled_from(["", "notes", "two\nlines"])),
    )


#: One out-of-band edit, or an incremental pull.
remote_ops = st.lists(
    st.one_of(
        st.tuples(st.just("create"), simple_contents()),
        st.tuples(st.just("update"), st.integers(0, 1000), simple_contents()),
        st.tuples(st.just("delete"), st.integers(0, 1000)),
        st.tuples(st.just("pull")),
    ),
    max_size=12,
)


class ProviderContract:
    """Generic tests; a provider's test class subclasses this and supplies fixtures."""

    #: Examples for the randomised remote-edit test; slow servers lower it.
    remote_edit_examples = 25

    # -- fixtures the subclass supplies -----------------------------------

    @pytest.fixture
    def provider(self) -> Provider:
        raise NotImplementedError("a ProviderContract subclass must define the `provider` fixture")

    @pytest.fixture
    def remote(self) -> RemoteControl:
        raise NotImplementedError("a ProviderContract subclass must define the `remote` fixture")

    @pytest.fixture
    def writable(self, provider: Provider) -> bool:
        return not provider.capabilities.read_only

    @pytest.fixture
    def calendar_id(self, provider: Provider) -> str:
        return provider.list_calendars()[0].remote_id

    @pytest.fixture
    def window(self) -> SyncWindow:
        now = datetime.now(UTC)
        return SyncWindow(start=now - timedelta(days=30), end=now + timedelta(days=400))

    # -- hooks --------------------------------------------------------------

    def comparable(self, content: EventContent) -> dict[str, Any]:
        """The fields that must survive a round trip through the remote: the
        same view the engine uses to recognise its own pushes coming back."""
        return round_trip_view(content)

    def _view(self, events: Iterable[RemoteEvent]) -> dict[str, dict[str, Any]]:
        return {event.remote_id: self.comparable(event.content) for event in events}

    def _require_writes(self, writable: bool, provider: Provider) -> None:
        if not writable or provider.capabilities.read_only:
            pytest.skip("provider is read-only")

    def _assert_changes(
        self, provider: Provider, result: PullResult, changed: set[str], deleted: set[str]
    ) -> None:
        if provider.capabilities.incremental:
            assert set(result.changed) == changed
            assert result.deleted == deleted
            assert not result.final.full_listing

    # -- calendars ----------------------------------------------------------

    def test_list_calendars_is_non_empty_with_stable_unique_ids(self, provider: Provider) -> None:
        first = provider.list_calendars()
        assert first, "the account lists at least one calendar"
        ids = [c.remote_id for c in first]
        assert all(isinstance(i, str) and i for i in ids)
        assert len(set(ids)) == len(ids), "calendar ids are unique"
        assert all(isinstance(c.name, str) for c in first)
        assert [c.remote_id for c in provider.list_calendars()] == ids, "ids are stable"

    # -- full listings --------------------------------------------------------

    def test_full_pull_lists_every_event_exactly_once(
        self, provider: Provider, remote: RemoteControl, calendar_id: str, window: SyncWindow
    ) -> None:
        before = pull_all(provider, calendar_id, None, window)
        created = {
            remote.create(calendar_id, timed_content(f"Listed {n}", offset_hours=n))
            for n in range(3)
        }
        result = pull_all(provider, calendar_id, None, window)
        listed = result.listed_ids
        assert len(listed) == len(set(listed)), "no event is listed twice"
        assert set(listed) == set(before.changed) | created
        assert not result.deleted
        assert result.final.full_listing
        assert isinstance(result.final.cursor, str) and result.final.cursor

    def test_remote_created_content_is_listed_unchanged(
        self, provider: Provider, remote: RemoteControl, calendar_id: str, window: SyncWindow
    ) -> None:
        content = timed_content("Made elsewhere")
        remote_id = remote.create(calendar_id, content)
        listed = pull_all(provider, calendar_id, None, window).changed
        assert self.comparable(listed[remote_id].content) == self.comparable(content)

    # -- incremental pulls ----------------------------------------------------

    def test_cursors_are_strings(
        self, provider: Provider, remote: RemoteControl, calendar_id: str, window: SyncWindow
    ) -> None:
        full = pull_all(provider, calendar_id, None, window)
        assert isinstance(full.final.cursor, str)
        remote.create(calendar_id, timed_content("Cursor"))
        again = pull_all(provider, calendar_id, full.final.cursor, window)
        assert isinstance(again.final.cursor, str) and again.final.cursor

    def test_incremental_pull_without_change_is_empty(
        self, provider: Provider, calendar_id: str, window: SyncWindow
    ) -> None:
        full = pull_all(provider, calendar_id, None, window)
        again = pull_all(provider, calendar_id, full.final.cursor, window)
        assert apply_pull(full.changed, again).keys() == full.changed.keys()
        if provider.capabilities.incremental:
            assert again.final.unchanged or (not again.changed and not again.deleted)
            assert not again.final.full_listing or again.final.unchanged

    def test_incremental_pull_after_remote_create(
        self, provider: Provider, remote: RemoteControl, calendar_id: str, window: SyncWindow
    ) -> None:
        full = pull_all(provider, calendar_id, None, window)
        content = timed_content("Created elsewhere")
        remote_id = remote.create(calendar_id, content)
        delta = pull_all(provider, calendar_id, full.final.cursor, window)
        self._assert_changes(provider, delta, {remote_id}, set())
        state = apply_pull(full.changed, delta)
        assert set(state) == set(full.changed) | {remote_id}
        assert self.comparable(state[remote_id].content) == self.comparable(content)

    def test_incremental_pull_after_remote_update(
        self, provider: Provider, remote: RemoteControl, calendar_id: str, window: SyncWindow
    ) -> None:
        remote_id = remote.create(calendar_id, timed_content("Before"))
        full = pull_all(provider, calendar_id, None, window)
        updated = replace(timed_content("After", offset_hours=5), description="changed")
        remote.update(calendar_id, remote_id, updated)
        delta = pull_all(provider, calendar_id, full.final.cursor, window)
        self._assert_changes(provider, delta, {remote_id}, set())
        state = apply_pull(full.changed, delta)
        assert self.comparable(state[remote_id].content) == self.comparable(updated)

    def test_incremental_pull_after_remote_delete(
        self, provider: Provider, remote: RemoteControl, calendar_id: str, window: SyncWindow
    ) -> None:
        remote_id = remote.create(calendar_id, timed_content("Doomed"))
        full = pull_all(provider, calendar_id, None, window)
        assert remote_id in full.changed
        remote.delete(calendar_id, remote_id)
        delta = pull_all(provider, calendar_id, full.final.cursor, window)
        self._assert_changes(provider, delta, set(), {remote_id})
        assert set(apply_pull(full.changed, delta)) == set(full.changed) - {remote_id}

    def test_random_remote_edits_are_reconstructed_by_incremental_pulls(
        self, provider: Provider, remote: RemoteControl, calendar_id: str, window: SyncWindow
    ) -> None:
        @settings(max_examples=self.remote_edit_examples, deadline=None, database=None)
        @given(ops=remote_ops)
        def run(ops: list[tuple[Any, ...]]) -> None:
            full = pull_all(provider, calendar_id, None, window)
            state, cursor = full.changed, full.final.cursor
            expected = self._view(state.values())
            for op in [*ops, ("pull",)]:
                live = sorted(expected)
                if op[0] == "create":
                    expected[remote.create(calendar_id, op[1])] = self.comparable(op[1])
                elif op[0] == "update" and live:
                    target = live[op[1] % len(live)]
                    remote.update(calendar_id, target, op[2])
                    expected[target] = self.comparable(op[2])
                elif op[0] == "delete" and live:
                    target = live[op[1] % len(live)]
                    remote.delete(calendar_id, target)
                    del expected[target]
                elif op[0] == "pull":
                    delta = pull_all(provider, calendar_id, cursor, window)
                    state, cursor = apply_pull(state, delta), delta.final.cursor
                    assert self._view(state.values()) == expected
            fresh = pull_all(provider, calendar_id, None, window)
            assert self._view(fresh.changed.values()) == expected

        run()

    # -- writes -----------------------------------------------------------------

    def _create_and_fetch(
        self,
        provider: Provider,
        calendar_id: str,
        window: SyncWindow,
        content: EventContent,
        **kwargs: Any,
    ) -> RemoteEvent:
        result = provider.create_event(calendar_id, new_id("evt"), content, **kwargs)
        assert isinstance(result.remote_id, str) and result.remote_id
        listed = pull_all(provider, calendar_id, None, window).changed
        assert result.remote_id in listed, "a created event is listed by the next pull"
        return listed[result.remote_id]

    @pytest.mark.parametrize(
        "make",
        [timed_content, all_day_content, free_tentative_content],
        ids=["timed", "all_day", "free_tentative"],
    )
    def test_created_event_comes_back_with_the_same_content(
        self,
        provider: Provider,
        writable: bool,
        calendar_id: str,
        window: SyncWindow,
        make: Callable[[], EventContent],
    ) -> None:
        self._require_writes(writable, provider)
        content = make()
        event = self._create_and_fetch(provider, calendar_id, window, content)
        assert self.comparable(event.content) == self.comparable(content)
        assert event.content.all_day == content.all_day

    def test_recurring_master_and_override_round_trip(
        self, provider: Provider, writable: bool, calendar_id: str, window: SyncWindow
    ) -> None:
        self._require_writes(writable, provider)
        start = base_time() + timedelta(hours=3)
        master = EventContent(
            summary="Weekly sync",
            start=start,
            end=start + timedelta(hours=1),
            tzid="Europe/Berlin",
            recurrence=("RRULE:FREQ=WEEKLY;COUNT=5",),
        )
        master_event = self._create_and_fetch(provider, calendar_id, window, master)
        assert self.comparable(master_event.content) == self.comparable(master)
        original = start + timedelta(days=7)
        override = EventContent(
            summary="Weekly sync (moved)",
            start=original + timedelta(minutes=30),
            end=original + timedelta(minutes=90),
            tzid="Europe/Berlin",
            original_start=original,
        )
        override_event = self._create_and_fetch(
            provider, calendar_id, window, override, master_remote_id=master_event.remote_id
        )
        assert self.comparable(override_event.content) == self.comparable(override)
        assert override_event.master_remote_id == master_event.remote_id

    def test_create_is_idempotent_on_event_uid(
        self, provider: Provider, writable: bool, calendar_id: str, window: SyncWindow
    ) -> None:
        self._require_writes(writable, provider)
        event_uid = new_id("evt")
        content = timed_content("Only once")
        first = provider.create_event(calendar_id, event_uid, content)
        second = provider.create_event(calendar_id, event_uid, content)
        assert second.remote_id == first.remote_id
        listed = pull_all(provider, calendar_id, None, window).changed
        same = [e for e in listed.values() if e.remote_id == first.remote_id]
        assert len(same) == 1
        assert self.comparable(same[0].content) == self.comparable(content)

    def test_create_retried_over_other_content_is_refused_and_changes_nothing(
        self, provider: Provider, writable: bool, calendar_id: str, window: SyncWindow
    ) -> None:
        """The retry of a create that landed succeeds only if the provider holds what
        it sends; holding an older version (or somebody's edit) it is refused, so the
        engine can tell our own write from someone else's by pulling."""
        self._require_writes(writable, provider)
        event_uid = new_id("evt")
        first = provider.create_event(calendar_id, event_uid, timed_content("v1"))
        with pytest.raises(PreconditionFailed):
            provider.create_event(calendar_id, event_uid, timed_content("v2"))
        listed = pull_all(provider, calendar_id, None, window).changed
        same = [e for e in listed.values() if e.remote_id == first.remote_id]
        assert [self.comparable(e.content) for e in same] == [self.comparable(timed_content("v1"))]

    def test_update_replaces_content_and_changes_etag(
        self, provider: Provider, writable: bool, calendar_id: str, window: SyncWindow
    ) -> None:
        self._require_writes(writable, provider)
        event = self._create_and_fetch(provider, calendar_id, window, timed_content("Draft"))
        changed = replace(timed_content("Final", offset_hours=2), description="")
        result = provider.update_event(calendar_id, event.remote_id, changed, event.etag)
        assert result.remote_id == event.remote_id
        listed = pull_all(provider, calendar_id, None, window).changed[event.remote_id]
        assert self.comparable(listed.content) == self.comparable(changed)
        if event.etag is not None:
            assert listed.etag != event.etag

    def test_update_with_stale_etag_is_refused(
        self, provider: Provider, writable: bool, calendar_id: str, window: SyncWindow
    ) -> None:
        self._require_writes(writable, provider)
        event = self._create_and_fetch(provider, calendar_id, window, timed_content("v1"))
        if event.etag is None:
            pytest.skip("provider reports no etags")
        second = timed_content("v2")
        provider.update_event(calendar_id, event.remote_id, second, event.etag)
        with pytest.raises(PreconditionFailed):
            provider.update_event(calendar_id, event.remote_id, timed_content("v3"), event.etag)
        listed = pull_all(provider, calendar_id, None, window).changed[event.remote_id]
        assert self.comparable(listed.content) == self.comparable(second), "refused write kept out"

    def test_delete_then_delete_again_is_fine(
        self, provider: Provider, writable: bool, calendar_id: str, window: SyncWindow
    ) -> None:
        self._require_writes(writable, provider)
        event = self._create_and_fetch(provider, calendar_id, window, timed_content("Gone"))
        provider.delete_event(calendar_id, event.remote_id, event.etag)
        provider.delete_event(calendar_id, event.remote_id, None)
        assert event.remote_id not in pull_all(provider, calendar_id, None, window).changed

    def test_own_writes_show_up_in_incremental_pulls(
        self, provider: Provider, writable: bool, calendar_id: str, window: SyncWindow
    ) -> None:
        self._require_writes(writable, provider)
        full = pull_all(provider, calendar_id, None, window)
        content = timed_content("Pushed")
        created = provider.create_event(calendar_id, new_id("evt"), content)
        delta = pull_all(provider, calendar_id, full.final.cursor, window)
        self._assert_changes(provider, delta, {created.remote_id}, set())
        state = apply_pull(full.changed, delta)
        assert self.comparable(state[created.remote_id].content) == self.comparable(content)
        provider.delete_event(calendar_id, created.remote_id, None)
        after = pull_all(provider, calendar_id, delta.final.cursor, window)
        self._assert_changes(provider, after, set(), {created.remote_id})
        assert created.remote_id not in apply_pull(state, after)
