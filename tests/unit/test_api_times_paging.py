"""api/paging.py and api/params.py: signed page tokens, totals, query parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.api.paging import (
    PageState,
    decode_token,
    derive_key,
    encode_token,
    first_page_total,
    settle_total,
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


@given(st.integers(1, 50), st.integers(0, 5000), st.integers(1, 200), st.integers(0, 60))
def test_pycronofy_loop_fetches_exactly_the_pages(
    page_size: int, estimate_rows: int, real_pages: int, drift: int
) -> None:
    """Whatever the first estimate, pycronofy's `while current < total` stops at the last page."""
    total = first_page_total(estimate_rows, page_size)
    fetched = 0
    current = 1
    while True:
        fetched += 1
        has_more = current < real_pages
        total = settle_total(PageState(current, total, None), has_more)
        if not current < total:
            break
        current += 1
    assert fetched == real_pages


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
