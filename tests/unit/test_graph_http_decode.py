"""Graph answers are decoded from bytes with the cyclic GC paused (`_graph_http._decode`):
a delta page is ~2 MB of JSON, whose thousands of dicts otherwise set off collections
that walk the whole process (bench/graph_sync.py). The collector must be back on after
every decode, failed or not, and stay off when it was off."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest

from calsync.providers import _graph_http


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    states: list[bool] = []
    real = json.loads

    def loads(content: Any) -> Any:
        states.append(gc.isenabled())
        return real(content)

    monkeypatch.setattr(json, "loads", loads)
    was = gc.isenabled()
    gc.enable()
    yield states
    if not was:
        gc.disable()


def test_decoded_with_the_collector_paused_then_back_on(seen: list[bool]) -> None:
    assert _graph_http._decode(b'{"value": [{"id": "\xc3\xa9"}]}') == {"value": [{"id": "é"}]}
    assert seen == [False]
    assert gc.isenabled()


def test_back_on_after_a_failed_decode(seen: list[bool]) -> None:
    with pytest.raises(ValueError):
        _graph_http._decode(b"<html>not json</html>")
    assert seen == [False]
    assert gc.isenabled()


def test_left_off_when_it_was_off(seen: list[bool]) -> None:
    gc.disable()
    try:
        assert _graph_http._decode(b"[]") == []
        assert not gc.isenabled()
    finally:
        gc.enable()
