"""Parsing CalDAV resources: calsync's fast reader vs the icalendar path, side by side.

Two corpora of N resources each, parsed in one process, alternating the two
readers run by run (medians of ``--runs``):

- ``plain``: the resources `bench/caldav_sync.py` puts on Radicale (a VTIMEZONE
  each, about 10 % weekly series);
- ``series``: every resource a weekly series with two overrides, one of them
  ``RANGE=THISANDFUTURE`` (the reader keeps its RECURRENCE-ID line).

    .venv/bin/python bench/ical_parse.py --events 10000 --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from caldav_sync import VTIMEZONE, event_ics  # bench/ is on sys.path when run as a script

from calsync.providers import _ical, _ical_fast


def series_ics(i: int) -> str:
    day = 5 + i % 20
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//bench//ical_parse//EN",
        VTIMEZONE,
        "BEGIN:VEVENT",
        f"UID:series-{i}@example.org",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:202601{day:02d}T090000",
        f"DTEND;TZID=Europe/Berlin:202601{day:02d}T093000",
        "RRULE:FREQ=WEEKLY;COUNT=20",
        f"EXDATE;TZID=Europe/Berlin:202602{day:02d}T090000",
        f"SUMMARY:Series {i}",
        "END:VEVENT",
    ]
    for week, extra in ((3, ""), (6, ";RANGE=THISANDFUTURE")):
        moved = f"2026{1 + (day + 7 * week) // 28:02d}{1 + (day + 7 * week) % 28:02d}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:series-{i}@example.org",
            "DTSTAMP:20260101T000000Z",
            f"RECURRENCE-ID{extra};TZID=Europe/Berlin:{moved}T090000",
            f"DTSTART;TZID=Europe/Berlin:{moved}T110000",
            f"DTEND;TZID=Europe/Berlin:{moved}T113000",
            f"SUMMARY:Series {i} (moved)",
            "END:VEVENT",
        ]
    lines += ["END:VCALENDAR", ""]
    return "\r\n".join(lines)


def timed(parse: Callable[[str], object], corpus: Sequence[str]) -> float:
    """CPU seconds of this process: parsing is CPU-bound, and on a shared machine
    wall time mostly measures the neighbours."""
    started = time.process_time()
    for resource in corpus:
        parse(resource)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    corpora = {
        "plain": [event_ics(i) for i in range(args.events)],
        "series": [series_ics(i) for i in range(args.events)],
    }
    readers: dict[str, Callable[[str], object]] = {
        "fast": _ical_fast.parse_events,
        "icalendar": _ical.parse_events,
    }
    for corpus in corpora.values():  # the fast reader must not fall back on these
        assert _ical_fast.parse_events_fast(corpus[0]) is not None
        readers["fast"](corpus[0])
    print("| corpus | N | fast (CPU s) | icalendar (CPU s) | icalendar / fast |")
    print("|---|---|---|---|---|")
    for name, corpus in corpora.items():
        times: dict[str, list[float]] = {reader: [] for reader in readers}
        for _ in range(args.runs):
            for reader, parse in readers.items():
                times[reader].append(timed(parse, corpus))
        fast, slow = (statistics.median(times[r]) for r in ("fast", "icalendar"))
        print(f"| {name} | {args.events} | {fast:.2f} | {slow:.2f} | {slow / fast:.1f}x |")


if __name__ == "__main__":
    main()
