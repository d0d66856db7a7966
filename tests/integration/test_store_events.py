"""The event write path: fingerprints, clock, journal atomicity, tombstones, reads."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from calsync.model import RemoteEvent
from calsync.store import EventQuery, Store, WriteOutcome
from tests.fixtures.store import BASE_TIME, content, new_calendar


def _counts(store: Store) -> tuple[int, int]:
    with store.read() as uow:
        return uow.changes.count(), uow.outbox.count()


def test_identical_upsert_is_a_no_op(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        first = uow.events.upsert_managed(cal.pk, "e1", content("Standup"))
    assert first.outcome is WriteOutcome.CREATED and first.event is not None
    before = _counts(store)
    with store.write() as uow:
        again = uow.events.upsert_managed(cal.pk, "e1", content("Standup"))
    assert again.outcome is WriteOutcome.UNCHANGED
    assert _counts(store) == before == (1, 1)
    with store.read() as uow:
        stored = uow.events.get(first.event.event_uid)
    assert stored is not None
    assert stored.updated == first.event.updated
    assert stored.change_seq == first.event.change_seq


def test_changed_upsert_bumps_clock_and_keeps_previous_version(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        first = uow.events.upsert_managed(cal.pk, "e1", content("Draft"))
    with store.write() as uow:
        second = uow.events.upsert_managed(cal.pk, "e1", content("Final"))
    assert second.outcome is WriteOutcome.UPDATED
    assert first.event is not None and second.event is not None
    assert second.event.event_uid == first.event.event_uid
    assert second.event.updated >= first.event.updated
    assert second.event.change_seq == first.event.change_seq + 1
    assert second.event.content.summary == "Final"
    with store.read() as uow:
        log = uow.changes.list_since(cal.account_pk)
    assert [c.op for c in log] == ["created", "updated"]
    assert log[0].previous is None
    assert log[1].previous is not None and log[1].previous["summary"] == "Draft"


def test_updated_is_monotonic_across_calendars_of_an_account(store: Store) -> None:
    a = new_calendar(store, name="A")
    b = new_calendar(store, name="B")
    stamps = []
    for i in range(30):
        with store.write() as uow:
            w = uow.events.upsert_managed((a, b)[i % 2].pk, f"e{i % 5}", content(f"v{i}"))
        assert w.event is not None
        stamps.append((w.event.updated, w.event.change_seq))
    assert stamps == sorted(stamps)
    assert [seq for _, seq in stamps] == list(range(1, 31))


def test_failure_inside_write_leaves_no_event_and_no_journal(store: Store) -> None:
    cal = new_calendar(store)
    with pytest.raises(RuntimeError, match="boom"), store.write() as uow:
        uow.events.upsert_managed(cal.pk, "e1", content())
        raise RuntimeError("boom")
    with store.read() as uow:
        assert uow.events.get_in_calendar(cal.pk, event_id="e1") is None
        assert uow.changes.count() == 0
        assert uow.outbox.count() == 0
        assert uow.accounts.get(cal.account_pk).last_change_seq == 0


def test_one_outbox_row_per_calendar_per_transaction(store: Store) -> None:
    a = new_calendar(store, name="A")
    b = new_calendar(store, name="B")
    with store.write() as uow:
        for i in range(3):
            uow.events.upsert_managed(a.pk, f"e{i}", content())
        uow.events.upsert_remote(b.pk, RemoteEvent("r1", content()))
    with store.read() as uow:
        rows = uow.outbox.list()
        changes = uow.changes.list_since(a.account_pk)
    assert len(changes) == 4
    by_calendar = {r.payload["calendar_id"]: r.payload for r in rows}
    assert set(by_calendar) == {a.calendar_id, b.calendar_id}
    assert by_calendar[a.calendar_id]["change_count"] == 3
    assert by_calendar[a.calendar_id]["managed"] and not by_calendar[a.calendar_id]["external"]
    assert by_calendar[b.calendar_id]["external"]
    assert by_calendar[a.calendar_id]["changes_since"] == changes[0].updated.isoformat()


def test_delete_makes_a_tombstone_and_is_idempotent(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        created = uow.events.upsert_managed(cal.pk, "e1", content())
        missing = uow.events.delete_managed(cal.pk, "nope")
    assert missing.outcome is WriteOutcome.MISSING
    with store.write() as uow:
        deleted = uow.events.delete_managed(cal.pk, "e1")
    with store.write() as uow:
        again = uow.events.delete_managed(cal.pk, "e1")
    assert deleted.outcome is WriteOutcome.DELETED and again.outcome is WriteOutcome.UNCHANGED
    assert created.event is not None and deleted.event is not None
    assert deleted.event.deleted and deleted.event.updated >= created.event.updated
    # Never pushed: nothing to delete remotely.
    assert deleted.event.push_state == "none"
    with store.read() as uow:
        assert uow.events.count_live(cal.pk) == 0
        live = uow.events.list_changed(EventQuery(account_pk=cal.account_pk))
        with_deleted = uow.events.list_changed(
            EventQuery(account_pk=cal.account_pk, include_deleted=True)
        )
        assert uow.changes.count() == 2
    assert live == [] and [e.event_uid for e in with_deleted] == [created.event.event_uid]
    with store.write() as uow:
        revived = uow.events.upsert_managed(cal.pk, "e1", content())
    assert revived.outcome is WriteOutcome.UPDATED
    assert revived.event is not None and not revived.event.deleted


def test_push_queue_and_mark_pushed(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        w = uow.events.upsert_managed(cal.pk, "e1", content())
    assert w.event is not None and (w.event.push_state, w.event.pending_op) == ("pending", "create")
    with store.read() as uow:
        (pending,) = uow.events.pending_pushes(calendar_pk=cal.pk)
    # The event changes while the push is in flight: it stays pending, as an update.
    with store.write() as uow:
        uow.events.upsert_managed(cal.pk, "e1", content("moved", day=1))
        uow.events.mark_pushed(
            pending.event_uid, remote_id="r-1", etag="e1", base=None, pushed_seq=pending.change_seq
        )
    with store.read() as uow:
        (pending,) = uow.events.pending_pushes()
    assert (pending.pending_op, pending.remote_id) == ("update", "r-1")
    with store.write() as uow:
        uow.events.mark_pushed(
            pending.event_uid, remote_id=None, etag="e2", base=None, pushed_seq=pending.change_seq
        )
        assert uow.events.pending_pushes() == []
        deleted = uow.events.delete_managed(cal.pk, "e1")
    assert deleted.event is not None and deleted.event.pending_op == "delete"


def test_remote_upsert_etag_only_change_is_stored_quietly(store: Store) -> None:
    cal = new_calendar(store)
    event = RemoteEvent("r1", content(), etag="1", ical_uid="u1@x")
    with store.write() as uow:
        assert uow.events.upsert_remote(cal.pk, event).outcome is WriteOutcome.CREATED
    with store.write() as uow:
        w = uow.events.upsert_remote(cal.pk, dataclasses.replace(event, etag="2"))
    assert w.outcome is WriteOutcome.UNCHANGED
    with store.read() as uow:
        stored = uow.events.get_in_calendar(cal.pk, remote_id="r1")
        assert uow.changes.count() == 1
    assert stored is not None and stored.etag == "2" and stored.change_seq == 1


def test_remote_batch_links_overrides_and_own_pushes(store: Store) -> None:
    cal = new_calendar(store)
    master = dataclasses.replace(content("Weekly"), recurrence=("RRULE:FREQ=WEEKLY;COUNT=5",))
    override = dataclasses.replace(content("Moved", day=7), original_start=BASE_TIME + timedelta(7))
    with store.write() as uow:
        own = uow.events.upsert_managed(cal.pk, "app-1", content("Mine"))
    assert own.event is not None
    with store.write() as uow:
        writes = uow.events.upsert_remote_many(
            cal.pk,
            [
                RemoteEvent("m", master),
                RemoteEvent("m_1", override, master_remote_id="m"),
                RemoteEvent("r-own", content("Mine"), origin_event_uid=own.event.event_uid),
            ],
        )
    assert [w.outcome for w in writes] == [
        WriteOutcome.CREATED,
        WriteOutcome.CREATED,
        WriteOutcome.UNCHANGED,
    ]
    with store.read() as uow:
        (instance,) = uow.events.list_instances([writes[0].event.event_uid])  # type: ignore[union-attr]
        mine = uow.events.get(own.event.event_uid)
    assert (
        instance.remote_id == "m_1" and instance.content.original_start == override.original_start
    )
    assert mine is not None and mine.remote_id == "r-own"


def test_remote_deletions_and_bulk_calendar_delete(store: Store) -> None:
    cal = new_calendar(store)
    other = new_calendar(store, name="Other")
    with store.write() as uow:
        uow.events.upsert_remote_many(cal.pk, [RemoteEvent(f"r{i}", content()) for i in range(5)])
        uow.events.upsert_managed(other.pk, "keep", content())
    with store.write() as uow:
        gone = uow.events.delete_remote_many(cal.pk, ["r0", "r1", "unknown"])
    assert [w.outcome for w in gone] == [
        WriteOutcome.DELETED,
        WriteOutcome.DELETED,
        WriteOutcome.MISSING,
    ]
    with store.write() as uow:
        assert uow.events.delete_calendars([cal.pk]) == 3
    with store.read() as uow:
        assert uow.events.count_live(cal.pk) == 0
        assert uow.events.count_live(other.pk) == 1
        assert len(uow.events.list_calendar(cal.pk, include_deleted=True)) == 5


def test_all_day_event_round_trip_and_window(store: Store) -> None:
    cal = new_calendar(store)
    holiday = dataclasses.replace(content("Holiday"), start=date(2026, 7, 1), end=date(2026, 7, 2))
    with store.write() as uow:
        uow.events.upsert_managed(cal.pk, "h", holiday)
        uow.events.upsert_managed(cal.pk, "late", content("Late", day=60))
    with store.read() as uow:
        (stored,) = uow.events.list_changed(
            EventQuery(
                account_pk=cal.account_pk,
                # 2026-07-01 in Pacific/Kiritimati (UTC+14) starts on June 30 in UTC.
                window=(BASE_TIME.replace(month=6, day=30, hour=10), BASE_TIME.replace(month=7)),
            )
        )
    assert stored.content == holiday and stored.content.all_day


def test_list_changed_window_filters_and_recurring_masters(store: Store) -> None:
    cal = new_calendar(store)
    weekly = dataclasses.replace(content("Weekly"), recurrence=("RRULE:FREQ=WEEKLY",))
    with store.write() as uow:
        uow.events.upsert_managed(cal.pk, "inside", content("in", day=10))
        uow.events.upsert_managed(cal.pk, "before", content("before", day=-10))
        uow.events.upsert_managed(cal.pk, "series", weekly)  # starts before, repeats into it
        uow.events.upsert_remote(cal.pk, RemoteEvent("ext", content("ext", day=10)))
    window = (BASE_TIME + timedelta(days=5), BASE_TIME + timedelta(days=15))

    def ids(**filters: object) -> set[str | None]:
        with store.read() as uow:
            q = EventQuery(account_pk=cal.account_pk, window=window, **filters)  # type: ignore[arg-type]
            return {e.event_id or e.remote_id for e in uow.events.list_changed(q)}

    assert ids() == {"inside", "series", "ext"}
    assert ids(only_managed=True) == {"inside", "series"}
    assert ids(include_managed=False) == {"ext"}
    assert ids(calendar_pks=[]) == set()


def test_keyset_pagination_returns_every_row_once(store: Store) -> None:
    cal = new_calendar(store)
    other = new_calendar(store, name="Other")
    with store.write() as uow:  # one transaction: many rows share one `updated`
        uow.events.upsert_managed_many(cal.pk, [(f"e{i}", content(f"{i}")) for i in range(40)])
        uow.events.upsert_managed_many(other.pk, [(f"o{i}", content(f"{i}")) for i in range(13)])
    seen: list[str] = []
    after = None
    with store.read() as uow:
        while True:
            page = uow.events.list_changed(
                EventQuery(account_pk=cal.account_pk, after=after, limit=7)
            )
            if not page:
                break
            seen += [e.event_uid for e in page]
            after = page[-1].page_key
    assert len(seen) == 53 == len(set(seen))
