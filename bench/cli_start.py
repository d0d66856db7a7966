"""Start-up cost of the ``calsync`` command against vdirsyncer, as processes, side by side.

Part 1, interpreter start and config (issue #11), each command a fresh process,
alternated in every round so that load hits all of them alike:

- ``calsync config check`` on the example config (one memory account);
- ``calsync sync --once`` on that memory account (SQLite, migrated beforehand);
- ``vdirsyncer --version``, the yardstick.

Part 2, a cold ``calsync sync --once`` of one CalDAV calendar of N events (default
2,000) on a real Radicale against ``vdirsyncer sync`` of the same calendar, both
fresh processes: initial (empty store / empty local folder; ``calsync db upgrade``
and ``vdirsyncer discover`` run untimed beforehand), after 1 % of the events were
changed by another client, and a no-op. A fresh store and folder per round.

Wall time medians (and CPU time: user + system of the child) over ``--runs``.

    .venv/bin/python bench/cli_start.py --runs 9 --caldav-runs 3

Needs vdirsyncer (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from caldav_sync import (  # bench/ is on sys.path when run as a script
    VDIRSYNCER,
    event_ics,
    prepare,
    start_radicale,
    vdirsyncer_config,
)
from tests.fixtures.radicale import RadicaleCalendar, RadicaleServer

BIN = Path(sys.executable).parent
CALSYNC = str(BIN / "calsync")
EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self) -> tuple[float, float]:
        return statistics.median(self.wall), statistics.median(self.cpu)


def timed(argv: Sequence[str], cwd: Path | None = None, stdin: bytes = b"") -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one process; fails unless it exits 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(list(argv), input=stdin, capture_output=True, cwd=cwd, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def ratio_line(name: str, ours: Timing, theirs: Timing, target: float) -> str:
    (wall, cpu), (twall, tcpu) = ours.median(), theirs.median()
    verdict = "met" if wall / twall <= target else "MISSED"
    return (
        f"  {name:<34}{wall * 1000:>9.0f} ms{twall * 1000:>9.0f} ms{wall / twall:>7.2f}x"
        f"{cpu / tcpu:>7.2f}x   target <= {target}x wall: {verdict}"
    )


# -- part 1 --------------------------------------------------------------------------


def startup(runs: int, work: Path) -> None:
    config = work / "calsync.toml"
    shutil.copy(EXAMPLE, config)
    (work / "var").mkdir()
    timed([CALSYNC, "--config", str(config), "db", "upgrade"], cwd=work)
    commands: dict[str, list[str]] = {
        "calsync config check": [CALSYNC, "--config", str(config), "config", "check"],
        "calsync sync --once (memory)": [CALSYNC, "--config", str(config), "sync", "--once"],
        "vdirsyncer --version": [VDIRSYNCER, "--version"],
    }
    timings = {name: Timing() for name in commands}
    for argv in commands.values():  # warm the page cache and .pyc files
        timed(argv, cwd=work)
    for _ in range(runs):
        for name, argv in commands.items():
            wall, cpu = timed(argv, cwd=work)
            timings[name].wall.append(wall)
            timings[name].cpu.append(cpu)
    yardstick = timings["vdirsyncer --version"]
    print(f"\nPart 1: medians of {runs} rounds (wall, then CPU = user + system)")
    for name, timing in timings.items():
        wall, cpu = timing.median()
        raw = " ".join(f"{w * 1000:.0f}" for w in timing.wall)
        print(f"  {name:<34}{wall * 1000:>7.0f} ms wall {cpu * 1000:>7.0f} ms CPU   raw: {raw}")
    print(f"  {'':<34}{'calsync':>12}{'yardstick':>12}{'wall':>8}{'CPU':>8}")
    print(
        ratio_line(
            "config check / vdirsyncer --version", timings["calsync config check"], yardstick, 0.5
        )
    )
    print(
        ratio_line(
            "sync --once / vdirsyncer --version",
            timings["calsync sync --once (memory)"],
            yardstick,
            1.0,
        )
    )


# -- part 2 --------------------------------------------------------------------------


def calsync_caldav_config(root: Path, server: RadicaleServer, calendar: RadicaleCalendar) -> Path:
    config = root / "calsync.toml"
    config.write_text(
        f"""[store]
