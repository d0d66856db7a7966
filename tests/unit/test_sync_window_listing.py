"""A complete listing of a window (Graph's calendarView) proves only the absence of
events that reach into that window (issue #13): a reconcile must never tombstone an
event, or a series, that merely left the window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calsync.model import EventContent, RemoteEvent
from calsync.providers.base import SyncWindow
from calsync.sync import CalendarState, EventState, Pulled, SyncPolicy, plan
from calsync.sync.actions import TombstoneFromRemote
from calsync.sync.planner import plan_listing_end
from calsync.sync.spans import reaches
from tests.unit.plan_scenarios import complete_end

BASE = datetime(2026, 12, 1, tzinfo=UTC)
WINDOW = SyncWindow(BASE, BASE + timedelta(days=30))
POLICY = SyncPolicy(allow_mass_delete=True)

hours = st.integers(-40 * 24, 70 * 24)


@st.composite
def events(draw: st.DrawFn, index: int) -> tuple[EventState, list[tuple[datetime, datetime]]]:
    """A stored event and the (start, end) of every occurrence it stands for."""
    start = BASE + timedelta(hours=draw(hours))
    length = timedelta(minutes=draw(st.sampled_from([0, 30, 60, 24 * 60, 3 * 24 * 60])))
    rules: tuple[str, ...] = ()
    spans = [(start, start + length)]
    if draw(st.booleans()):
        count, every = draw(st.integers(1, 8)), draw(st.integers(1, 10))
        rules = (f"RRULE:FREQ=DAILY;INTERVAL={every};COUNT={count}",)
        step = timedelta(days=every)
        spans = [(start + step * k, start + step * k + length) for k in range(count)]
    state = EventState(
        event_uid=f"evt_{index}",
        remote_id=f"r{index}",
        fingerprint="f",
        etag='"1"',
        start_at=start,
        end_at=start + length,
        tzid="UTC",
        rules=rules,
    )
    return state, spans


def overlaps(spans: list[tuple[datetime, datetime]], window: SyncWindow) -> bool:
    return any(
        s < window.end and (e > window.start or (e == s and s >= window.start)) for s, e in spans
    )


@given(st.data())
def test_reaches_is_an_occurrence_overlapping_the_window(data: st.DataObject) -> None:
    event, spans = data.draw(events(0))
    assert reaches(event, WINDOW) == overlaps(spans, WINDOW)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.booleans()), max_size=12), st.data())
def test_a_windowed_listing_tombstones_only_what_reaches_the_window(
    drawn: list[tuple[int, bool]], data: st.DataObject
) -> None:
    stored = [data.draw(events(i)) for i in range(len(drawn))]
    listed = {f"r{i}" for i, (_, kept) in enumerate(drawn) if kept}
    expected = {
        e.remote_id for e, spans in stored if e.remote_id not in listed and overlaps(spans, WINDOW)
    }
    state = CalendarState(tuple(e for e, _ in stored))
    # Listed events are named by id only here; what matters is which ones are absent.
    end = complete_end(state, listed | {"other"}, live_before=len(stored), window=WINDOW)
    tombstoned = {
        a.remote_id
        for a in plan_listing_end(state, end, POLICY)
        if isinstance(a, TombstoneFromRemote)
    }
    assert tombstoned == expected
    # Without a window every absent event is gone, as for any complete listing.
    unwindowed = plan_listing_end(state, replace(end, window=None), POLICY)
    assert {a.remote_id for a in unwindowed if isinstance(a, TombstoneFromRemote)} == {
        e.remote_id for e, _ in stored if e.remote_id not in listed
    }


def test_plan_reads_the_window_of_a_whole_listing_too() -> None:
    left = EventState(
        event_uid="evt_left",
        remote_id="left",
        fingerprint="f",
        start_at=BASE - timedelta(days=3),
        end_at=BASE - timedelta(days=3, hours=-1),
    )
    gone = EventState(
        event_uid="evt_gone",
        remote_id="gone",
        fingerprint="f",
        start_at=BASE + timedelta(days=3),
        end_at=BASE + timedelta(days=3, hours=1),
    )
    kept = EventState(event_uid="evt_kept", remote_id="kept", fingerprint="f")
    listing = RemoteEvent(
        remote_id="kept",
        content=EventContent(summary="k", start=BASE, end=BASE + timedelta(hours=1)),
    )
    pulled = Pulled(changed=(listing,), full_listing=True, cursor="c", final=True, window=WINDOW)
    actions = plan(CalendarState((left, gone, kept)), pulled, POLICY)
    assert {a.remote_id for a in actions if isinstance(a, TombstoneFromRemote)} == {"gone"}
