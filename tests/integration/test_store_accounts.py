"""Accounts, scoping, tokens, outbox leases and sync cursors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from calsync.errors import NotFound
from calsync.model import RemoteCalendar
from calsync.store import UNSET, Store
from calsync.store.repos.tokens import token_hash
from tests.fixtures.store import content, new_calendar


def test_get_or_create_connected_account_is_idempotent(store: Store) -> None:
    with store.write() as uow:
        first = uow.accounts.get_or_create_connected("work", email="me@example.org")
        again = uow.accounts.get_or_create_connected("work")
        other = uow.accounts.get_or_create_connected("home")
    assert first.pk == again.pk != other.pk
    assert first.sub.startswith("acc_") and again.email == "me@example.org"
    with store.read() as uow:
        assert uow.accounts.get_by_sub(first.sub).name == "work"
        assert uow.accounts.find_by_name("nope") is None
        with pytest.raises(NotFound):
            uow.accounts.get_by_sub("acc_missing")


def test_application_calendar_upsert_creates_one_of_each(store: Store) -> None:
    with store.write() as uow:
        account, profile, calendar = uow.accounts.upsert_application("app-cal-1")
    with store.write() as uow:
        again = uow.accounts.upsert_application("app-cal-1")
    assert account.sub.startswith("apc_") and account.kind == "application"
    assert (profile.provider_name, calendar.profile_id) == ("cronofy", profile.profile_id)
    assert again == (account, profile, calendar)
    with store.read() as uow:
        assert len(uow.calendars.list(account.pk)) == 1
        assert len(uow.profiles.list(account.pk)) == 1


def test_lookups_by_public_id_are_scoped_to_the_account(store: Store) -> None:
    mine = new_calendar(store, "mine")
    theirs = new_calendar(store, "theirs")
    with store.read() as uow:
        assert uow.calendars.get(mine.account_pk, mine.calendar_id) == mine
        with pytest.raises(NotFound):
            uow.calendars.get(mine.account_pk, theirs.calendar_id)
        with pytest.raises(NotFound):
            uow.profiles.get(mine.account_pk, theirs.profile_id)
        assert (
            uow.profiles.get(theirs.account_pk, theirs.profile_id).profile_id == theirs.profile_id
        )
        assert [c.pk for c in uow.calendars.list(mine.account_pk)] == [mine.pk]


def test_calendar_update_soft_delete_sync_status_and_feed_token(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        updated = uow.calendars.update(cal.pk, name="Renamed", color=None, metadata={"k": "v"})
        assert updated.timezone == cal.timezone  # UNSET left alone
        uow.calendars.set_sync_status(cal.pk, last_sync_at=cal.created_at, last_error="boom")
        deleted = uow.calendars.soft_delete(cal.pk)
    assert (updated.name, updated.metadata) == ("Renamed", {"k": "v"})
    assert deleted.deleted and deleted.last_error == "boom"
    with store.read() as uow:
        assert uow.calendars.get_by_feed_token(cal.ical_feed_token) == deleted
        assert uow.calendars.get_by_feed_token("nope") is None
        assert uow.calendars.list(cal.account_pk, include_deleted=False) == []
    remote = RemoteCalendar(cal.remote_id or "", "From remote", timezone="Europe/Berlin")
    with store.write() as uow:
        refreshed = uow.calendars.upsert_remote(cal.profile_pk, remote)
        created = uow.calendars.upsert_remote(cal.profile_pk, RemoteCalendar("/new/", "New"))
        assert uow.calendars.update(created.pk, name=UNSET).name == "New"
    assert refreshed.pk == cal.pk and not refreshed.deleted
    assert refreshed.timezone == "Europe/Berlin" and created.pk != cal.pk


def test_profile_disconnect(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        off = uow.profiles.set_connected(cal.profile_pk, False, reason="invalid_grant")
        on = uow.profiles.set_connected(cal.profile_pk, True)
    assert (off.connected, off.disconnect_reason) == (False, "invalid_grant")
    assert (on.connected, on.disconnect_reason) == (True, None)


def test_tokens_are_stored_hashed(store: Store, store_url: str) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        access = uow.tokens.issue(cal.account_pk, "access", timedelta(hours=1))
        refresh = uow.tokens.issue(cal.account_pk, "refresh", None)
    assert access.startswith("csa_") and refresh.startswith("csr_")
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            stored = [tuple(r) for r in conn.execute(text("SELECT * FROM access_tokens"))]
    finally:
        engine.dispose()
    blob = repr(stored)
    assert access not in blob and refresh not in blob
    assert token_hash(access) in blob
    with store.read() as uow:
        record = uow.tokens.resolve(access)
        assert uow.tokens.resolve(access, kind="refresh") is None
        assert uow.tokens.resolve(access + "x") is None
    assert record is not None and record.sub != "" and record.account_pk == cal.account_pk


def test_token_expiry_and_revocation(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        expired = uow.tokens.issue(cal.account_pk, "access", timedelta(seconds=-1))
        one = uow.tokens.issue(cal.account_pk, "access", timedelta(hours=1))
        two = uow.tokens.issue(cal.account_pk, "refresh", timedelta(days=30))
        three = uow.tokens.issue(cal.account_pk, "access", None)
    # The API's one-query auth path agrees with `resolve`.
    found = store.resolve_access_token(one)
    assert found is not None
    with store.read() as uow:
        assert found[1] == uow.accounts.get(cal.account_pk)
    assert found[0] is not None and store.resolve_access_token(three) is not None
    assert store.resolve_access_token(expired) is None
    assert store.resolve_access_token(two) is None  # a refresh token never authenticates
    assert store.resolve_access_token(one + "x") is None
    with store.write() as uow:
        assert uow.tokens.resolve(expired) is None
        assert uow.tokens.revoke(one) is True
        assert uow.tokens.revoke("csa_unknown") is False
        assert uow.tokens.resolve(one) is None
        assert uow.tokens.resolve(two) is not None
        assert uow.tokens.revoke_all(cal.account_pk) == 3  # expired, two, three
    with store.read() as uow:
        assert uow.tokens.resolve(two) is None and uow.tokens.resolve(three) is None
    assert store.resolve_access_token(one) is None and store.resolve_access_token(three) is None


def test_outbox_claim_lease_and_delivery(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        uow.events.upsert_managed(cal.pk, "e1", content())
        uow.outbox.add(cal.account_pk, "profile_disconnected", {"profile_id": cal.profile_id})
    with store.write() as uow:
        claimed = uow.outbox.claim("w1", limit=10, lease=timedelta(minutes=5))
    with store.write() as uow:
        assert uow.outbox.claim("w2", limit=10, lease=timedelta(minutes=5)) == []  # leased
    # Change notifications are added at commit, after anything added explicitly.
    assert [c.kind for c in claimed] == ["profile_disconnected", "change"]
    assert all(c.leased_by == "w1" and c.attempts == 1 for c in claimed)
    with store.write() as uow:
        uow.outbox.mark_delivered(claimed[0].pk)
        uow.outbox.mark_failed(claimed[1].pk, "HTTP 500", retry_at=claimed[1].created_at)
    with store.write() as uow:
        (retry,) = uow.outbox.claim("w2", limit=10, lease=timedelta(minutes=5))
        uow.outbox.mark_failed(retry.pk, "HTTP 410", retry_at=None)
    assert retry.pk == claimed[1].pk and retry.attempts == 2
    with store.read() as uow:
        assert uow.outbox.count(status="delivered") == 1
        assert uow.outbox.count(status="failed") == 1
        assert uow.outbox.count(status="pending") == 0


def test_sync_cursor_set_get_clear(store: Store) -> None:
    cal = new_calendar(store)
    with store.read() as uow:
        assert uow.cursors.get(cal.pk) is None
    with store.write() as uow:
        uow.cursors.set(cal.pk, "token-1", full_sync_completed=True)
    with store.write() as uow:
        uow.cursors.set(cal.pk, "token-2")
        assert uow.cursors.get(cal.pk) is not None
    with store.read() as uow:
        cursor = uow.cursors.get(cal.pk)
    assert cursor is not None and cursor.cursor == "token-2"
    assert cursor.full_sync_completed_at is not None  # kept from the full sync
    with pytest.raises(RuntimeError), store.write() as uow:
        uow.cursors.set(cal.pk, "token-3")
        raise RuntimeError("data commit failed")
    with store.write() as uow:
        assert uow.cursors.get(cal.pk).cursor == "token-2"  # type: ignore[union-attr]
        uow.cursors.clear(cal.pk)
        assert uow.cursors.get(cal.pk).cursor is None  # type: ignore[union-attr]


def test_read_unit_of_work_refuses_writes(store: Store) -> None:
    cal = new_calendar(store)
    with store.read() as uow, pytest.raises(RuntimeError, match="read-only"):
        uow.events.upsert_managed(cal.pk, "e1", content())


def test_account_delete_cascades(store: Store) -> None:
    cal = new_calendar(store)
    with store.write() as uow:
        uow.events.upsert_managed(cal.pk, "e1", content())
        uow.tokens.issue(cal.account_pk, "access", None)
    with store.write() as uow:
        uow.accounts.delete(cal.account_pk)
    with store.read() as uow:
        assert uow.accounts.list() == []
        assert uow.events.list_calendar(cal.pk, include_deleted=True) == []
        assert uow.changes.count() == 0 and uow.outbox.count() == 0


def test_calendar_changes_advance_the_account_version_and_events_continue_above_it(
    store: Store,
) -> None:
    """``last_change_seq`` versions everything a read renders (the API read cache keys on it)."""
    calendar = new_calendar(store)

    def version() -> int:
        with store.read() as uow:
            return uow.accounts.get(calendar.account_pk).last_change_seq

    created = version()  # a new calendar has no events: creating it changes no page
    with store.write() as uow:
        uow.calendars.update(calendar.pk, readonly=True)
    assert version() == created + 1
    with store.write() as uow:
        uow.calendars.update(calendar.pk, readonly=False)
        # In the same transaction an event write continues from the bumped value.
        write = uow.events.upsert_managed(calendar.pk, "after", content())
    assert write.event is not None and write.event.change_seq == created + 3 == version()
    with store.write() as uow:
        uow.calendars.soft_delete(calendar.pk)
    assert version() == created + 4
