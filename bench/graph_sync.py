"""Microsoft Graph sync against the fake, beside Google's on the same events.

One run = the same calendar of ``--events`` timed events (every tenth a weekly series
of 8 occurrences) on the Google fake and on the Graph fake (HTTPS, msal), each
synced by `SyncEngine.sync_account` for an account the registry builds from its
options, into a fresh SQLite store, in one long-lived child process per provider
(as in the daemon). Both fakes serve HTTPS under a throw-away CA, as Google and
Graph do (``--google-http``: the Google fake over plain HTTP, as the bench had it
before 2026-12-08). Phases: initial sync; incremental after 1 % of the events
changed (half of them series masters, half single events); no-op. Runs alternate
between the providers, so both see the same machine load.

Requests are counted at each fake (API and token requests of the phase; a ``$batch``
is one). Peak RSS is the child's VmHWM, reset before each phase
(``/proc/self/clear_refs``). CPU seconds per phase: the child's (the sync, all its
threads) and the bench process's (nothing but the fake's server threads run there
meanwhile); on a shared machine they vary far less than wall time does.

    .venv/bin/python bench/graph_sync.py --events 10000 --runs 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_settings, vmhwm_kib  # bench/ is on sys.path when run as a script
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.graph_testing import weekly
from tests.fakes.microsoft_graph import MicrosoftGraphFake

GOOGLE_CAL = "bench@example.com"
PHASES = ("initial", "incremental_1pct", "noop")
SERIES_EVERY = 10
OCCURRENCES = 8


def _engine_child(conn: Any, store_url: str, provider: str, options: dict[str, Any]) -> None:
    from calsync.config import AccountSettings
    from calsync.store import Store
    from calsync.sync import SyncEngine

    store = Store(store_url)
    store.upgrade()
    account = AccountSettings(
        name="bench",
        provider=provider,
        interval=None,
        conflict="remote",
        enabled=True,
        options=options,
    )
    engine = SyncEngine(store, bench_settings(store_url, account))
    while (command := conn.recv()) != "stop":
        Path("/proc/self/clear_refs").write_text("5")
        started, cpu = time.perf_counter(), time.process_time()
        report = engine.sync_account(account)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        [outcome] = report.calendars
        assert outcome.ok, (command, outcome.error, report.error)
        conn.send(
            {
                "seconds": seconds,
                "cpu": cpu,
                "changed": outcome.upserted,
                "peak_rss_mib": vmhwm_kib() / 1024,
            }
        )
    store.dispose()


def _starts(events: int) -> list[datetime]:
    base = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) - timedelta(days=1)
    return [base + timedelta(minutes=20 * i) for i in range(events)]


def _populate_google(fake: GoogleCalendarFake, events: int) -> list[str]:
    ids = []
    for i, start in enumerate(_starts(events)):
        body: dict[str, Any] = {
            "summary": f"Event {i}",
            "description": "Agenda\nline two",
            "location": "Room 1",
            "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
            "end": {
                "dateTime": (start + timedelta(minutes=15)).isoformat(),
                "timeZone": "Europe/Berlin",
            },
        }
        if i % SERIES_EVERY == 0:
            body["recurrence"] = [f"RRULE:FREQ=WEEKLY;COUNT={OCCURRENCES}"]
        ids.append(fake.put_event(GOOGLE_CAL, body))
    return ids


def _populate_graph(fake: MicrosoftGraphFake, events: int) -> list[str]:
    berlin = __import__("zoneinfo").ZoneInfo("Europe/Berlin")
    ids = []
    for i, start in enumerate(_starts(events)):
        local = start.astimezone(berlin).replace(tzinfo=None)

        def at(moment: datetime) -> dict[str, str]:
            return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "Europe/Berlin"}

        body: dict[str, Any] = {
            "subject": f"Event {i}",
            "body": {"contentType": "text", "content": "Agenda\nline two"},
            "location": {"displayName": "Room 1"},
            "start": at(local),
            "end": at(local + timedelta(minutes=15)),
        }
        if i % SERIES_EVERY == 0:
            body["recurrence"] = weekly(local, OCCURRENCES)
        ids.append(fake.put_event(fake.default_calendar_id, body))
    return ids


def _touched(ids: list[str]) -> list[str]:
    """1 %: half series masters (index 0 mod 10), half single events."""
    return ids[0::200] + ids[55::200]


def _run(
    provider: str,
    options: dict[str, Any],
    work: Path,
    requests: Callable[[], int],
    change: Callable[[], int],
) -> dict[str, dict[str, Any]]:
    ctx = mp.get_context("spawn")
    parent, child_end = ctx.Pipe()
    store_url = f"sqlite:///{work / 'calsync.db'}"
    child = ctx.Process(target=_engine_child, args=(child_end, store_url, provider, options))
    child.start()

    def phase(name: str) -> dict[str, Any]:
        # This process runs nothing but the fake's threads meanwhile: its CPU is the fake's.
        before, fake_cpu = requests(), time.process_time()
        parent.send(name)
        result = dict(parent.recv())
        result["fake_cpu"] = time.process_time() - fake_cpu
        result["requests"] = requests() - before
        return result

    try:
        result = {"initial": phase("initial")}
        result["changes_made"] = {"count": change()}
        result["incremental_1pct"] = phase("incremental")
        result["noop"] = phase("noop")
        parent.send("stop")
        child.join(60)
    finally:
        if child.is_alive():
            child.kill()
    assert result["noop"]["changed"] == 0, result["noop"]
    return result


def google_run(events: int, work: Path, tls: bool = True) -> dict[str, dict[str, Any]]:
    with GoogleCalendarFake(tls=tls) as fake:
        fake.add_calendar("Bench", calendar_id=GOOGLE_CAL, primary=True)
        ids = _populate_google(fake, events)
        (work / "secret").write_text(fake.client_secret)
        (work / "refresh").write_text(fake.issue_refresh_token())
        options = {
            "client_id": fake.client_id,
            "client_secret_file": str(work / "secret"),
            "refresh_token_file": str(work / "refresh"),
            "token_uri": fake.token_uri,
            "api_endpoint": fake.api_endpoint,
            "calendars": [GOOGLE_CAL],
            "page_size": 250,
        }
        if tls:
            options["ca_file"] = str(fake.ca_file)

        def change() -> int:
            touched = _touched(ids)
            for event_id in touched:
                fake.patch_event(GOOGLE_CAL, event_id, {"summary": "changed"})
            return len(touched)

        return _run("google", options, work, lambda: len(fake.requests), change)


def graph_run(events: int, work: Path, page_size: int) -> dict[str, dict[str, Any]]:
    with MicrosoftGraphFake() as fake:
        ids = _populate_graph(fake, events)
        (work / "secret").write_text(fake.client_secret)
        (work / "refresh").write_text(fake.issue_refresh_token())
        options = {
            "client_id": fake.client_id,
            "client_secret_file": str(work / "secret"),
            "refresh_token_file": str(work / "refresh"),
            "authority": fake.authority,
            "graph_endpoint": fake.graph_endpoint,
            "ca_file": str(fake.ca_file),
            "calendars": ["primary"],
            "page_size": page_size,
        }

        def change() -> int:
            touched = _touched(ids)
            for event_id in touched:
                fake.patch_event(event_id, {"subject": "changed"})
            return len(touched)

        return _run("microsoft", options, work, lambda: len(fake.requests), change)


def report(title: str, runs: list[dict[str, dict[str, Any]]]) -> None:
    print(title)
    print(
        f"  {'phase':<18}{'seconds':>10}{'requests':>10}{'peak RSS MiB':>14}"
        f"{'sync CPU s':>12}{'fake CPU s':>12}   raw seconds"
    )
    for name in PHASES:
        rows = [r[name] for r in runs]
        seconds = statistics.median(r["seconds"] for r in rows)
        requests = statistics.median(r["requests"] for r in rows)
        rss = statistics.median(r["peak_rss_mib"] for r in rows)
        cpu = statistics.median(r["cpu"] for r in rows)
        fake_cpu = statistics.median(r["fake_cpu"] for r in rows)
        raw = ", ".join(f"{r['seconds']:.2f}" for r in rows)
        print(
            f"  {name:<18}{seconds:>10.3f}{requests:>10.0f}{rss:>14.1f}"
            f"{cpu:>12.2f}{fake_cpu:>12.2f}   {raw}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--page-size", type=int, default=1000, help="Graph page_size (default: the provider's)"
    )
    parser.add_argument(
        "--google-http",
        action="store_true",
        help="serve the Google fake over plain HTTP (before 2026-12-08 the bench did; "
        "Google, like Graph, is HTTPS only, so the default compares both over TLS)",
    )
    args = parser.parse_args()
    google_scheme = "http" if args.google_http else "https"
    print(
        f"events={args.events} ({args.events // SERIES_EVERY} weekly series of {OCCURRENCES}) "
        f"graph page_size={args.page_size} google page_size=250 runs={args.runs} (medians); "
        f"graph fake https, google fake {google_scheme}"
    )
    google_runs: list[dict[str, dict[str, Any]]] = []
    graph_runs: list[dict[str, dict[str, Any]]] = []
    for _ in range(args.runs):
        for name in ("google", "microsoft"):
            work = Path(tempfile.mkdtemp(prefix="calsync-msbench-"))
            try:
                if name == "google":
                    google_runs.append(google_run(args.events, work, not args.google_http))
                else:
                    graph_runs.append(graph_run(args.events, work, args.page_size))
            finally:
                shutil.rmtree(work, ignore_errors=True)
    report("google (SyncEngine.sync_account -> SQLite)", google_runs)
    report("microsoft (SyncEngine.sync_account -> SQLite)", graph_runs)
    pairs = list(zip(graph_runs, google_runs, strict=True))
    ratios = [g["initial"]["seconds"] / o["initial"]["seconds"] for g, o in pairs]
    print(
        f"initial sync, microsoft / google (median of per-run ratios): "
        f"{statistics.median(ratios):.2f}  (per run: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    # CPU seconds hardly depend on what else the machine runs; wall time on a shared
    # machine does. The sync's own CPU, then with the fake's (both on the same cores).
    cpu = [g["initial"]["cpu"] / o["initial"]["cpu"] for g, o in pairs]
    both = [
        (g["initial"]["cpu"] + g["initial"]["fake_cpu"])
        / (o["initial"]["cpu"] + o["initial"]["fake_cpu"])
        for g, o in pairs
    ]
    print(
        f"initial sync CPU, microsoft / google (medians of per-run ratios): sync "
        f"{statistics.median(cpu):.2f}, sync + fake {statistics.median(both):.2f}"
    )


if __name__ == "__main__":
    main()
