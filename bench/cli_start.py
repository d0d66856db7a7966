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

calsync's sources (and ``--before``'s) are byte-compiled first, as ``pip install``
does for an installed package and for vdirsyncer here: this checkout is an
editable install, and with ``PYTHONDONTWRITEBYTECODE`` set (as in this project's
shells) every run would otherwise compile all of calsync again (~15 % of a
``sync --once``), a cost no installed calsync pays.

    .venv/bin/python bench/cli_start.py --runs 9 --caldav-runs 3

``--before DIR`` adds an older checkout (``git worktree add --detach DIR REV``),
run from the same interpreter with its ``src`` first on PYTHONPATH, to every
comparison: the before/after of a change, side by side in the same run.

Needs vdirsyncer (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import compileall
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
SOURCE = Path(__file__).resolve().parent.parent / "src"


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self) -> tuple[float, float]:
        return statistics.median(self.wall), statistics.median(self.cpu)


@dataclass(frozen=True)
class Cmd:
    """A command line, and the source tree it runs from (None: this checkout)."""

    argv: tuple[str, ...]
    source: Path | None = None


def calsync_cmd(source: Path | None, *args: str) -> Cmd:
    if source is None:
        return Cmd((CALSYNC, *args))
    # The older tree's package shadows the editable install (PYTHONPATH comes first).
    return Cmd((sys.executable, "-m", "calsync.cli.main", *args), source)


def timed(
    cmd: Cmd | Sequence[str], cwd: Path | None = None, stdin: bytes = b""
) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one process; fails unless it exits 0."""
    if not isinstance(cmd, Cmd):
        cmd = Cmd(tuple(cmd))
    argv = cmd.argv
    env = dict(os.environ)
    if cmd.source is not None:
        env["PYTHONPATH"] = str(cmd.source / "src")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        list(argv), input=stdin, capture_output=True, cwd=cwd, env=env, check=False
    )
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


def memory_setup(work: Path, source: Path | None) -> Path:
    work.mkdir()
    config = work / "calsync.toml"
    # Each tree's own example: the config schema changes between versions.
    shutil.copy(EXAMPLE if source is None else source / "config.example.toml", config)
    (work / "var").mkdir()
    timed(calsync_cmd(source, "--config", str(config), "db", "upgrade"), cwd=work)
    return config


def startup(runs: int, work: Path, before: Path | None) -> None:
    config = memory_setup(work / "now", None)
    commands: dict[str, Cmd] = {
        "calsync config check": calsync_cmd(None, "--config", str(config), "config", "check"),
        "calsync sync --once (memory)": calsync_cmd(
            None, "--config", str(config), "sync", "--once"
        ),
        "vdirsyncer --version": Cmd((VDIRSYNCER, "--version")),
    }
    if before is not None:
        old = memory_setup(work / "before", before)
        commands["before: config check"] = calsync_cmd(
            before, "--config", str(old), "config", "check"
        )
        commands["before: sync --once (memory)"] = calsync_cmd(
            before, "--config", str(old), "sync", "--once"
        )
    timings = {name: Timing() for name in commands}
    for cmd in commands.values():  # warm the page cache and .pyc files
        timed(cmd, cwd=work)
    for _ in range(runs):
        for name, cmd in commands.items():
            wall, cpu = timed(cmd, cwd=work)
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
    timings: dict[str, dict[str, Timing]],
    before: Path | None,
) -> None:
    root.mkdir()
    config = calsync_caldav_config(root, server, calendar)
    timed(calsync_cmd(None, "--config", str(config), "db", "upgrade"), cwd=root)
    vdir = [VDIRSYNCER, "-c", str(vdirsyncer_config(root, calendar))]
    timed([*vdir, "discover"], stdin=b"y\n" * 4)
    pairs = [
        (timings["calsync"], calsync_cmd(None, "--config", str(config), "sync", "--once")),
        (timings["vdirsyncer"], Cmd((*vdir, "sync"))),
    ]
    if before is not None:
        (root / "before").mkdir()
        old = calsync_caldav_config(root / "before", server, calendar)
        timed(calsync_cmd(before, "--config", str(old), "db", "upgrade"), cwd=root / "before")
        pairs.append(
            (timings["before"], calsync_cmd(before, "--config", str(old), "sync", "--once"))
        )
    # Rotate who goes first, so no one always meets a cache another warmed.
    order = pairs[run % len(pairs) :] + pairs[: run % len(pairs)]

    def both(phase: str) -> None:
        for timing, cmd in order:
            wall, cpu = timed(cmd, cwd=root)
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


def caldav(runs: int, n: int, work: Path, before: Path | None) -> None:
    (work / "radicale").mkdir()
    server = start_radicale(work / "radicale")
    try:
        calendar, once = prepare(server, n)
        print(
            f"\nPart 2: CalDAV, N={n}; Radicale one-time costs (untimed): "
            + ", ".join(f"{k}={v:.1f} s" for k, v in once.items())
        )
        names = ["calsync", "vdirsyncer"] + (["before"] if before is not None else [])
        timings = {name: {phase: Timing() for phase in PHASES} for name in names}
        for run in range(runs):
            one_round(server, calendar, n, run, work / f"run-{run}", timings, before)
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    print(f"  medians of {runs} rounds; each command a fresh process")
    print(f"  {'phase':<34}{'calsync':>12}{'vdirsyncer':>12}{'wall':>8}{'CPU':>8}")
    for phase in PHASES:
        ours, theirs = timings["calsync"][phase], timings["vdirsyncer"][phase]
        print(ratio_line(phase, ours, theirs, TARGETS[phase]))
        if before is not None:
            print(
                ratio_line(f"  before: {phase}", timings["before"][phase], theirs, TARGETS[phase])
            )
    print("  raw wall seconds, " + " | ".join(names) + ":")
    for phase in PHASES:
        print(
            f"    {phase:<12}"
            + " | ".join(" ".join(f"{w:.2f}" for w in timings[name][phase].wall) for name in names)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="rounds of part 1")
    parser.add_argument("--caldav-runs", type=int, default=3, help="rounds of part 2 (0: skip)")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--before",
        type=Path,
        help="an older checkout (git worktree) to run side by side, e.g. the tree before #11",
    )
    args = parser.parse_args()
    if not Path(VDIRSYNCER).exists():
        sys.exit("vdirsyncer is missing: pip install -e '.[bench]'")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; nproc {os.cpu_count()}, {platform.machine()}, "
        f"Python {platform.python_version()}; load average before {os.getloadavg()}"
    )
    for tree in (SOURCE, *([args.before / "src"] if args.before else [])):
        compileall.compile_dir(str(tree), quiet=1)
    with tempfile.TemporaryDirectory(prefix="calsync-start-") as tmp:
        work = Path(tmp)
        (work / "startup").mkdir()
        startup(args.runs, work / "startup", args.before)
        if args.caldav_runs:
            caldav(args.caldav_runs, args.events, work, args.before)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
