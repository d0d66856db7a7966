"""The connect flow's rows (issue #12) on SQLite and PostgreSQL: single use, expiry,
hashes only, and the hourly prune of expired ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from calsync.config import settings_from_tables
from calsync.daemon.retention import CONNECT_GRACE, prune_once
from calsync.store import Store
from calsync.store.repos.connect import digest

TEN_MINUTES = timedelta(minutes=10)


def request(store: Store, *, ttl: timedelta = TEN_MINUTES) -> str:
    with store.write() as uow:
        return uow.auth_requests.create(
            browser="cookie-value",
            client_id="app",
            redirect_uri="http://127.0.0.1:9/cb",
            scope="read_events",
            app_state="s",
            avoid_linking=False,
            ttl=ttl,
        )


def test_a_request_is_found_by_its_handle_bound_to_its_browser_and_used_once(
    store: Store,
) -> None:
    handle = request(store)
    with store.read() as uow:
        found = uow.auth_requests.get(handle)
        assert uow.auth_requests.get(handle + "x") is None
    assert found is not None and not found.consumed
    assert (
        found.bound_to("cookie-value") and not found.bound_to("other") and not found.bound_to(None)
    )
    with store.write() as uow:
        assert uow.auth_requests.consume(found.pk)
        assert not uow.auth_requests.consume(found.pk)
    with store.read() as uow:
        again = uow.auth_requests.get(handle)
    assert again is not None and again.consumed


def test_an_expired_request_is_neither_found_nor_consumed(store: Store) -> None:
    handle = request(store, ttl=timedelta(seconds=-1))
    with store.read() as uow:
        assert uow.auth_requests.get(handle) is None


def test_a_code_is_redeemed_once_and_only_by_its_client_and_redirect(store: Store) -> None:
    with store.write() as uow:
        account_pk, name = uow.connections.new_account(
            "x@example.com", taken=frozenset(), email=None
        )
        profile_pk = uow.profiles.get_or_create(account_pk, "google", name).pk
        codes = [
            uow.auth_codes.issue(
                client_id="app",
                redirect_uri="http://127.0.0.1:9/cb",
                account_pk=account_pk,
                profile_pk=profile_pk,
                scope="read_events",
                ttl=ttl,
            )
            for ttl in (TEN_MINUTES, TEN_MINUTES, timedelta(seconds=-1))
        ]
    good, misused, expired = codes
    with store.write() as uow:
        redeemed = uow.auth_codes.redeem(
            good, client_id="app", redirect_uri="http://127.0.0.1:9/cb"
        )
        assert redeemed is not None and redeemed.account_pk == account_pk
        assert (
            uow.auth_codes.redeem(good, client_id="app", redirect_uri="http://127.0.0.1:9/cb")
            is None
        )
        assert (
            uow.auth_codes.redeem(misused, client_id="other", redirect_uri="http://127.0.0.1:9/cb")
            is None
        )
        assert (
            uow.auth_codes.redeem(misused, client_id="app", redirect_uri="http://127.0.0.1:9/cb")
            is None
        )
        assert (
            uow.auth_codes.redeem(expired, client_id="app", redirect_uri="http://127.0.0.1:9/cb")
            is None
        )
    assert digest(good) != good


def test_new_account_names_never_collide(store: Store) -> None:
    with store.write() as uow:
        first = uow.connections.new_account("a@example.com", taken=frozenset(), email=None)
        second = uow.connections.new_account("a@example.com", taken=frozenset(), email=None)
        third = uow.connections.new_account("b", taken=frozenset({"b"}), email=None)
    assert first[1] == "a@example.com" and second[1] == "a@example.com (2)"
    assert third[1] == "b (2)"
    assert len({first[0], second[0], third[0]}) == 3


def test_the_hourly_prune_removes_expired_requests_after_a_day(store: Store) -> None:
    handle = request(store)
    settings = settings_from_tables({}, Path("calsync.toml"))
    soon = datetime.now(UTC) + TEN_MINUTES + CONNECT_GRACE - timedelta(minutes=1)
    prune_once(store, lambda: settings, lambda: soon)
    with store.read() as uow:
        assert uow.auth_requests.get(handle) is not None  # still within the grace
    later = datetime.now(UTC) + TEN_MINUTES + CONNECT_GRACE + timedelta(minutes=1)
    prune_once(store, lambda: settings, lambda: later)
    with store.write() as uow:
        # Gone: not even an update finds it.
        found = uow.auth_requests.get(handle)
    assert found is None
