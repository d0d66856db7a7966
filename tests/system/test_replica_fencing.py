"""The fence (issue #16): a replica paused past its lease TTL cannot commit.

Replica A starts alone on PostgreSQL and lists a large CalDAV calendar from
scratch. It is frozen with SIGSTOP in the middle of that listing; replica B
starts, and once A's leases have expired takes them over (new fencing tokens)
and syncs everything. A is then resumed with SIGCONT: its listing goes on,
and its next commit finds the token moved on and is rolled back. The calendar
ends with B's cursor and every event exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calsync.store import Store
from tests.fixtures.radicale import RadicaleServer, vevent_ics
from tests.system.harness import wait_until
from tests.system.replica_world import calendar_pks, leases, start_replica

pytestmark = pytest.mark.slow

BIG = 3000


def _events(count: int, prefix: str) -> dict[str, str]:
    start = datetime(2027, 3, 1, 9, tzinfo=UTC)
    files = {}
    for i in range(count):
        moment = start + timedelta(hours=i)
        end = moment + timedelta(minutes=30)
        body = (
            f"SUMMARY:{prefix} {i}\nDTSTAMP:20270101T000000Z\n"
            f"DTSTART:{moment:%Y%m%dT%H%M%SZ}\nDTEND:{end:%Y%m%dT%H%M%SZ}"
        )
        files[f"{prefix}-{i}.ics"] = vevent_ics(f"{prefix}-{i}@tests", body)
    return files


@pytest.mark.timeout(600)
def test_a_replica_paused_past_its_ttl_cannot_commit(
    tmp_path: Path, radicale_server: RadicaleServer, postgres_url: str, pg_store: Store
) -> None:
    big = radicale_server.new_calendar("big")
    big.write_files(_events(BIG, "big"))
    small = radicale_server.new_calendar("small")
    small.write_files(_events(3, "small"))
    calendars = [big, small]
    world = {"store_url": postgres_url, "server": radicale_server, "calendars": calendars}
    # A TTL of a few seconds: short enough that B takes over soon, long enough that
    # A's own renewals (every TTL/3) keep its lease on a loaded machine until paused.
    timing = {"interval": "1h", "lease_ttl": "6s"}

    a = start_replica(tmp_path, "a", **world, **timing)  # type: ignore[arg-type]
    b = None
    try:
        # Freeze A in the middle of its first listing of the big calendar.
        wait_until(lambda: big.url in calendar_pks(pg_store, [big.url]), 120, "discovery")
        big_pk = calendar_pks(pg_store, [big.url])[big.url]
        with pg_store.read() as uow:
            big_id = uow.calendars.get_by_pk(big_pk).calendar_id
        # The big calendar's own listing: a pass may take the small one first.
        a.daemon.wait_for_log(f"calendar {big_id}: listing it from scratch", timeout=120)
        a.pause()
        [a_lease] = [lease for lease in leases(pg_store) if lease.calendar_pk == big_pk]
        with pg_store.read() as uow:
            assert uow.cursors.get(big_pk) is None  # A had not finished
            stored_by_a = uow.events.count_live(big_pk)
        assert stored_by_a < BIG, "A finished the listing before it was paused"

        b = start_replica(tmp_path, "b", **world, **timing)  # type: ignore[arg-type]

        def b_synced_big() -> bool:
            lease = next(x for x in leases(pg_store) if x.calendar_pk == big_pk)
            return (
                lease.synced_by is not None
                and lease.synced_by.endswith("" if lease.holder is None else lease.holder[-6:])
                and lease.holder is not None
                and lease.holder != a_lease.holder
            )

        wait_until(b_synced_big, 180, "B to take over and sync the big calendar")
        [b_lease] = [lease for lease in leases(pg_store) if lease.calendar_pk == big_pk]
        assert b_lease.token > a_lease.token
        with pg_store.read() as uow:
            assert uow.cursors.get(big_pk) is not None
            cursor_by_b = uow.cursors.get(big_pk)

        a.resume()  # A goes on with its listing and tries to commit the next page
        a.daemon.wait_for_log("not committed", timeout=120)
        assert "its sync lease" in a.daemon.logs()
        assert not [s for s in a.syncs() if s[0] == big_pk], "A recorded a sync of it"
        with pg_store.read() as uow:
            assert uow.cursors.get(big_pk) == cursor_by_b
            assert uow.events.count_live(big_pk) == BIG
        final = next(x for x in leases(pg_store) if x.calendar_pk == big_pk)
        assert final.synced_by == b_lease.holder
        assert a.daemon.proc.poll() is None  # A lives on, without that lease
    finally:
        a.resume()
        a.daemon.stop()
        if b is not None:
            b.daemon.stop()