url = "sqlite:///calsync.db"

[logging]
level = "warning"

[[accounts]]
name = "bench"
provider = "caldav"
url = "{server.principal_url}"
username = "{server.username}"
password_file = "{server.password_file}"
calendars = ["{calendar.url}"]
""",
        encoding="utf-8",
    )
    return config


PHASES = ("initial", "incremental", "noop")


def one_round(
    server: RadicaleServer,
    calendar: RadicaleCalendar,
    n: int,
    run: int,
    root: Path,
    ours: dict[str, Timing],
    theirs: dict[str, Timing],
) -> None:
    root.mkdir()
    config = calsync_caldav_config(root, server, calendar)
    timed([CALSYNC, "--config", str(config), "db", "upgrade"], cwd=root)
    vdir = [VDIRSYNCER, "-c", str(vdirsyncer_config(root, calendar))]
    timed([*vdir, "discover"], stdin=b"y\n" * 4)
    # Alternate who goes first, so neither always meets a cache the other warmed.
    pairs = [
        (ours, [CALSYNC, "--config", str(config), "sync", "--once"]),
        (theirs, [*vdir, "sync"]),
    ]
    order = pairs if run % 2 == 0 else pairs[::-1]

    def both(phase: str) -> None:
        for timing, argv in order:
            wall, cpu = timed(argv, cwd=root)
            timing[phase].wall.append(wall)
            timing[phase].cpu.append(cpu)

    both("initial")
    assert len(list((root / "local").iterdir())) == n
    for i in range(run, n, 100):  # 1 % changed by another client
        calendar.put(f"bench-{i}.ics", event_ics(i, summary=f"Changed {i} in {run}"))
    both("incremental")
    both("noop")
    shutil.rmtree(root, ignore_errors=True)


TARGETS = {"initial": 1.0, "incremental": 0.5, "noop": 0.5}


def caldav(runs: int, n: int, work: Path) -> None:
    (work / "radicale").mkdir()
    server = start_radicale(work / "radicale")
    try:
        calendar, once = prepare(server, n)
        print(
            f"\nPart 2: CalDAV, N={n}; Radicale one-time costs (untimed): "
            + ", ".join(f"{k}={v:.1f} s" for k, v in once.items())
        )
        ours = {phase: Timing() for phase in PHASES}
        theirs = {phase: Timing() for phase in PHASES}
        for run in range(runs):
            one_round(server, calendar, n, run, work / f"run-{run}", ours, theirs)
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    print(f"  medians of {runs} rounds; each command a fresh process")
    print(f"  {'phase':<34}{'calsync':>12}{'vdirsyncer':>12}{'wall':>8}{'CPU':>8}")
    for phase in PHASES:
        print(ratio_line(phase, ours[phase], theirs[phase], TARGETS[phase]))
    print("  raw wall seconds, calsync | vdirsyncer:")
    for phase in PHASES:
        print(
            f"    {phase:<12}"
            + " ".join(f"{w:.2f}" for w in ours[phase].wall)
            + " | "
            + " ".join(f"{w:.2f}" for w in theirs[phase].wall)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="rounds of part 1")
    parser.add_argument("--caldav-runs", type=int, default=3, help="rounds of part 2 (0: skip)")
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    if not Path(VDIRSYNCER).exists():
        sys.exit("vdirsyncer is missing: pip install -e '.[bench]'")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc {os.cpu_count()}, {platform.machine()}, "
        f"Python {platform.python_version()}; load average before {os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory(prefix="calsync-start-") as tmp:
        work = Path(tmp)
        (work / "startup").mkdir()
        startup(args.runs, work / "startup")
        if args.caldav_runs:
            caldav(args.caldav_runs, args.events, work)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
