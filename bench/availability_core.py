"""The availability core alone (`calsync.availability.find_availability`), no store, no HTTP.

Synthetic input shaped like issue 14's benchmark: ``--members`` members (default 10),
each with ``--events`` events (default 1,000, then 250) over ``--days`` days (default
35), 10 % of them weekly series expanded into their occurrences (so 1,400 busy
intervals per member at 1,000 events), starting on a 15-minute grid at any hour of the
day, 15-90 minutes long. The members form 4 groups: 2 members ``all``, 3 members ``1``,
3 members ``2``, 2 members ``1``; four of them are managed (Europe/London 09:00-17:30
and America/New_York 09:00-17:00, Monday to Friday). One query period per day,
07:00-20:00Z; buffers 10 minutes before, 5 after; 30-minute slots every 30 minutes.

At 1,000 events a member is busy about three quarters of the day, so no time suits
all four groups: that run measures the work that does not depend on the answer. The
250-event run has a few dozen results, so it also measures building them.

Per response format and ``max_results`` (none, and the API's default 20), each run
times ``--repeat`` calls after 3 warm-up calls: wall-clock median and p99, and the
median CPU time of the process (less disturbed when other jobs share the cores). The
table gives the medians over ``--runs`` runs.

    .venv/bin/python bench/availability_core.py --runs 5 --repeat 50
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from calsync.availability import (  # noqa: E402
    AvailabilityQuery,
    AvailabilityRule,
    Buffer,
    Interval,
    Member,
    ParticipantGroup,
    ResponseFormat,
    WeeklyPeriod,
    find_availability,
)

START = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
GROUPS = ((2, "all"), (3, 1), (3, 2), (2, 1))
MANAGED = {0: "Europe/London", 2: "America/New_York", 5: "Europe/London", 8: "America/New_York"}


def busy_intervals(rng: random.Random, days: int, events: int) -> list[Interval]:
    out: list[Interval] = []
    series = events // 10
    for index in range(events):
        start = START + timedelta(days=rng.randrange(days), minutes=15 * rng.randrange(96))
        length = timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))
        if index < series:  # a weekly series: every occurrence inside the range
            start -= timedelta(days=7 * ((start - START).days // 7))
            while start < START + timedelta(days=days):
                out.append((start, start + length))
                start += timedelta(days=7)
        else:
            out.append((start, start + length))
    out.sort()  # the store's query returns them ordered by start
    return out


def rule(tzid: str) -> AvailabilityRule:
    hours = ("09:00", "17:30") if tzid == "Europe/London" else ("09:00", "17:00")
    periods = tuple(WeeklyPeriod.parse(day, *hours) for day in WEEKDAYS)
    return AvailabilityRule(tzid, periods, rule_id="work")


def build(
    members: int, days: int, events: int, seed: int
) -> tuple[AvailabilityQuery, dict[str, list[Interval]], dict[str, list[AvailabilityRule]]]:
    rng = random.Random(seed)
    subs = [f"acc_{index:02d}" for index in range(members)]
    everyone = [Member(sub, managed_availability=i in MANAGED) for i, sub in enumerate(subs)]
    groups = []
    taken = 0
    for size, required in GROUPS:
        chosen = everyone[taken : taken + size] if taken + size <= members else everyone[-size:]
        taken += size
        groups.append(ParticipantGroup(tuple(chosen), required))  # type: ignore[arg-type]
    periods = tuple(
        (START + timedelta(days=d, hours=7), START + timedelta(days=d, hours=20))
        for d in range(days)
    )
    query = AvailabilityQuery(
        participants=tuple(groups),
        required_duration=timedelta(minutes=30),
        query_periods=periods,
        buffer=Buffer(before=timedelta(minutes=10), after=timedelta(minutes=5)),
        response_format=ResponseFormat.SLOTS,
        start_interval=timedelta(minutes=30),
    )
    busy = {sub: busy_intervals(rng, days, events) for sub in subs}
    rules = {subs[i]: [rule(tzid)] for i, tzid in MANAGED.items() if i < members}
    return query, busy, rules


def measure(
    query: AvailabilityQuery,
    busy: dict[str, list[Interval]],
    rules: dict[str, list[AvailabilityRule]],
    repeat: int,
) -> tuple[float, float, float, int]:
    """Wall-clock p50 and p99 and CPU-time p50 (ms) of ``repeat`` calls, and the result count."""
    for _ in range(3):
        results = find_availability(query, busy, rules)
    wall, cpu = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        find_availability(query, busy, rules)
        cpu.append((time.process_time() - began_cpu) * 1000)
        wall.append((time.perf_counter() - began) * 1000)
    wall.sort()
    p99 = wall[min(len(wall) - 1, round(0.99 * (len(wall) - 1)))]
    return statistics.median(wall), p99, statistics.median(cpu), len(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--events", type=int, nargs="+", default=[1000, 250])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)

    print(f"Python {platform.python_version()}, load average {os.getloadavg()}")
    print(
        "| events/member | busy intervals | format | max_results | results "
        "| p50 ms | p99 ms | CPU p50 ms |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for events in args.events:
        query, busy, rules = build(args.members, args.days, events, args.seed)
        intervals = sum(len(v) for v in busy.values())
        for response_format in ResponseFormat:
            for limit in (None, 20):
                variant = replace(query, response_format=response_format, max_results=limit)
                runs = [measure(variant, busy, rules, args.repeat) for _ in range(args.runs)]
                p50, p99, cpu = (statistics.median(r[i] for r in runs) for i in range(3))
                shown = "none" if limit is None else str(limit)
                print(
                    f"| {events} | {intervals} | {response_format} | {shown} | {runs[0][3]} "
                    f"| {p50:.2f} | {p99:.2f} | {cpu:.2f} |"
                )
    print(f"load average at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
