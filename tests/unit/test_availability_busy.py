"""What the availability query counts as busy (`calsync.api.availability_busy`), on
records shaped as the store's busy read returns them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from calsync.api.availability_busy import BusyCache, busy_intervals
from calsync.model import Attendee, EventContent
from calsync.store.records import BusyRow

T0 = datetime(2031, 3, 3, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(days=7))
ME = "me@example.org"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def single(uid: str, start: datetime, end: datetime, **kw: Any) -> BusyRow:
    attendees = kw.pop("attendees", None)
    values: dict[str, Any] = {
        "event_uid": uid,
        "recurring_event_uid": None,
        "recurring": False,
        "all_day": False,
        "start_at": start,
        "end_at": end,
        "start_date": None,
        "end_date": None,
        "tzid": "Etc/UTC",
        "transparency": "opaque",
        "status": "confirmed",
        "attendees": None if attendees is None else json.dumps(attendees),
        "content": None,
    }
    values.update(kw)
    return BusyRow(**values)


def series_row(uid: str, content: EventContent, master: str | None = None) -> BusyRow:
    start, end = content.start, content.end
    assert isinstance(start, datetime) and isinstance(end, datetime)
    return BusyRow(
        event_uid=uid,
        recurring_event_uid=master,
        recurring=bool(content.recurrence),
        all_day=False,
        start_at=start,
        end_at=end,
        start_date=None,
        end_date=None,
        tzid=content.tzid,
        transparency=content.transparency,
        status=content.status,
        attendees=None,
        content=content,
    )


def test_opaque_and_tentative_are_busy_transparent_cancelled_declined_are_free() -> None:
    rows = [
        single("a", at(1), at(2)),
        single("b", at(2), at(3), status="tentative"),  # touches a: one block
        single("c", at(4), at(5), transparency="transparent"),
        single("d", at(6), at(7), status="cancelled"),
        single("e", at(8), at(9), attendees=[{"email": "ME@example.org", "status": "declined"}]),
        single("f", at(10), at(11), attendees=[{"email": ME, "status": "tentative"}]),
        single("g", at(12), at(13), attendees=[{"email": "x@example.org", "status": "declined"}]),
    ]
    assert busy_intervals(rows, WINDOW, ME) == [(at(1), at(3)), (at(10), at(11)), (at(12), at(13))]
    # Without an email nothing is "declined by the account".
    assert (at(8), at(9)) in busy_intervals(rows, WINDOW, None)


def test_all_day_events_are_busy_for_the_day_in_their_own_zone() -> None:
    row = single(
        "day",
        at(-24),
        at(48),
        all_day=True,
        start_date=date(2031, 3, 4),
        end_date=date(2031, 3, 5),
        tzid="America/New_York",
    )
    # 2031-03-04 00:00 EST is 05:00Z.
    assert busy_intervals([row], WINDOW, ME) == [(at(24 + 5), at(48 + 5))]


def test_series_are_expanded_with_overrides_and_cancellations() -> None:
    master = EventContent("s", at(9), at(10), recurrence=("RRULE:FREQ=DAILY;COUNT=4",))
    moved = EventContent("s", at(24 + 15), at(24 + 16), original_start=at(24 + 9))
    cancelled = EventContent(
        "s", at(48 + 9), at(48 + 10), original_start=at(48 + 9), status="cancelled"
    )
    declined = EventContent(
        "s",
        at(72 + 9),
        at(72 + 10),
        original_start=at(72 + 9),
        attendees=(Attendee(ME, None, "declined"),),
    )
    rows = [
        series_row("s", master),
        series_row("s-1", moved, "s"),
        series_row("s-2", cancelled, "s"),
        series_row("s-3", declined, "s"),
        # An override whose series is not among the rows (deleted) stands alone.
        series_row("o-1", EventContent("o", at(100), at(101), original_start=at(99)), "gone"),
    ]
    cache: BusyCache[Any] = BusyCache(10)
    expected = [(at(9), at(10)), (at(24 + 15), at(24 + 16)), (at(100), at(101))]
    assert busy_intervals(rows, WINDOW, ME, cache) == expected
    assert busy_intervals(rows, WINDOW, ME, cache) == expected  # from the series cache
    # A changed override is a new key: never the old answer.
    rows[1] = series_row(
        "s-1", EventContent("s", at(24 + 17), at(24 + 18), original_start=at(24 + 9)), "s"
    )
    assert busy_intervals(rows, WINDOW, ME, cache)[1] == (at(24 + 17), at(24 + 18))


def test_only_the_window_is_kept() -> None:
    rows = [single("early", at(-5), at(-1)), single("edge", at(-1), at(1))]
    assert busy_intervals(rows, WINDOW, ME) == [(at(-1), at(1))]
