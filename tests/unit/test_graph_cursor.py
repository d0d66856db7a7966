"""The Graph cursor carries the series membership of listed instances (issue #13):
whatever it holds comes back from the stored text, so a restarted process places a
removed occurrence as the process that listed it would."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import CursorExpired
from calsync.providers._graph_cursor import (
    KEEP_BEFORE_WINDOW,
    Membership,
    dump_cursor,
    instance_key,
    load_cursor,
)

BOUNDS = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC))
LOW = BOUNDS[0] - KEEP_BEFORE_WINDOW

timed = st.datetimes(
    min_value=datetime(2026, 10, 1), max_value=datetime(2027, 4, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
all_day = st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 4, 1))
series = st.tuples(st.sampled_from(["AAMkA=", "AAMkB-", "AAMkC_"]), st.booleans())


@st.composite
def memberships(draw: st.DrawFn) -> Membership:
    found: Membership = {}
    for instance_id, (master, whole_days) in draw(
        st.dictionaries(st.text(min_size=1, max_size=200), series, max_size=40)
    ).items():
        original = draw(all_day if whole_days else timed)
        found[instance_key(instance_id)] = (master, original)
    return found


def kept(membership: Membership) -> Membership:
    return {
        key: (master, original)
        for key, (master, original) in membership.items()
        if original >= (LOW if isinstance(original, datetime) else LOW.date())
    }


@given(memberships())
def test_the_membership_comes_back_from_the_cursor(membership: Membership) -> None:
    loaded = load_cursor(dump_cursor("https://graph/delta?$deltatoken=x", BOUNDS, membership))
    assert loaded.link == "https://graph/delta?$deltatoken=x"
    assert loaded.bounds == BOUNDS
    assert loaded.instances == kept(membership)
    for key, (_, original) in (loaded.instances or {}).items():
        assert type(original) is type(membership[key][1])


@given(st.text(min_size=1), st.text(min_size=1))
def test_instance_keys_are_short_and_tell_ids_apart(first: str, second: str) -> None:
    assert len(instance_key(first)) == 12
    assert (instance_key(first) == instance_key(second)) == (first == second)


def test_a_cursor_written_before_the_membership_is_still_read() -> None:
    older = {"link": "https://graph/delta", "start": "2026-12-01T00:00:00Z",
             "end": "2027-03-01T00:00:00Z"}  # fmt: skip
    loaded = load_cursor(json.dumps(older))
    assert loaded.instances is None and loaded.bounds == BOUNDS


@pytest.mark.parametrize("text", ["{", '{"link": 1}', json.dumps({"link": "l", "start": "x"})])
def test_an_unreadable_cursor_lists_again(text: str) -> None:
    with pytest.raises(CursorExpired):
        load_cursor(text)
