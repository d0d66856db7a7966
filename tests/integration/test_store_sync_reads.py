"""The sync engine's whole-calendar reads: `list_calendar` and the light `sync_states`."""

from __future__ import annotations

from calsync.model import RemoteEvent
from calsync.store import Store
from tests.fixtures.store import content, new_calendar


def test_sync_states_match_the_full_records(store: Store) -> None:
    calendar = new_calendar(store)
    other = new_calendar(store, name="Other")
    with store.write() as uow:
        uow.events.upsert_remote_many(
            calendar.pk,
            [RemoteEvent(f"r{i}", content(f"E{i}", day=i), etag=f'"{i}"') for i in range(3)],
        )
        uow.events.upsert_managed(calendar.pk, "mine", content("Local"))
        uow.events.upsert_remote(other.pk, RemoteEvent("elsewhere", content("X")))
    with store.write() as uow:
        uow.events.delete_remote_many(calendar.pk, ["r1"])

    with store.read() as uow:
        full = uow.events.list_calendar(calendar.pk, include_deleted=True)
        live = uow.events.list_calendar(calendar.pk)
        light = uow.events.sync_states(calendar.pk)

    assert [r.content.summary for r in live] == ["E0", "E2", "Local"]
    assert [r.calendar_id for r in full] == [calendar.calendar_id] * 4
    assert [s.event_uid for s in light] == [r.event_uid for r in full]
    for state, record in zip(light, full, strict=True):
        assert state.remote_id == record.remote_id
        assert state.fingerprint == record.fingerprint
        assert state.etag == record.etag
        assert (state.managed, state.deleted) == (record.managed, record.deleted)
        assert (state.push_state, state.pending_op) == (record.push_state, record.pending_op)
        assert state.change_seq == record.change_seq
    assert [s.deleted for s in light] == [False, True, False, False]
    assert light[3].pending_op == "create" and light[3].managed
