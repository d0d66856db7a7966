"""RRULE <-> Graph patternedRecurrence (issue #13).

The property that matters: for any pattern Graph holds, the RRULE calsync reads
from it names exactly the dates Graph's own expansion gives. Graph's side is the
fake's expansion (`tests.fakes._graph_recurrence`, written from Microsoft's pages
independently of calsync); the RRULE side is dateutil's. And what calsync writes
reads back to the same rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from hypothesis import assume, given
from hypothesis import strategies as st

from calsync.providers._graph_recurrence import (
    DAYS,
    RecurrenceNotExpressible,
    from_graph,
    to_graph,
)
from tests.fakes import _graph_recurrence as graph

BERLIN = ZoneInfo("Europe/Berlin")
HORIZON = 3 * 366  # days of expansion compared


@st.composite
def patterns(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(graph.PATTERN_TYPES)))
    pattern: dict[str, Any] = {"type": kind, "interval": draw(st.integers(1, 3))}
    if kind in ("weekly", "relativeMonthly", "relativeYearly"):
        pattern["daysOfWeek"] = draw(
            st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True)
        )
    if kind == "weekly":
        pattern["firstDayOfWeek"] = draw(st.sampled_from(DAYS))
    if kind in ("relativeMonthly", "relativeYearly"):
        pattern["index"] = draw(st.sampled_from(sorted(graph.INDEXES)))
    if kind in ("absoluteYearly", "relativeYearly"):
        pattern["month"] = draw(st.integers(1, 12))
    if kind in ("absoluteMonthly", "absoluteYearly"):
        pattern["dayOfMonth"] = draw(st.integers(1, 28))
    return pattern


@st.composite
def series(draw: st.DrawFn) -> tuple[dict[str, Any], date, time]:
    """A valid Graph recurrence whose start date is its first occurrence."""
    pattern = draw(patterns())
    day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 800)))
    probe = {"pattern": pattern, "range": {"type": "noEnd", "startDate": day.isoformat()}}
    first = next(graph.occurrence_dates(graph.validate(probe, day)), None)
    assume(first is not None)
    assert first is not None
    ending = draw(st.sampled_from(["noEnd", "numbered", "endDate"]))
    rng: dict[str, Any] = {
        "type": ending,
        "startDate": first.isoformat(),
        "recurrenceTimeZone": "W. Europe Standard Time",
    }
    if ending == "numbered":
        rng["numberOfOccurrences"] = draw(st.integers(1, 30))
    if ending == "endDate":
        rng["endDate"] = (first + timedelta(days=draw(st.integers(0, 700)))).isoformat()
    at = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30])))
    return graph.validate({"pattern": pattern, "range": rng}, first), first, at


def rrule_dates(line: str, start: datetime) -> list[date]:
    """The dates dateutil expands ``line`` to, in the series' wall time (as RFC 5545 does)."""
    parts = []
    for part in line.partition(":")[2].split(";"):
        if part.startswith("UNTIL=") and part.endswith("Z"):
            until = datetime.strptime(part[6:], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            part = "UNTIL=" + until.astimezone(BERLIN).strftime("%Y%m%dT%H%M%S")
        parts.append(part)
    naive = start.replace(tzinfo=None)
    found = rrulestr(";".join(parts), dtstart=naive)
    window = (naive - timedelta(seconds=1), naive + timedelta(days=HORIZON))
    return [d.date() for d in found.between(*window, inc=True)]


@given(series())
def test_the_rrule_read_from_a_graph_series_names_graph_s_dates(
    case: tuple[dict[str, Any], date, time],
) -> None:
    recurrence, first, at = case
    start = datetime.combine(first, at, tzinfo=BERLIN)
    [line] = from_graph(recurrence, start, BERLIN)
    expected = list(graph.occurrence_dates(recurrence, until=first + timedelta(days=HORIZON)))
    assert (line, rrule_dates(line, start)) == (line, expected)


@given(series())
def test_what_calsync_writes_reads_back_to_the_same_rule(
    case: tuple[dict[str, Any], date, time],
) -> None:
    recurrence, first, at = case
    start = datetime.combine(first, at, tzinfo=BERLIN)
    lines = from_graph(recurrence, start, BERLIN)
    written = to_graph(lines, start, BERLIN, "W. Europe Standard Time")
    normal = graph.validate(written, first)
    assert from_graph(normal, start, BERLIN) == lines
    assert list(graph.occurrence_dates(normal, until=first + timedelta(days=HORIZON))) == list(
        graph.occurrence_dates(recurrence, until=first + timedelta(days=HORIZON))
    )


def test_common_rules_come_back_verbatim() -> None:
    start = datetime(2026, 12, 14, 9, 0, tzinfo=BERLIN)  # a Monday
    for line in (
        "RRULE:FREQ=WEEKLY;COUNT=5",
        "RRULE:FREQ=DAILY;INTERVAL=2",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "RRULE:FREQ=MONTHLY;BYDAY=2MO",
        "RRULE:FREQ=MONTHLY",
        "RRULE:FREQ=YEARLY",
        "RRULE:FREQ=WEEKLY;UNTIL=20270111T080000Z",
    ):
        body = to_graph((line,), start, BERLIN, "W. Europe Standard Time")
        assert from_graph(graph.validate(body, start.date()), start, BERLIN) == (line,)


@pytest.mark.parametrize(
    "lines",
    [
        ("RRULE:FREQ=WEEKLY", "EXDATE:20261221T080000Z"),
        ("RRULE:FREQ=WEEKLY", "RDATE:20261222T080000Z"),
        ("RRULE:FREQ=WEEKLY", "RRULE:FREQ=DAILY"),
        ("RRULE:FREQ=HOURLY",),
        ("RRULE:FREQ=DAILY;BYHOUR=9,17",),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=31",),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15",),
        ("RRULE:FREQ=MONTHLY;BYDAY=5MO",),
        ("RRULE:FREQ=WEEKLY;BYDAY=TU",),  # the start (a Monday) is not an occurrence
    ],
)
def test_what_graph_cannot_express_is_refused_clearly(lines: tuple[str, ...]) -> None:
    start = datetime(2026, 12, 14, 9, 0, tzinfo=BERLIN)
    with pytest.raises(RecurrenceNotExpressible, match="Microsoft Graph cannot express"):
        to_graph(lines, start, BERLIN, "W. Europe Standard Time")
