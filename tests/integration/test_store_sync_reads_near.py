"""`EventRepo.sync_states_near`: what an incremental pull can touch, and nothing else."""

from __future__ import annotations

from collections.abc import Collection

from calsync.model import RemoteEvent
from calsync.store import Store
from calsync.sync.etags import UNCONFIRMED_PREFIX, unconfirmed
from tests.fixtures.store import content, new_calendar


def near(
    store: Store, calendar_pk: int, remote_ids: set[str], uids: Collection[str] = ()
) -> list[str]:
    with store.read() as uow:
        rows = uow.events.sync_states_near(
            calendar_pk,
            remote_ids=remote_ids,
            event_uids=uids,
            unconfirmed_etag_prefix=UNCONFIRMED_PREFIX,
        )
    return [r.remote_id or r.event_uid for r in rows]


def test_narrow_reads_select_by_key_series_and_push_state(store: Store) -> None:
    calendar = new_calendar(store)
    other = new_calendar(store, name="Other")
    with store.write() as uow:
        plain = [RemoteEvent(f"r{i}", content(f"E{i}", day=i), etag=f'"{i}"') for i in range(4)]
        series = [
            RemoteEvent("m", content("Master", day=5), etag='"m"'),
            RemoteEvent("m-1", content("Override", day=6), etag='"o"', master_remote_id="m"),
        ]
        uow.events.upsert_remote_many(calendar.pk, plain + series)
        pending = uow.events.upsert_managed(calendar.pk, "pending", content("Pending")).event
        created = uow.events.upsert_managed(calendar.pk, "created", content("Created")).event
        confirmed = uow.events.upsert_managed(calendar.pk, "confirmed", content("Seen")).event
        uow.events.upsert_remote(other.pk, RemoteEvent("r1", content("Elsewhere")))
        uow.events.upsert_managed(other.pk, "pending-elsewhere", content("X"))
    assert pending is not None and created is not None and confirmed is not None
    with store.write() as uow:
        seq = created.change_seq
        uow.events.mark_pushed(
            created.event_uid, remote_id="c", etag=unconfirmed('"c"'), base=None, pushed_seq=seq
        )
        seq = confirmed.change_seq
        uow.events.mark_pushed(
            confirmed.event_uid, remote_id="k", etag='"k"', base=None, pushed_seq=seq
        )

    always = [pending.event_uid, "c"]  # the pending push and the unconfirmed create
    assert near(store, calendar.pk, set()) == always
    assert near(store, calendar.pk, {"r1", "gone"}) == ["r1", *always]
    # An override brings its master, a master its overrides.
    assert near(store, calendar.pk, {"m-1"}) == ["m", "m-1", *always]
    assert near(store, calendar.pk, {"m"}) == ["m", "m-1", *always]
    assert near(store, calendar.pk, set(), {confirmed.event_uid}) == [*always, "k"]
    with store.read() as uow:
        assert len(uow.events.sync_states(calendar.pk)) == 9
