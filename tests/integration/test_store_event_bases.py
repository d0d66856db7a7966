"""`Event.base_fingerprint`: the last version known to be on the provider.

Pulls write it (even when nothing else about the event changed), confirmed
pushes write what they are given, API writes never touch it, and a provider's
delete or a re-queued create clears it. Migration 0013 starts existing rows
with nothing pending at their stored fingerprint.
"""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from calsync.model import RemoteEvent
from calsync.store import Store
from calsync.store.schema import alembic_config
from tests.fixtures.store import content, new_calendar


def bases(store: Store, calendar_pk: int) -> dict[str, str | None]:
    with store.read() as uow:
        return {s.event_uid: s.base_fingerprint for s in uow.events.sync_states(calendar_pk)}


def test_pulls_and_pushes_set_the_base_and_api_writes_leave_it(store: Store) -> None:
    cal = new_calendar(store)
    theirs = RemoteEvent("r1", content("theirs"), etag='"1"')
    with store.write() as uow:
        pulled = uow.events.upsert_remote(cal.pk, theirs).event
        mine = uow.events.upsert_managed(cal.pk, "app-1", content("mine")).event
    assert pulled is not None and mine is not None
    assert bases(store, cal.pk) == {pulled.event_uid: pulled.fingerprint, mine.event_uid: None}

    with store.write() as uow:  # the create is confirmed: the base is what was sent
        uow.events.mark_pushed(
            mine.event_uid, remote_id="r2", etag='"a"', base="sent:x", pushed_seq=mine.change_seq
        )
    assert bases(store, cal.pk)[mine.event_uid] == "sent:x"

    # Its echo, listed as sent with another etag: only the tags move, and the
    # base becomes the listed version's fingerprint.
    echo = RemoteEvent("r2", content("mine"), etag='"b"')
    with store.write() as uow:
        assert not uow.events.upsert_remote(cal.pk, echo).changed
    assert bases(store, cal.pk)[mine.event_uid] == echo.content.fingerprint()

    with store.write() as uow:
        assert uow.events.upsert_managed(cal.pk, "app-1", content("mine, edited")).changed
    assert bases(store, cal.pk)[mine.event_uid] == echo.content.fingerprint()

    with store.write() as uow:
        uow.events.requeue_create(mine.event_uid)
        uow.events.delete_remote_many(cal.pk, ["r1"])
    assert bases(store, cal.pk) == {pulled.event_uid: None, mine.event_uid: None}


def test_an_unchanged_listing_fills_a_missing_base(store: Store) -> None:
    cal = new_calendar(store)
    event = RemoteEvent("r1", content("theirs"), etag='"1"')
    with store.write() as uow:
        stored = uow.events.upsert_remote(cal.pk, event).event
    assert stored is not None
    with store.write() as uow:  # as a row from before the column existed
        uow.events._session.execute(text("UPDATE events SET base_fingerprint = NULL"))
    with store.write() as uow:
        again = uow.events.upsert_remote(cal.pk, event)
    assert not again.changed
    assert bases(store, cal.pk) == {stored.event_uid: stored.fingerprint}


def test_the_migration_starts_settled_rows_at_their_fingerprint(empty_store_url: str) -> None:
    store = Store(empty_store_url)
    try:
        store.upgrade()
        cal = new_calendar(store)
        with store.write() as uow:
            settled = uow.events.upsert_remote(cal.pk, RemoteEvent("r1", content("a"))).event
            gone = uow.events.upsert_remote(cal.pk, RemoteEvent("r2", content("b"))).event
            uow.events.delete_remote_many(cal.pk, ["r2"])
            pending = uow.events.upsert_managed(cal.pk, "app-1", content("c")).event
        assert settled is not None and gone is not None and pending is not None
        with store.write() as uow:  # pushed, then edited again: its base is unknown
            uow.events.mark_pushed(
                pending.event_uid, remote_id="r3", etag=None, base="x", pushed_seq=-1
            )
    finally:
        store.dispose()

    engine = create_engine(empty_store_url)
    try:
        with engine.begin() as conn:
            config = alembic_config(conn)
            [revision] = [
                r
                for r in ScriptDirectory.from_config(config).walk_revisions()
                if r.path.endswith("_event_base.py")
            ]
            assert isinstance(revision.down_revision, str)
            command.downgrade(config, revision.down_revision)
            command.upgrade(config, "head")
    finally:
        engine.dispose()

    store = Store(empty_store_url)
    try:
        assert bases(store, cal.pk) == {
            settled.event_uid: settled.fingerprint,
            gone.event_uid: None,
            pending.event_uid: None,
        }
    finally:
        store.dispose()
