"""Three ``calsync run`` replicas on one PostgreSQL against one Radicale with 30
calendars and a short interval (issue #16). Checks, in one run:

* all 30 calendars are synced into the store, each replica holding about a third;
* no calendar is synced by two replicas in one interval (from the replicas' own
  logs: consecutive passes that synced a calendar start an interval apart);
* after ``kill -9`` of one replica its calendars are taken over and synced again;
* each change is notified once per channel (relays on all three replicas);
* 20 read-after-write checks across replicas all see the write at once.

Timings are short (3 s interval, 4 s lease) and every wait is a generous guard.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from calsync.store import Store
from tests.fixtures.api import CLIENT_ID, CLIENT_SECRET, bearer
from tests.fixtures.radicale import RadicaleServer, vevent_ics
from tests.integration.notify_receiver import running_receiver
from tests.system.harness import wait_until
from tests.system.replica_world import Replica, calendar_pks, leases, start_replica

pytestmark = pytest.mark.slow

CALENDARS = 30
INTERVAL = 3.0
#: The engine's slack when deciding a calendar is due, plus clock reading jitter.
SLACK = 0.5


def _event(uid: str, summary: str, day: int) -> str:
    start = datetime(2027, 5, 3, 9, tzinfo=UTC) + timedelta(days=day)
    end = start + timedelta(hours=1)
    body = (
        f"SUMMARY:{summary}\nDTSTAMP:20270101T000000Z\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\nDTEND:{end:%Y%m%dT%H%M%SZ}"
    )
    return vevent_ics(uid, body)


def _synced_everywhere(store: Store, pks: set[int], after: datetime | None = None) -> bool:
    rows = {lease.calendar_pk: lease for lease in leases(store)}
    return all(
        pk in rows
        and rows[pk].synced_at is not None
        and (after is None or (rows[pk].synced_at or after) > after)
        for pk in pks
    )


def _check_one_replica_per_interval(replicas: list[Replica]) -> int:
    """Consecutive syncs of a calendar (by any replica) come from passes that
    started at least an interval apart; returns how many syncs were checked."""
    by_calendar: dict[int, list[tuple[datetime, str]]] = {}
    for replica in replicas:
        for pk, rid, _token, started in replica.syncs():
            by_calendar.setdefault(pk, []).append((started, rid))
    checked = 0
    for pk, syncs in by_calendar.items():
        syncs.sort()
        for (t1, r1), (t2, r2) in itertools.pairwise(syncs):
            gap = (t2 - t1).total_seconds()
            assert gap >= INTERVAL - SLACK, f"calendar {pk}: {r1} then {r2} {gap:.2f}s apart"
            checked += 1
    return checked


@pytest.mark.timeout(900)
def test_three_replicas_share_sync_take_over_notify_once_and_read_fresh(
    tmp_path: Path, radicale_server: RadicaleServer, postgres_url: str, pg_store: Store
) -> None:
    calendars = [radicale_server.new_calendar(f"team {i}") for i in range(CALENDARS)]
    for i, calendar in enumerate(calendars):
        calendar.write_files({f"e{i}.ics": _event(f"e{i}@tests", f"event {i}", i)})
    urls = [c.url for c in calendars]
    world = {"store_url": postgres_url, "server": radicale_server, "calendars": calendars}
    timing = {"interval": f"{INTERVAL:.0f}s", "lease_ttl": "4s"}
    replicas: list[Replica] = []
    try:
        for name in ("r1", "r2", "r3"):
            replicas.append(start_replica(tmp_path, name, **world, **timing))  # type: ignore[arg-type]

        # All 30 synced into the store; then each replica holds 10.
        wait_until(lambda: len(calendar_pks(pg_store, urls)) == CALENDARS, 120, "discovery")
        pks = set(calendar_pks(pg_store, urls).values())
        wait_until(lambda: _synced_everywhere(pg_store, pks), 180, "every calendar synced")
        with pg_store.read() as uow:
            assert all(uow.events.count_live(pk) == 1 for pk in pks)

        def shares() -> Counter[str]:
            return Counter(lease.holder for lease in leases(pg_store) if lease.holder)

        wait_until(lambda: sorted(shares().values()) == [10, 10, 10], 120, "10 leases each")

        # kill -9 of one replica: its calendars continue elsewhere after the TTL.
        victim = replicas[2]
        victim_id = next(
            lease.holder
            for lease in leases(pg_store)
            if lease.holder and f":{victim.daemon.proc.pid}:" in lease.holder
        )
        orphaned = {lease.calendar_pk for lease in leases(pg_store) if lease.holder == victim_id}
        assert len(orphaned) == 10
        killed_at = datetime.now(UTC)
        victim.daemon.proc.kill()
        victim.daemon.proc.wait(10)
        survivors = replicas[:2]

        def taken_over() -> bool:
            rows = {lease.calendar_pk: lease for lease in leases(pg_store)}
            return all(
                rows[pk].holder not in (None, victim_id)
                and rows[pk].synced_by == rows[pk].holder
                and (rows[pk].synced_at or killed_at) > killed_at
                for pk in orphaned
            )

        wait_until(taken_over, 120, "the dead replica's calendars synced by the others")
        wait_until(lambda: sorted(shares().values()) == [15, 15], 60, "15 leases each")
        metrics = (
            httpx.get(
                f"{survivors[0].base_url}/metrics", headers=bearer(CLIENT_SECRET), timeout=10
            ).text
            + httpx.get(
                f"{survivors[1].base_url}/metrics", headers=bearer(CLIENT_SECRET), timeout=10
            ).text
        )
        assert "calsync_sync_leases_held 15.0" in metrics
        assert "calsync_sync_lease_takeovers_total" in metrics
        assert "calsync_calendar_sync_lag_past_due_seconds{calendar_id=" in metrics

        # Each change notified once per channel, whichever replica relays it.
        with pg_store.write() as uow:
            account = uow.accounts.find_by_name("dav")
            assert account is not None
            token = uow.tokens.issue(account.pk, "access", timedelta(hours=1))
        with running_receiver() as receiver:
            created = httpx.post(
                f"{survivors[0].base_url}/v1/channels",
                json={"callback_url": receiver.url},
                headers=bearer(token),
                timeout=15,
            )
            assert created.status_code == 200, created.text
            for i in range(0, CALENDARS, 6):  # five changes, on calendars of both replicas
                calendars[i].put(f"new{i}.ics", _event(f"new{i}@tests", f"new {i}", i))

            def all_changes_in_store(_got: object) -> bool:
                with pg_store.read() as uow:
                    return sum(uow.events.count_live(pk) for pk in pks) == CALENDARS + 5

            assert receiver.wait_for(all_changes_in_store, timeout=120)
            assert receiver.wait_for(lambda got: any(r.kind == "change" for r in got), timeout=60)
            with pg_store.read() as uow:
                [channel] = uow.channels.list(account.pk)
                delivered = uow.channels.list_deliveries(channel.pk, status="delivered")
            received = list(receiver.received)
            ids = [r.webhook_id for r in received]
            assert len(ids) == len(set(ids)), "a notification was delivered twice"
            assert {d.webhook_id for d in delivered} <= set(ids)

        # 20 read-after-write checks across replicas (the read cache is on).
        grant = httpx.post(
            f"{survivors[0].base_url}/v1/application_calendars",
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "application_calendar_id": "replicas",
            },
            timeout=15,
        )
        assert grant.status_code == 200, grant.text
        app = bearer(grant.json()["access_token"])
        listed = httpx.request(
            "GET", f"{survivors[1].base_url}/v1/calendars", headers=app, json={}, timeout=15
        )
        (app_calendar,) = listed.json()["calendars"]
        fresh = 0
        for i in range(20):
            writer, reader = survivors[i % 2], survivors[(i + 1) % 2]
            summary = f"version {i}"
            wrote = httpx.post(
                f"{writer.base_url}/v1/calendars/{app_calendar['calendar_id']}/events",
                json={
                    "event_id": "shared",
                    "summary": summary,
                    "start": "2027-06-01T09:00:00Z",
                    "end": "2027-06-01T10:00:00Z",
                },
                headers=app,
                timeout=15,
            )
            assert wrote.status_code == 202, wrote.text
            read = httpx.request(
                "GET",
                f"{reader.base_url}/v1/events",
                params={
                    "tzid": "Etc/UTC",
                    "from": "2027-05-30",
                    "to": "2027-06-03",
                    "include_managed": "true",
                },
                headers=app,
                json={},
                timeout=15,
            )
            assert read.status_code == 200, read.text
            summaries = [e["summary"] for e in read.json()["events"]]
            fresh += summaries == [summary]
        assert fresh == 20

        checked = _check_one_replica_per_interval(replicas)
        assert checked >= CALENDARS  # every calendar was synced more than once
        for replica in survivors:
            assert replica.daemon.proc.poll() is None
    finally:
        for replica in replicas:
            replica.daemon.stop()
