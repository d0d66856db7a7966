"""An app's write through the replica that does not hold the calendar reaches
the provider within seconds (issue #16).

Two ``calsync run`` replicas on one PostgreSQL, one Radicale calendar, a long
lease TTL (600 s: a renewal every 200 s) and a long interval (1 h): the first
replica holds the calendar, the write goes through the second. That replica can
only mark the calendar due; before the holder was woken by a notification it
saw the mark at its next renewal, minutes later. The guard below is a fraction
of that, not a speed assertion.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from calsync.store import Store
from tests.fixtures.api import bearer
from tests.fixtures.e2e import radicale_summaries
from tests.fixtures.radicale import RadicaleServer, vevent_ics
from tests.system.harness import wait_until
from tests.system.replica_world import calendar_pks, leases, start_replica

pytestmark = pytest.mark.slow

#: Far below the old wait (the holder's next renewal, lease_ttl / 3 = 200 s).
GUARD = 30.0


@pytest.mark.timeout(300)
def test_a_write_through_the_non_holder_reaches_radicale_without_waiting_for_a_renewal(
    tmp_path: Path, radicale_server: RadicaleServer, postgres_url: str, pg_store: Store
) -> None:
    calendar = radicale_server.new_calendar("shared")
    start = datetime(2027, 4, 5, 9, tzinfo=UTC)
    calendar.put(
        "first.ics",
        vevent_ics(
            "first@tests",
            f"SUMMARY:First\nDTSTAMP:20270101T000000Z\nDTSTART:{start:%Y%m%dT%H%M%SZ}\n"
            f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
        ),
    )
    world = {"store_url": postgres_url, "server": radicale_server, "calendars": [calendar]}
    timing = {"interval": "1h", "lease_ttl": "600s"}
    holder = start_replica(tmp_path, "holder", **world, **timing)  # type: ignore[arg-type]
    other = None
    try:
        wait_until(lambda: calendar.url in calendar_pks(pg_store, [calendar.url]), 60, "discovery")
        pk = calendar_pks(pg_store, [calendar.url])[calendar.url]

        def synced_by_holder() -> str | None:
            rows = [x for x in leases(pg_store) if x.calendar_pk == pk]  # none before a grant
            return next((x.holder for x in rows if x.synced_by and x.synced_by == x.holder), None)

        wait_until(lambda: synced_by_holder() is not None, 60, "the holder's first sync")
        holder_id = synced_by_holder()
        assert holder_id is not None and f":{holder.daemon.proc.pid}:" in holder_id

        other = start_replica(tmp_path, "other", **world, **timing)  # type: ignore[arg-type]
        with pg_store.write() as uow:
            account = uow.accounts.find_by_name("dav")
            assert account is not None
            token = uow.tokens.issue(account.pk, "access", timedelta(hours=1))
            public_id = uow.calendars.get_by_pk(pk).calendar_id
        wrote = httpx.post(
            f"{other.base_url}/v1/calendars/{public_id}/events",
            json={
                "event_id": "through-other",
                "summary": "Through the other replica",
                "start": "2027-04-06T09:00:00Z",
                "end": "2027-04-06T10:00:00Z",
            },
            headers=bearer(token),
            timeout=15,
        )
        assert wrote.status_code == 202, wrote.text

        wait_until(
            lambda: "Through the other replica" in radicale_summaries(calendar),
            GUARD,
            "the write to reach Radicale through the holder",
            interval=0.25,
        )
        assert "marked due by another replica: syncing it now" in holder.daemon.logs()
        [lease] = [x for x in leases(pg_store) if x.calendar_pk == pk]
        assert lease.holder == holder_id  # the holder pushed it; the lease never moved
        assert not [s for s in other.syncs() if s[0] == pk], "the other replica synced it"
        assert radicale_summaries(calendar) == ["First", "Through the other replica"]
        for replica in (holder, other):
            assert "Traceback" not in replica.daemon.logs()
    finally:
        holder.daemon.stop()
        if other is not None:
            other.daemon.stop()
