"""The plain-RRULE fast path (`calsync.api.expand_rrule`) agrees with recurring-ical-events.

Generated series, read through the CalDAV reader and the store's columns as a synced
series is: DAILY/WEEKLY/MONTHLY/YEARLY with INTERVAL, COUNT,
UNTIL in every form servers write (DATE, midnight UTC, UTC, local beside a zoned start),
BYDAY (with ordinals), BYMONTHDAY, BYMONTH, WKST; all-day, UTC, floating and zoned
starts in zones with DST (both hemispheres, Lord Howe's half hour), windows across the
changes; and, in some draws, an EXDATE, an RDATE or overrides (moved, cancelled,
RANGE=THISANDFUTURE), which the fast path must hand to the library. For each: the
occurrences through the fast path, through the library's path (``fast=False``) and the
library itself on the same bytes are the same, and so are the busy intervals the
availability query builds from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from calsync.api.availability_busy import busy_intervals
from calsync.api.expand import MAX_OCCURRENCES_PER_SERIES, Occurrence, expand_series
from calsync.api.expand_rrule import _stepped, plain_rule_spans
from calsync.model import EventContent
from calsync.store.event_codec import content_columns
from calsync.store.records import BusyRow
from tests.fixtures.ical_series import (
    READER_ZONES,
    ZONES,
    calendar_text,
    calsync_occurrences,
    library_occurrences,
    parsed_series,
    prop,
    stored,
)

#: Around the 2026 DST changes (US 8 Mar / 1 Nov, EU 29 Mar / 25 Oct, Lord Howe 5 Apr / 4 Oct).
_ANCHORS = (date(2026, 3, 2), date(2026, 3, 26), date(2026, 9, 28), date(2026, 10, 22))
_STEP = {
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
    "MONTHLY": timedelta(days=31),
    "YEARLY": timedelta(days=366),
}


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo("Europe/Berlin" if name == "W. Europe Standard Time" else name)


def _in_gap(local: datetime, zone: str) -> bool:
    tz = _zone(zone)
    return local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local


@dataclass(frozen=True)
class Series:
    ics: str
    window: tuple[datetime, datetime]  # aware, in the reader's zone
    tzid: str
    plain: bool  # only DTSTART/DTEND and one RRULE of the parts the fast path takes

    def __repr__(self) -> str:
        lo, hi = (w.isoformat() for w in self.window)
        return f"Series({lo} .. {hi} ({self.tzid}), plain={self.plain},\n{self.ics})"


@st.composite
def _until(draw: st.DrawFn, kind: str, zone: str, last: datetime) -> str:
    if kind == "date":
        form = draw(st.sampled_from(["date", "utc-midnight", "utc"]))
        if form == "date":
            return f"UNTIL={last:%Y%m%d}"
        if form == "utc-midnight":
            return f"UNTIL={last:%Y%m%d}T000000Z"
        return f"UNTIL={(last + timedelta(hours=9)):%Y%m%dT%H%M%S}Z"
    if kind == "floating":
        return f"UNTIL={last:%Y%m%dT%H%M%S}"
    if kind == "zoned" and draw(st.integers(0, 3)) == 0:
        # A local UNTIL beside a zoned start: dateutil refuses it, the library rewrites it.
        return f"UNTIL={last:%Y%m%dT%H%M%S}"
    until = last.replace(tzinfo=_zone(zone)).astimezone(UTC)
    until += draw(st.sampled_from([timedelta(0), timedelta(minutes=-1), timedelta(hours=1)]))
    return f"UNTIL={until:%Y%m%dT%H%M%S}Z"


@st.composite
def _rule(draw: st.DrawFn, kind: str, zone: str, anchor: datetime) -> str:
    freq = draw(st.sampled_from(sorted(_STEP)))
    interval = draw(st.integers(1, 3))
    parts = [f"FREQ={freq}"]
    if interval > 1 or draw(st.integers(0, 5)) == 0:
        parts.append(f"INTERVAL={interval}")
    end = draw(st.sampled_from(["count", "until", "until", "none"]))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 10))}")
    elif end == "until":
        last = anchor + _STEP[freq] * interval * draw(st.integers(0, 6))
        parts.append(draw(_until(kind, zone, last)))
    days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    if freq == "WEEKLY" and draw(st.booleans()):
        parts.append("BYDAY=" + ",".join(draw(st.sets(st.sampled_from(days), min_size=1))))
    if freq == "MONTHLY":
        choice = draw(st.sampled_from(["none", "byday", "bymonthday"]))
        if choice == "byday":
            ordinal = draw(st.sampled_from(["1", "2", "-1", ""]))
            parts.append(f"BYDAY={ordinal}{draw(st.sampled_from(days))}")
        elif choice == "bymonthday":
            parts.append(f"BYMONTHDAY={draw(st.sampled_from(['1', '15', '31', '-1', '1,15']))}")
    if freq == "YEARLY" and draw(st.booleans()):
        parts.append(f"BYMONTH={draw(st.sampled_from(['3', '10', '3,10']))}")
    if draw(st.integers(0, 5)) == 0:
        parts.append("WKST=SU")
    return "RRULE:" + ";".join(parts)


@st.composite
def series(draw: st.DrawFn) -> Series:
    kind = draw(st.sampled_from(["date", "utc", "zoned", "zoned", "floating"]))
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(_ANCHORS)) + timedelta(days=draw(st.integers(0, 12)))
    hour, minute = draw(st.sampled_from([(0, 0), (1, 30), (2, 30), (9, 0), (23, 30)]))
    anchor = datetime(day.year, day.month, day.day, hour, minute)
    if kind == "date":
        anchor = anchor.replace(hour=0, minute=0)
    # The store keeps instants: a start in a DST gap would not come back as written.
    assume(not (kind in ("zoned", "floating") and _in_gap(anchor, zone)))
    master = ["UID:s@example.org", "DTSTAMP:20260101T000000Z", prop("DTSTART", anchor, kind, zone)]
    if kind == "date":
        master.append(prop("DTEND", anchor + timedelta(days=draw(st.integers(1, 3))), kind, zone))
    else:
        minutes = draw(st.sampled_from([0, 30, 60, 150, 25 * 60]))
        end = anchor + timedelta(minutes=minutes)
        assume(not (kind in ("zoned", "floating") and _in_gap(end, zone)))
        master.append(prop("DTEND", end, kind, zone))
    master.append(draw(_rule(kind, zone, anchor)))
    plain = True
    extra = draw(st.sampled_from(["none", "none", "none", "exdate", "rdate", "override"]))
    step = timedelta(days=1 if kind == "date" else 7)
    if extra in ("exdate", "rdate"):
        moment = anchor + step * draw(st.integers(0, 4))
        master.append(prop(extra.upper(), moment, kind, zone))
        plain = False
    if draw(st.booleans()):
        master.append(f"STATUS:{draw(st.sampled_from(['TENTATIVE', 'CONFIRMED', 'CANCELLED']))}")
    if draw(st.integers(0, 3)) == 0:
        master.append("TRANSP:TRANSPARENT")
    vevents = [master]
    if extra == "override":
        original = anchor + step * draw(st.integers(0, 3))
        moved = original + draw(st.sampled_from([timedelta(0), timedelta(hours=2)]))
        if kind == "date":
            moved = moved.replace(hour=0, minute=0)
        assume(not (kind in ("zoned", "floating") and _in_gap(moved, zone)))
        rid_range = ";RANGE=THISANDFUTURE" if draw(st.booleans()) else ""
        override = [
            "UID:s@example.org",
            "DTSTAMP:20260101T000000Z",
            prop("RECURRENCE-ID", original, kind, zone, rid_range),
            prop("DTSTART", moved, kind, zone),
        ]
        if draw(st.booleans()):
            override.append("STATUS:CANCELLED")
        vevents.append(override)
        plain = False
    tzid = "Etc/UTC" if kind == "floating" else draw(st.sampled_from(READER_ZONES))
    reader = ZoneInfo(tzid)
    lo = anchor.replace(tzinfo=reader) + timedelta(
        days=draw(st.integers(-10, 400)), hours=draw(st.integers(0, 23))
    )
    hi = lo + timedelta(days=draw(st.sampled_from([1, 7, 35, 60, 800])))
    return Series(calendar_text(*vevents), (lo, hi), tzid, plain)


def _expand(
    master: EventContent, overrides: list[EventContent], s: Series, fast: bool
) -> list[Occurrence[str]]:
    window = (s.window[0].astimezone(UTC), s.window[1].astimezone(UTC))
    return expand_series(
        "evt_s",
        ("master", master),
        [(f"o{i}", o) for i, o in enumerate(overrides)],
        window,
        ZoneInfo(s.tzid),
        fast=fast,
    )


def _row(uid: str, content: EventContent, series_uid: str | None) -> BusyRow:
    columns = content_columns(content)
    return BusyRow(
        event_uid=uid,
        recurring_event_uid=series_uid,
        recurring=columns["recurring"],
        all_day=columns["all_day"],
        start_at=columns["start_at"],
        end_at=columns["end_at"],
        start_date=columns["start_date"],
        end_date=columns["end_date"],
        tzid=columns["tzid"],
        transparency=columns["transparency"],
        status=columns["status"],
        attendees=None,
        content=content,
    )


@settings(max_examples=400)
@given(series())
def test_the_fast_path_expands_and_finds_busy_time_as_the_library_does(s: Series) -> None:
    note(repr(s))
    master, overrides = parsed_series(s.ics)
    master = stored(master)
    overrides = [stored(o) for o in overrides]
    window = (s.window[0].astimezone(UTC), s.window[1].astimezone(UTC))
    spans = plain_rule_spans(master, bool(overrides), s.window, MAX_OCCURRENCES_PER_SERIES)
    # The fast path takes every plain series (so this test exercises it), and only those.
    assert (spans is not None) == s.plain
    fast = _expand(master, overrides, s, fast=True)
    slow = _expand(master, overrides, s, fast=False)
    assert fast == slow
    # ... which is the library's own answer on the same bytes.
    assert calsync_occurrences(master, overrides, s.window, s.tzid) == library_occurrences(
        s.ics, s.window
    )
    # The availability query's busy time: the same through either path.
    rows = [_row("evt_s", master, None)]
    rows += [_row(f"evt_o{i}", o, "evt_s") for i, o in enumerate(overrides)]
    fast_busy = busy_intervals(rows, window, "me@example.org", fast=True)
    slow_busy = busy_intervals(rows, window, "me@example.org", fast=False)
    assert fast_busy == slow_busy


def test_a_start_the_rule_does_not_match_is_an_occurrence_unless_after_until() -> None:
    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 4, 9, tzinfo=zone)  # a Wednesday
    content = EventContent(
        "s",
        start.astimezone(UTC),
        (start + timedelta(hours=1)).astimezone(UTC),
        tzid="America/New_York",
        recurrence=("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2",),
    )
    window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    spans = plain_rule_spans(content, False, window, MAX_OCCURRENCES_PER_SERIES)
    assert spans is not None
    starts = [s for s, _ in spans if isinstance(s, datetime)]
    # Wednesday 4th (DTSTART), then Mondays 9th (EDT from the 8th: 13:00Z) and 16th.
    assert [(s.day, s.astimezone(UTC).hour) for s in starts] == [(4, 14), (9, 13), (16, 13)]
    slow = expand_series("s", (None, content), [], window, ZoneInfo("UTC"), fast=False)
    assert starts == [o.start for o in slow]


def test_rules_outside_the_fast_path_go_to_the_library() -> None:
    base = EventContent(
        "s", datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC)
    )
    window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    for lines in (
        ("RRULE:FREQ=HOURLY;COUNT=3",),
        ("RRULE:FREQ=DAILY;BYHOUR=9,10",),
        ("RRULE:FREQ=DAILY;COUNT=3", "EXDATE:20260303T090000Z"),
        ("RRULE:FREQ=DAILY;COUNT=3", "RRULE:FREQ=WEEKLY;COUNT=3"),
        ("RDATE:20260303T090000Z",),
        ("RRULE:FREQ=DAILY;BYSETPOS=1;BYDAY=MO,TU",),
    ):
        content = EventContent(base.summary, base.start, base.end, recurrence=lines)
        assert plain_rule_spans(content, False, window, MAX_OCCURRENCES_PER_SERIES) is None
    plain = EventContent(base.summary, base.start, base.end, recurrence=("RRULE:FREQ=DAILY",))
    assert plain_rule_spans(plain, True, window, MAX_OCCURRENCES_PER_SERIES) is None
    assert plain_rule_spans(plain, False, window, 5) is None  # more than the cap
    assert len(plain_rule_spans(plain, False, window, 40) or []) == 30


def test_a_stepped_rule_keeps_its_wall_time_across_dst_without_dateutil_iterating() -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 16, 9, 0, 0, 250, tzinfo=zone)  # microseconds: dateutil drops them
    rule = "RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=20260427T070000Z"
    content = EventContent(
        "s",
        start.astimezone(UTC),
        (start + timedelta(hours=1)).astimezone(UTC),
        tzid="Europe/Berlin",
        recurrence=(rule,),
    )
    assert _stepped("FREQ=WEEKLY;UNTIL=20260427T070000Z;INTERVAL=2", False)[1] is not None
    window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    fast = expand_series("s", (None, content), [], window, ZoneInfo("UTC"))
    slow = expand_series("s", (None, content), [], window, ZoneInfo("UTC"), fast=False)
    assert fast == slow
    # 09:00 Berlin every other week: 08:00Z before the change on 29 March, 07:00Z after
    # it, the last one on UNTIL exactly; and DTSTART itself with its microseconds (the
    # rule's own first occurrence has none), which the library lists as one more.
    assert [(o.start.day, o.start.hour, o.start.microsecond) for o in fast] == [  # type: ignore[union-attr]
        (16, 8, 0),
        (16, 8, 250),
        (30, 7, 0),
        (13, 7, 0),
        (27, 7, 0),
    ]
