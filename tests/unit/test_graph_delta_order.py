"""The order of a delta round's instances does not decide which version of a series
master is stored (issue #13): an exception listed before the occurrences whose etag
says the master changed must not make the pull emit the master it had cached."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from calsync.providers._graph_convert import to_remote_event
from calsync.providers._graph_delta import CalendarMemory, DeltaPull

RULE = {
    "pattern": {"type": "daily", "interval": 1},
    "range": {"type": "numbered", "startDate": "2026-12-10", "numberOfOccurrences": 4},
}


def master(etag: str, subject: str, hour: int) -> dict[str, Any]:
    return {
        "id": "M",
        "type": "seriesMaster",
        "@odata.etag": etag,
        "subject": subject,
        "start": {"dateTime": f"2026-12-10T{hour:02}:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-12-10T{hour + 1:02}:00:00.0000000", "timeZone": "UTC"},
        "recurrence": RULE,
    }


def instance(kind: str, day: int, etag: str, hour: int) -> dict[str, Any]:
    return {
        "id": f"M-{day}",
        "type": kind,
        "seriesMasterId": "M",
        "@odata.etag": etag,
        "subject": "Exception" if kind == "exception" else "New",
        "originalStart": f"2026-12-{10 + day}T{hour:02}:00:00Z",
        "start": {"dateTime": f"2026-12-{10 + day}T{hour + 2:02}:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-12-{10 + day}T{hour + 3:02}:00:00.0000000", "timeZone": "UTC"},
    }


class GraphStub:
    """Answers only ``GET /me/events/M`` (the master as it is now) and counts it."""

    def __init__(self, current: dict[str, Any]) -> None:
        self.current = current
        self.gets = 0

    def json(self, method: str, path: str, what: str, **options: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", "/me/events/M"), (method, path)
        self.gets += 1
        return self.current


@given(st.permutations(range(4)), st.integers(1, 3))
def test_the_newest_master_is_emitted_last_whatever_the_order(
    order: list[int], batches: int
) -> None:
    old, new = master('W/"1"', "Old", 9), master('W/"2"', "New", 10)
    memory = CalendarMemory()
    memory.masters["M"] = ('W/"1"', to_remote_event(old))
    items = [instance("exception", 0, 'W/"x"', 10)]
    items += [instance("occurrence", day, 'W/"2"', 10) for day in (1, 2, 3)]
    items = [items[i] for i in order]
    pull = DeltaPull(GraphStub(new), "cal", memory)  # type: ignore[arg-type]
    emitted = []
    size = -(-len(items) // batches)
    for first in range(0, len(items), size):  # pages of a full round, listed one by one
        emitted += pull._listed(items[first : first + size])
    masters = [e for e in emitted if e.remote_id == "M"]
    assert masters, "the series' master is emitted"
    assert masters[-1].etag == 'W/"2"' and masters[-1].content.summary == "New"
    assert [e.remote_id for e in emitted if e.master_remote_id == "M"] == ["M-0"]


def test_an_occurrence_an_organizer_cancelled_is_a_cancelled_override() -> None:
    new = master('W/"2"', "New", 10)
    memory = CalendarMemory()
    memory.masters["M"] = ('W/"2"', to_remote_event(new))
    cancelled = {**instance("exception", 1, 'W/"x"', 10), "isCancelled": True}
    pull = DeltaPull(GraphStub(new), "cal", memory)  # type: ignore[arg-type]
    emitted = pull._listed([instance("occurrence", 0, 'W/"2"', 10), cancelled])
    [override] = [e for e in emitted if e.master_remote_id == "M"]
    assert override.remote_id == "M-1" and override.content.status == "cancelled"
    assert override.content.original_start == datetime(2026, 12, 11, 10, tzinfo=UTC)
