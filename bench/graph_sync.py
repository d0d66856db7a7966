"""Microsoft Graph sync against the fake, beside Google's on the same events.

One run = the same calendar of ``--events`` timed events (every tenth a weekly series
of 8 occurrences) on the Google fake and on the Graph fake (HTTPS, msal), each
synced by `SyncEngine.sync_account` for an account the registry builds from its
options, into a fresh SQLite store, in one long-lived child process per provider
(as in the daemon). Phases: initial sync; incremental after 1 % of the events
changed (half of them series masters, half single events); no-op. Runs alternate
between the providers, so both see the same machine load.

Requests are counted at each fake (API and token requests of the phase). Peak RSS
is the child's VmHWM, reset before each phase (``/proc/self/clear_refs``).

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
        started = time.perf_counter()
        report = engine.sync_account(account)
        seconds = time.perf_counter() - started
        [outcome] = report.calendars
        assert outcome.ok, (command, outcome.error, report.error)
        conn.send(
            {
                "seconds": seconds,
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
            body["recurrence"] = {
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": [local.strftime("%A").lower()],
                    "firstDayOfWeek": "monday",
                },
                "range": {
                    "type": "numbered",
                    "startDate": local.date().isoformat(),
                    "numberOfOccurrences": OCCURRENCES,
                },
            }
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
        before = requests()
        parent.send(name)
        result = dict(parent.recv())
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


def google_run(events: int, work: Path) -> dict[str, dict[str, Any]]:
    with GoogleCalendarFake() as fake:
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
    print(f"  {'phase':<18}{'seconds':>10}{'requests':>10}{'peak RSS MiB':>14}   raw seconds")
    for name in PHASES:
        rows = [r[name] for r in runs]
        seconds = statistics.median(r["seconds"] for r in rows)
        requests = statistics.median(r["requests"] for r in rows)
        rss = statistics.median(r["peak_rss_mib"] for r in rows)
        raw = ", ".join(f"{r['seconds']:.2f}" for r in rows)
        print(f"  {name:<18}{seconds:>10.3f}{requests:>10.0f}{rss:>14.1f}   {raw}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=250, help="Graph odata.maxpagesize")
    args = parser.parse_args()
    print(
        f"events={args.events} ({args.events // SERIES_EVERY} weekly series of {OCCURRENCES}) "
        f"graph page_size={args.page_size} google page_size=250 runs={args.runs} (medians)"
    )
    google_runs: list[dict[str, dict[str, Any]]] = []
    graph_runs: list[dict[str, dict[str, Any]]] = []
    for _ in range(args.runs):
        for name in ("google", "microsoft"):
            work = Path(tempfile.mkdtemp(prefix="calsync-msbench-"))
            try:
                if name == "google":
                    google_runs.append(google_run(args.events, work))
                else:
                    graph_runs.append(graph_run(args.events, work, args.page_size))
            finally:
                shutil.rmtree(work, ignore_errors=True)
    report("google (SyncEngine.sync_account -> SQLite)", google_runs)
    report("microsoft (SyncEngine.sync_account -> SQLite)", graph_runs)
    ratio = statistics.median(
        g["initial"]["seconds"] / o["initial"]["seconds"]
        for g, o in zip(graph_runs, google_runs, strict=True)
    )
    print(f"initial sync, microsoft / google (median of per-run ratios): {ratio:.2f}")


if __name__ == "__main__":
    main()
