"""The in-memory provider: the provider contract, its fault knobs, and the registry."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from calsync.config.loader import load_settings
from calsync.config.schema import Section
from calsync.errors import (
    ConfigError,
    CursorExpired,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    TransientProviderError,
    UserError,
)
from calsync.model import EventContent
from calsync.providers import registry
from calsync.providers.base import Provider, SyncWindow
from calsync.providers.memory import MemoryBackend, MemoryProvider, drop_backend, get_backend
from tests.contract.provider_contract import (
    ProviderContract,
    RemoteControl,
    base_time,
    pull_all,
    timed_content,
)


class BackendRemote:
    """`RemoteControl` over a `MemoryBackend`."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend

    def create(self, calendar_remote_id: str, content: EventContent) -> str:
        return self.backend.remote_upsert(calendar_remote_id, content).remote_id

    def update(self, calendar_remote_id: str, remote_id: str, content: EventContent) -> None:
        self.backend.remote_upsert(calendar_remote_id, content, remote_id=remote_id)

    def delete(self, calendar_remote_id: str, remote_id: str) -> None:
        assert self.backend.remote_delete(calendar_remote_id, remote_id)


@pytest.fixture
def backend_name(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"test-{request.node.nodeid}"
    drop_backend(name)
    yield name
    drop_backend(name)


@pytest.fixture
def memory(backend_name: str) -> MemoryProvider:
    # A tiny page size, so every contract test also walks several pages.
    provider = registry.create("memory", "acct", {"backend": backend_name, "page_size": 2})
    assert isinstance(provider, MemoryProvider)
    return provider


@pytest.fixture
def backend(memory: MemoryProvider) -> MemoryBackend:
    return memory.backend


@pytest.fixture
def cal(backend: MemoryBackend) -> str:
    return backend.calendar_id("Calendar")


class TestMemoryProvider(ProviderContract):
    @pytest.fixture
    def provider(self, memory: MemoryProvider) -> Provider:
        return memory

    @pytest.fixture
    def remote(self, backend: MemoryBackend) -> RemoteControl:
        return BackendRemote(backend)


WINDOW = SyncWindow(start=base_time() - timedelta(days=60), end=base_time() + timedelta(days=400))


def _fill(backend: MemoryBackend, cal: str, n: int) -> list[str]:
    return [
        backend.remote_upsert(cal, timed_content(f"E{i}", offset_hours=i)).remote_id
        for i in range(n)
    ]


class TestPaging:
    def test_pages_hold_page_size_events_and_only_the_last_has_the_cursor(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        ids = _fill(backend, cal, 5)
        pages = list(memory.pull(cal, None, WINDOW))
        assert [len(p.changed) for p in pages] == [2, 2, 1]
        assert [p.cursor is not None for p in pages] == [False, False, True]
        assert [e.remote_id for p in pages for e in p.changed] == sorted(ids)
        assert {p.expected_total for p in pages} == {5}

    def test_empty_calendar_yields_one_final_full_page(
        self, memory: MemoryProvider, cal: str
    ) -> None:
        (page,) = memory.pull(cal, None, WINDOW)
        assert page.final and page.full_listing and page.cursor and not page.changed

    def test_changes_then_deletions_are_spread_over_pages(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        ids = _fill(backend, cal, 4)
        cursor = pull_all(memory, cal, None, WINDOW).final.cursor
        for rid in ids[:3]:
            backend.remote_delete(cal, rid)
        backend.remote_upsert(cal, timed_content("moved"), remote_id=ids[3])
        pages = list(memory.pull(cal, cursor, WINDOW))
        assert [(len(p.changed), len(p.deleted)) for p in pages] == [(1, 1), (0, 2)]

    def test_created_and_deleted_since_cursor_is_not_reported(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        cursor = pull_all(memory, cal, None, WINDOW).final.cursor
        (rid,) = _fill(backend, cal, 1)
        backend.remote_delete(cal, rid)
        delta = pull_all(memory, cal, cursor, WINDOW)
        assert not delta.changed and not delta.deleted


class TestFaultKnobs:
    def test_fail_next_writes_raises_and_changes_nothing(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        backend.fail_next_writes(2, RateLimited("slow down", retry_after=3))
        for _ in range(2):
            with pytest.raises(RateLimited) as caught:
                memory.create_event(cal, "evt_a", timed_content())
            assert caught.value.retry_after == 3
        assert backend.events(cal) == {}
        assert memory.create_event(cal, "evt_a", timed_content()).remote_id in backend.events(cal)

    def test_fail_next_writes_default_is_transient(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        backend.fail_next_writes(1)
        with pytest.raises(TransientProviderError):
            memory.delete_event(cal, "whatever", None)
        memory.delete_event(cal, "whatever", None)

    def test_lost_write_response_then_retry_creates_once(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        backend.lose_next_write_responses(1)
        with pytest.raises(TransientProviderError):
            memory.create_event(cal, "evt_once", timed_content())
        assert len(backend.events(cal)) == 1, "the write happened despite the error"
        retry = memory.create_event(cal, "evt_once", timed_content())
        assert list(backend.events(cal)) == [retry.remote_id]
        assert backend.stats.creates == 2

    def test_fail_next_pulls_at_the_call(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        backend.fail_next_pulls(1, lambda: TransientProviderError("503"))
        with pytest.raises(TransientProviderError, match="503"):
            memory.pull(cal, None, WINDOW)
        assert pull_all(memory, cal, None, WINDOW).final.full_listing

    def test_fail_next_pulls_mid_pull_never_hands_out_the_cursor(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        _fill(backend, cal, 5)
        backend.fail_next_pulls(1, after_pages=1)
        seen = []
        with pytest.raises(TransientProviderError):
            for page in memory.pull(cal, None, WINDOW):
                seen.append(page)
        assert len(seen) == 1 and seen[0].cursor is None
        backend.fail_next_pulls(1, after_pages=99)
        seen.clear()
        with pytest.raises(TransientProviderError):
            for page in memory.pull(cal, None, WINDOW):
                seen.append(page)
        assert len(seen) == 2 and all(p.cursor is None for p in seen)

    def test_expire_cursors(self, memory: MemoryProvider, backend: MemoryBackend, cal: str) -> None:
        cursor = pull_all(memory, cal, None, WINDOW).final.cursor
        backend.expire_cursors()
        with pytest.raises(CursorExpired):
            memory.pull(cal, cursor, WINDOW)
        fresh = pull_all(memory, cal, None, WINDOW).final.cursor
        assert not pull_all(memory, cal, fresh, WINDOW).changed

    @pytest.mark.parametrize("cursor", ["garbage", "0.999", "x.1", ""])
    def test_malformed_or_future_cursor_expires(
        self, memory: MemoryProvider, cal: str, cursor: str
    ) -> None:
        with pytest.raises(CursorExpired):
            memory.pull(cal, cursor, WINDOW)

    def test_bump_etags_changes_etags_not_content(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        _fill(backend, cal, 3)
        full = pull_all(memory, cal, None, WINDOW)
        backend.bump_etags()
        delta = pull_all(memory, cal, full.final.cursor, WINDOW)
        assert delta.changed.keys() == full.changed.keys()
        for rid, event in delta.changed.items():
            assert event.etag != full.changed[rid].etag
            assert event.content == full.changed[rid].content
        stale = full.changed[min(full.changed)]
        with pytest.raises(PreconditionFailed):
            memory.update_event(cal, stale.remote_id, timed_content("x"), stale.etag)

    @pytest.mark.parametrize(
        ("mode", "kept", "full_listing", "has_cursor"),
        [("partial", 2, False, False), ("partial_marked", 2, True, True), ("empty", 0, True, True)],
    )
    def test_truncate_next_listing(
        self,
        memory: MemoryProvider,
        backend: MemoryBackend,
        cal: str,
        mode: str,
        kept: int,
        full_listing: bool,
        has_cursor: bool,
    ) -> None:
        _fill(backend, cal, 5)
        backend.truncate_next_listing(0.5, mode=mode)  # type: ignore[arg-type]
        damaged = pull_all(memory, cal, None, WINDOW)
        assert len(damaged.changed) == kept
        assert damaged.final.full_listing is full_listing
        assert (damaged.final.cursor is not None) is has_cursor
        assert len(pull_all(memory, cal, None, WINDOW).changed) == 5, "only the next listing"

    def test_truncation_leaves_incremental_pulls_alone(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        cursor = pull_all(memory, cal, None, WINDOW).final.cursor
        _fill(backend, cal, 4)
        backend.truncate_next_listing(mode="empty")
        assert len(pull_all(memory, cal, cursor, WINDOW).changed) == 4
        assert not pull_all(memory, cal, None, WINDOW).changed

    def test_update_of_a_deleted_event_is_a_precondition_failure(
        self, memory: MemoryProvider, cal: str
    ) -> None:
        with pytest.raises(PreconditionFailed):
            memory.update_event(cal, "memevt-404", timed_content(), None)

    def test_delete_with_stale_etag_is_refused(
        self, memory: MemoryProvider, backend: MemoryBackend, cal: str
    ) -> None:
        (rid,) = _fill(backend, cal, 1)
        with pytest.raises(PreconditionFailed):
            memory.delete_event(cal, rid, '"stale"')
        assert rid in backend.events(cal)


class TestSharedBackends:
    def test_providers_of_one_backend_name_share_data(self, backend_name: str) -> None:
        one = registry.create("memory", "a", {"backend": backend_name})
        two = registry.create("memory", "b", {"backend": backend_name})
        assert [c.remote_id for c in one.list_calendars()] == [
            c.remote_id for c in two.list_calendars()
        ]
        cal = one.list_calendars()[0].remote_id
        created = one.create_event(cal, "evt_shared", timed_content())
        assert created.remote_id in get_backend(backend_name).events(cal)
        assert created.remote_id in pull_all(two, cal, None, WINDOW).changed

    def test_backend_defaults_to_account_name_and_precreates_calendars(
        self, backend_name: str
    ) -> None:
        provider = registry.create("memory", backend_name, {"calendars": ["Work", "Home"]})
        again = registry.create("memory", backend_name, {"calendars": ["Work"]})
        assert [c.name for c in provider.list_calendars()] == ["Work", "Home"]
        assert len(again.list_calendars()) == 2, "re-creating does not duplicate calendars"
        assert provider.capabilities.create_calendar and not provider.capabilities.read_only

    @pytest.mark.parametrize(
        "options", [{"backend": ""}, {"calendars": "Work"}, {"page_size": 0}, {"page_size": True}]
    )
    def test_bad_options_are_user_errors(
        self, backend_name: str, options: dict[str, object]
    ) -> None:
        with pytest.raises(UserError):
            registry.create("memory", backend_name, options)

    def test_concurrent_writers_lose_nothing(self, backend: MemoryBackend, cal: str) -> None:
        def write(worker: int) -> None:
            for i in range(50):
                backend.remote_upsert(cal, timed_content(f"{worker}-{i}"))

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = backend.events(cal)
        assert len(events) == 200
        assert len({e.etag for e in events.values()}) == 200


class TestRegistry:
    def test_memory_is_registered_lazily(self) -> None:
        assert "memory" in registry.names()
        spec = registry.get("memory")
        assert spec.name == "memory" and spec.description

    def test_unknown_provider_names_the_known_ones(self) -> None:
        with pytest.raises(UserError) as caught:
            registry.get("exchange2003")
        assert "exchange2003" in caught.value.message
        assert "'memory'" in caught.value.hint

    def test_importing_the_registry_loads_no_client_library(self) -> None:
        code = (
            "import sys, calsync.providers.registry as r; r.names();"
            "bad = [m for m in ('googleapiclient', 'caldav', 'msal', 'calsync.providers.memory')"
            " if m in sys.modules]; print(bad)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "[]"

    def test_register_and_unregister_a_custom_provider(self, backend_name: str) -> None:
        def factory(account_name: str, options: object) -> Provider:
            return MemoryProvider(get_backend(backend_name))

        spec = registry.ProviderSpec("custom-test", factory, config_section={"k": 1})
        registry.register(spec)
        try:
            with pytest.raises(ValueError, match="already registered"):
                registry.register(spec)
            assert registry.get("custom-test") is spec
            assert registry.config_sections()["custom-test"] == {"k": 1}
            assert isinstance(registry.create("custom-test", "x", {}), MemoryProvider)
        finally:
            registry.unregister("custom-test")
        assert "custom-test" not in registry.names()

    def test_lazy_target_must_be_a_spec_with_the_same_name(self) -> None:
        registry.register_lazy("bogus-test", "calsync.providers.memory:DEFAULT_CALENDARS")
        try:
            with pytest.raises(TypeError):
                registry.get("bogus-test")
        finally:
            registry.unregister("bogus-test")

    def test_missing_provider_module_is_a_provider_error(self) -> None:
        registry.register_lazy("gone-test", "calsync.providers.no_such_module:SPEC")
        try:
            with pytest.raises(ProviderError, match="unavailable"):
                registry.get("gone-test")
        finally:
            registry.unregister("gone-test")

    def test_config_file_to_provider(self, tmp_path: Path, backend_name: str) -> None:
        config = tmp_path / "calsync.toml"
        config.write_text(
            "[[accounts]]\n"
            f'name = "{backend_name}"\n'
            'provider = "memory"\n'
            'calendars = ["Work", "Home"]\n'
            "page_size = 3\n"
        )
        section = registry.get("memory").config_section
        assert isinstance(section, Section)
        (account,) = load_settings(config, {"memory": section}).accounts
        provider = registry.create(account.provider, account.name, account.options)
        assert isinstance(provider, MemoryProvider)
        assert provider.page_size == 3
        assert provider.backend is get_backend(backend_name)
        assert [c.name for c in provider.list_calendars()] == ["Work", "Home"]

    def test_config_rejects_a_bad_page_size(self, tmp_path: Path) -> None:
        config = tmp_path / "calsync.toml"
        config.write_text('[[accounts]]\nname = "x"\nprovider = "memory"\npage_size = 0\n')
        section = registry.get("memory").config_section
        assert isinstance(section, Section)
        with pytest.raises(ConfigError) as caught:
            load_settings(config, {"memory": section})
        assert caught.value.key.endswith("page_size")
