"""api/paging.py and api/params.py: signed page tokens, totals, query parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.api.paging import (
    FIRST_PAGE,
    LAST_PAGE_SPAN,
    PageState,
    decode_token,
    derive_key,
    encode_token,
    rows_for,
    walk_total,
)
from calsync.api.params import ReadQuery, parse_bool, parse_read_query, query_list
from calsync.errors import NotFound, ValidationError

KEY = derive_key("client secret")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_token_roundtrip(payload: dict[str, Any]) -> None:
    token = encode_token(payload, KEY)
    assert decode_token(token, KEY) == payload
    assert "/" not in token and "+" not in token and "=" not in token


@given(st.dictionaries(st.text(max_size=10), json_values, min_size=1, max_size=6), st.data())
def test_tampered_token_rejected(payload: dict[str, Any], data: st.DataObject) -> None:
    token = encode_token(payload, KEY)
    pos = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AQgw_-."))
    tampered = token[:pos] + replacement + token[pos + 1 :]
    if tampered == token:
        return
    # Either rejected, or (base64 slack bits) decoding to the very same payload.
    try:
        decoded = decode_token(tampered, KEY)
    except NotFound:
        return
    assert decoded == payload


def test_other_key_or_garbage_rejected() -> None:
    token = encode_token({"a": 1}, KEY)
    with pytest.raises(NotFound):
        decode_token(token, derive_key("other"))
    for junk in ("", ".", "abc", "abc.def", "%%%.%%%", "a" * 20000):
        with pytest.raises(NotFound):
            decode_token(junk, KEY)


#: Between two pages of a walk: touch (update) a row, delete one, or create some.
walk_changes = st.lists(
    st.one_of(
        st.tuples(st.just("touch"), st.integers(0, 10_000)),
        st.tuples(st.just("delete"), st.integers(0, 10_000)),
        st.tuples(st.just("create"), st.integers(1, 30)),
    ),
    max_size=4,
)


def simulate_walk(
    page_size: int, initial: int, changes: list[list[tuple[str, int]]]
) -> tuple[list[int], list[int], set[int], set[int]]:
    """A pycronofy walk over rows kept in ``(updated, pk)`` order, changed between pages.

    Returns the totals every page reported, the page numbers fetched, the rows
    seen, and the rows live at the end of the walk. A touched row gets a new
    ``updated`` and moves to the end, as the store does.
    """
    rows = list(range(initial))  # row ids in walk order
    next_id = initial
    state, totals, fetched, seen = FIRST_PAGE, [], [], set()
    while True:
        limit = rows_for(state, page_size)
        start = 0 if state.after is None else rows.index(state.after[0]) + 1
        page = rows[start : start + limit]
        has_more = len(rows) > start + limit
        total = walk_total(state, has_more, lambda: len(rows), page_size)
        totals.append(total)
        fetched.append(state.current)
        seen.update(page)
        after = [page[-1]] if page else state.after
        if not state.current < total:  # pycronofy's loop condition
            return totals, fetched, seen, set(rows)
        for kind, value in changes[len(fetched) - 1] if len(fetched) <= len(changes) else []:
            if kind == "create":
                rows.extend(range(next_id, next_id + value))
                next_id += value
            elif rows:
                row = rows[value % len(rows)]
                if after is not None and row == after[0]:
                    continue  # the cursor's own row: the store keeps its position key
                rows.remove(row)
                if kind == "touch":
                    rows.append(row)
        state = PageState(state.current + 1, total, after)


@given(st.integers(1, 20), st.integers(0, 200), st.lists(walk_changes, max_size=30))
def test_a_walk_reports_one_total_walks_that_many_pages_and_misses_nothing(
    page_size: int, initial: int, changes: list[list[tuple[str, int]]]
) -> None:
    totals, fetched, seen, live = simulate_walk(page_size, initial, changes)
    # Rows that arrive at the walk's end: created ones, and touched ones (at most).
    arrived = sum(v if kind == "create" else 1 for step in changes for kind, v in step)
    if arrived <= page_size * (LAST_PAGE_SPAN - 1):
        assert len(set(totals)) == 1  # one total for the whole walk
    assert fetched == list(range(1, totals[-1] + 1))  # exactly that many pages
    assert live <= seen  # every row still there at the end was read
    if not any(changes):
        assert totals[0] == max(1, -(-initial // page_size))  # the real count


def test_bool_and_list_parsing() -> None:
    assert parse_bool("True", "x") is True
    assert parse_bool("FALSE", "x") is False
    assert parse_bool(None, "x", True) is True
    with pytest.raises(ValidationError):
        parse_bool("maybe", "x")
    params = {"calendar_ids[]": ["cal_a", "cal_b", "cal_a"], "calendar_ids": ["cal_c"]}
    assert query_list(params, "calendar_ids") == ["cal_a", "cal_b", "cal_c"]


NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def parse(**params: str | list[str]) -> ReadQuery:
    norm = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse_read_query(norm, now=NOW, past_days=42, future_days=201)


def test_read_query_defaults_and_roundtrip() -> None:
    q = parse(tzid="Europe/London", include_managed="True", **{"calendar_ids[]": ["cal_x"]})
    # 42 days back = 2026-10-10 and 201 ahead = 2027-06-10, both BST midnights.
    assert q.start == datetime(2026, 10, 9, 23, tzinfo=UTC)
    assert q.end == datetime(2027, 6, 9, 23, tzinfo=UTC)
    assert q.include_managed and not q.only_managed and q.managed_filter is None
    assert q.calendar_ids == ("cal_x",)
    assert ReadQuery.from_json(q.to_json()) == q


def test_read_query_last_modified_floored_and_inclusive() -> None:
    q = parse(tzid="Etc/UTC", last_modified="2026-11-20T10:00:05Z")
    assert q.last_modified == datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)
    assert ReadQuery.from_json(q.to_json()) == q


def test_read_query_errors() -> None:
    with pytest.raises(ValidationError) as exc:
        parse()
    assert exc.value.fields["tzid"][0]["key"] == "errors.required"
    with pytest.raises(ValidationError) as exc:
        parse(tzid="Nowhere/Land")
    assert exc.value.fields["tzid"][0]["key"] == "errors.invalid_timezone"
    with pytest.raises(ValidationError):
        parse(tzid="Etc/UTC", **{"from": "2026-05-02", "to": "2026-05-01"})
    with pytest.raises(ValidationError):
        parse(tzid="Etc/UTC", **{"from": "0001-01-01"})
    with pytest.raises(ValidationError):
        parse(tzid="Etc/UTC", only_managed="perhaps")


def test_managed_filter() -> None:
    assert parse(tzid="Etc/UTC").managed_filter is False
    assert parse(tzid="Etc/UTC", only_managed="true").managed_filter is True
