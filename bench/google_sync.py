"""Google sync against the fake server: initial sync, 1 % changed, no-op.

Two paths, both against a `GoogleCalendarFake` running in this process:

- engine: what the daemon does. One long-lived child process runs
  `SyncEngine.sync_account` for a ``provider = "google"`` account (built by the
  registry from its options, as the daemon builds it) into a fresh SQLite
  store; one pass per phase. Peak RSS is the child's VmHWM, reset before each
  phase (``/proc/self/clear_refs``).
- provider: ``GoogleProvider.pull`` alone, each phase in a fresh child process
  (peak RSS = ``ru_maxrss``), carrying the cursor from phase to phase.

Requests are counted at the fake (every API and token request the phase made).

    .venv/bin/python bench/google_sync.py --events 10000 --runs 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_settings, vmhwm_kib  # bench/ is on sys.path when run as a script
from tests.fakes.google_calendar import GoogleCalendarFake

CAL = "bench@example.com"
BASE = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PHASES = ("initial", "incremental_1pct", "noop")


# -- provider only -----------------------------------------------------------------


def _pull_in_child(settings: dict[str, Any], cursor: str | None, out: Any) -> None:
    from calsync.providers.base import SyncWindow
    from calsync.providers.google import GoogleProvider

    started = time.perf_counter()
    provider = GoogleProvider(**settings)
    window = SyncWindow(BASE - timedelta(days=30), BASE + timedelta(days=400))
    changed = deleted = pages = 0
    final_cursor = None
    for page in provider.pull(CAL, cursor, window):
        changed += len(page.changed)
        deleted += len(page.deleted)
        pages += 1
        final_cursor = page.cursor
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.send((seconds, changed, pages, peak_kib, final_cursor))


def _provider_phase(
    fake: GoogleCalendarFake, settings: dict[str, Any], cursor: str | None
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    before = len(fake.requests)
    child = ctx.Process(target=_pull_in_child, args=(settings, cursor, send))
    child.start()
    seconds, changed, pages, peak_kib, new_cursor = receive.recv()
    child.join()
    return {
        "seconds": seconds,
        "changed": changed,
        "pages": pages,
        "requests": len(fake.requests) - before,
        "peak_rss_mib": peak_kib / 1024,
        "cursor": new_cursor,
    }


# -- the engine, as the daemon runs it --------------------------------------------------


def _engine_child(conn: Any, store_url: str, options: dict[str, Any]) -> None:
    from calsync.config import AccountSettings
    from calsync.store import Store
    from calsync.sync import SyncEngine

    store = Store(store_url)
    store.upgrade()
    account = AccountSettings(
        name="bench",
        provider="google",
        interval=None,
        conflict="remote",
        enabled=True,
        options=options,
    )
    engine = SyncEngine(store, bench_settings(store_url, account))
    while (command := conn.recv()) != "stop":
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM for this phase
        started = time.perf_counter()
        report = engine.sync_account(account)
        seconds = time.perf_counter() - started
        [outcome] = report.calendars
        assert outcome.ok, (command, outcome.error, report.error)
        conn.send(
            {
                "seconds": seconds,
                "changed": outcome.upserted,
                "full_listing": outcome.full_listing,
                "peak_rss_mib": vmhwm_kib() / 1024,
            }
        )
    store.dispose()


def _populate(fake: GoogleCalendarFake, events: int, base: datetime) -> list[str]:
    ids = []
    for i in range(events):
        start = base + timedelta(minutes=20 * i)
        ids.append(
            fake.put_event(
                CAL,
                {
                    "summary": f"Event {i}",
                    "description": "Agenda\nline two",
                    "location": "Room 1",
                    "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
                    "end": {
                        "dateTime": (start + timedelta(minutes=15)).isoformat(),
                        "timeZone": "Europe/Berlin",
                    },
                    "attendees": [{"email": "a@example.com", "responseStatus": "accepted"}],
                },
            )
        )
    return ids


def engine_run(events: int, page_size: int, work: Path) -> dict[str, dict[str, Any]]:
    with GoogleCalendarFake() as fake:
        fake.add_calendar("Bench", calendar_id=CAL, primary=True)
        # Inside the engine's sync window (42 days back, 201 ahead): 10k x 20 min < 140 days.
        ids = _populate(fake, events, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
        (work / "secret").write_text(fake.client_secret)
        (work / "refresh").write_text(fake.issue_refresh_token())
        options = {
            "client_id": fake.client_id,
            "client_secret_file": str(work / "secret"),
            "refresh_token_file": str(work / "refresh"),
            "token_uri": fake.token_uri,
            "api_endpoint": fake.api_endpoint,
            "calendars": [CAL],
            "page_size": page_size,
        }
        ctx = mp.get_context("spawn")
        parent, child_end = ctx.Pipe()
        store_url = f"sqlite:///{work / 'calsync.db'}"
        child = ctx.Process(target=_engine_child, args=(child_end, store_url, options))
        child.start()

        def phase(name: str) -> dict[str, Any]:
            before = len(fake.requests)
            parent.send(name)
            result = dict(parent.recv())
            result["requests"] = len(fake.requests) - before
            return result

        try:
            result = {"initial": phase("initial")}
            touched = ids[::100]  # 1 %
            for event_id in touched:
                fake.patch_event(CAL, event_id, {"summary": "changed"})
            result["incremental_1pct"] = phase("incremental")
            result["noop"] = phase("noop")
            parent.send("stop")
            child.join(60)
        finally:
            if child.is_alive():
                child.kill()
    assert result["initial"]["changed"] == events, result["initial"]
    assert result["incremental_1pct"]["changed"] == len(touched), result["incremental_1pct"]
    assert result["noop"]["changed"] == 0, result["noop"]
    return result


def provider_run(events: int, page_size: int) -> dict[str, dict[str, Any]]:
    with GoogleCalendarFake() as fake:
        fake.add_calendar("Bench", calendar_id=CAL, primary=True)
        ids = _populate(fake, events, BASE)
        settings = {
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "refresh_token": fake.issue_refresh_token(),
            "token_uri": fake.token_uri,
            "api_endpoint": fake.api_endpoint,
            "page_size": page_size,
        }
        initial = _provider_phase(fake, settings, None)
        assert initial["changed"] == events, initial
        touched = ids[::100]  # 1 %
        for event_id in touched:
            fake.patch_event(CAL, event_id, {"summary": "changed"})
        incremental = _provider_phase(fake, settings, initial["cursor"])
        assert incremental["changed"] == len(touched), incremental
        noop = _provider_phase(fake, settings, incremental["cursor"])
        assert noop["changed"] == 0, noop
        return {"initial": initial, "incremental_1pct": incremental, "noop": noop}


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
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--only", choices=("engine", "provider"))
    args = parser.parse_args()
    print(f"events={args.events} page_size={args.page_size} runs={args.runs} (medians)")
    if args.only != "provider":
        engine_runs = []
        for _ in range(args.runs):
            work = Path(tempfile.mkdtemp(prefix="calsync-gbench-"))
            try:
                engine_runs.append(engine_run(args.events, args.page_size, work))
            finally:
                shutil.rmtree(work, ignore_errors=True)
        report("engine (SyncEngine.sync_account -> SQLite, one long-lived child)", engine_runs)
    if args.only != "engine":
        provider_runs = [provider_run(args.events, args.page_size) for _ in range(args.runs)]
        report("provider only (GoogleProvider.pull, a fresh child per phase)", provider_runs)


if __name__ == "__main__":
    main()
