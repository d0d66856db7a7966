"""The API's rendered-page cache: a byte-bounded LRU."""

from __future__ import annotations

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
