"""The API's rendered-page cache: a byte-bounded LRU."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from calsync.api.read_cache import ReadCache


def test_hit_miss_and_lru_eviction() -> None:
    cache = ReadCache(100)
    cache.put("a", b"x" * 20)
    cache.put("b", b"y" * 20)
    assert cache.get("a") == b"x" * 20  # "a" is now the most recently used
    assert cache.get("zz") is None
    cache.put("c", b"z" * 20)
    cache.put("d", b"w" * 20)
    cache.put("e", b"v" * 20)  # 100 bytes: all five fit
    assert len(cache) == 5 and cache.size_bytes == 100
    cache.put("f", b"u" * 20)  # evicts the least recently used: "b", not "a"
    assert cache.get("b") is None and cache.get("a") == b"x" * 20
    assert (cache.hits, cache.misses) == (2, 2)


def test_replacing_a_key_keeps_the_byte_count_exact() -> None:
    cache = ReadCache(100)
    cache.put("a", b"x" * 20)
    cache.put("a", b"y" * 10)
    assert cache.size_bytes == 10 and cache.get("a") == b"y" * 10


def test_disabled_and_oversized_pages_are_not_kept() -> None:
    off = ReadCache.of_mib(0)
    off.put("a", b"x")
    assert not off.enabled and off.get("a") is None and off.misses == 0
    cache = ReadCache(100)
    cache.put("big", b"x" * 26)  # more than a quarter of the budget
    assert cache.get("big") is None and cache.size_bytes == 0
    cache.put("ok", b"x" * 25)
    cache.clear()
    assert len(cache) == 0 and cache.size_bytes == 0


@given(
    st.integers(min_value=1, max_value=400),
    st.lists(st.tuples(st.integers(0, 15), st.binary(max_size=120)), max_size=60),
)
def test_budget_holds_and_the_last_put_is_kept(budget: int, puts: list[tuple[int, bytes]]) -> None:
    cache = ReadCache(budget)
    model: dict[int, bytes] = {}
    for key, body in puts:
        cache.put(key, body)
        if len(body) * 4 <= budget:
            model[key] = body
            assert cache.get(key) == body  # the newest entry always survives
        assert cache.size_bytes <= budget
    # Whatever is still cached is the latest body put under that key.
    for key in range(16):
        found = cache.get(key)
        assert found is None or found == model[key]


def _render_counting(calls: list[str], body: bytes, gate: asyncio.Event) -> Any:
    async def render() -> bytes:
        calls.append("render")
        await gate.wait()
        return body

    return render


def test_concurrent_misses_on_one_key_render_once() -> None:
    async def scenario() -> tuple[list[bytes], list[str], ReadCache]:
        cache, gate = ReadCache(1000), asyncio.Event()
        calls: list[str] = []
        render = _render_counting(calls, b"page", gate)
        tasks = [asyncio.create_task(cache.get_or_render("k", render)) for _ in range(5)]
        await asyncio.sleep(0)  # all five are waiting now
        gate.set()
        bodies = await asyncio.gather(*tasks)
        return bodies, calls, cache

    bodies, calls, cache = asyncio.run(scenario())
    assert bodies == [b"page"] * 5 and calls == ["render"]
    assert (cache.hits, cache.misses) == (4, 1) and cache.get("k") == b"page"


def test_a_failed_render_lets_the_waiters_render_for_themselves() -> None:
    async def scenario() -> tuple[list[Any], int]:
        cache, attempts = ReadCache(1000), 0
        gate = asyncio.Event()

        async def flaky() -> bytes:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                await gate.wait()
                raise RuntimeError("store unavailable")
            return b"second try"

        tasks = [asyncio.create_task(cache.get_or_render("k", flaky)) for _ in range(3)]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True), attempts

    results, attempts = asyncio.run(scenario())
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == [b"second try", b"second try"] and attempts == 3


def test_a_cancelled_waiter_does_not_cancel_the_shared_render() -> None:
    async def scenario() -> tuple[bytes, list[str]]:
        cache, gate = ReadCache(1000), asyncio.Event()
        calls: list[str] = []
        render = _render_counting(calls, b"page", gate)
        leader = asyncio.create_task(cache.get_or_render("k", render))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(cache.get_or_render("k", render))
        await asyncio.sleep(0)
        waiter.cancel()
        gate.set()
        return await leader, calls

    body, calls = asyncio.run(scenario())
    assert body == b"page" and calls == ["render"]


def test_with_the_cache_off_every_request_renders() -> None:
    async def scenario() -> list[str]:
        cache, gate = ReadCache(0), asyncio.Event()
        calls: list[str] = []
        gate.set()
        render = _render_counting(calls, b"page", gate)
        await asyncio.gather(*(cache.get_or_render("k", render) for _ in range(3)))
        return calls

    assert asyncio.run(scenario()) == ["render"] * 3
