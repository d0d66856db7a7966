"""Property: a client polling with ``last_modified`` never misses a later change."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.store import EventQuery, Store, WriteOutcome
from tests.fixtures.store import content, new_calendar

KEYS = st.sampled_from(["a", "b", "c", "d"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), KEYS, st.sampled_from(["x", "y", "z"])),
        st.tuples(st.just("delete"), KEYS, st.just("")),
        st.tuples(st.just("poll"), st.just(""), st.just("")),
    ),
    min_size=1,
    max_size=12,
)


def _whole_second(t: datetime) -> datetime:
    return t.replace(microsecond=0)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, account=st.uuids())
def test_list_changed_since_returns_exactly_the_later_changes(
    store: Store, ops: list[tuple[str, str, str]], account: object
) -> None:
    cal = new_calendar(store, account_name=str(account))
    everything = EventQuery(account_pk=cal.account_pk, include_deleted=True, limit=1000)
    polls: list[tuple[datetime, int]] = []  # (last_modified a client would send, op index)
    changed_at: list[tuple[int, str]] = []  # (op index, event_uid) of every real change
    for i, (kind, key, summary) in enumerate(ops):
        if kind == "poll":
            with store.read() as uow:
                seen = uow.events.list_changed(everything)
            if seen:
                polls.append((_whole_second(max(e.updated for e in seen)), i))
            continue
        with store.write() as uow:
            if kind == "upsert":
                w = uow.events.upsert_managed(cal.pk, key, content(summary))
            else:
                w = uow.events.delete_managed(cal.pk, key)
        if w.outcome not in (WriteOutcome.UNCHANGED, WriteOutcome.MISSING):
            assert w.event is not None
            changed_at.append((i, w.event.event_uid))

    with store.read() as uow:
        final = {e.event_uid: e for e in uow.events.list_changed(everything)}
        for since, at in polls:
            got = {
                e.event_uid
                for e in uow.events.list_changed(
                    EventQuery(account_pk=cal.account_pk, include_deleted=True, since=since)
                )
            }
            # Exactly the events whose `updated` is on or after `since` ...
            assert got == {uid for uid, e in final.items() if e.updated >= since}
            # ... which include every event changed after the poll.
            assert {uid for i, uid in changed_at if i > at} <= got
