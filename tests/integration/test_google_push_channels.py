"""Google push channels end to end: fake Google -> real uvicorn endpoint -> immediate sync.

Also: the handshake, forged notifications, renewal before expiry, channels
stopped with their calendar or account, and polling as the fallback.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.integration.google_push_world import (
    CAL,
    OTHER_CAL,
    PushWorld,
    push_world,
    timed,
    wait_until,
)

__all__ = ["push_world"]


def _soon() -> datetime:
    return (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)


def _fake_channels(world: PushWorld, calendar_id: str) -> list[str]:
    return [c.id for c in world.fake.channels.values() if c.calendar_id == calendar_id]


def test_a_remote_change_is_synced_at_once_through_the_endpoint(push_world: PushWorld) -> None:
    w = push_world
    report = w.manager.ensure_channels(w.account)
    assert report.created == 2 and not report.errors
    assert {c.address for c in w.fake.channels.values()} == {w.server.base_url + "/push/google"}
    assert {c.token for c in w.fake.channels.values()}.isdisjoint(
        {r.token_hash for r in w.rows()}
    ), "the store keeps only a hash of the channel token"
    # The handshake ("sync") of both channels arrives and triggers nothing.
    assert wait_until(lambda: len(w.fake.notifications) >= 2)
    assert w.manager.ensure_channels(w.account).created == 0, "one channel per calendar"

    w.fake.put_event(CAL, timed("Pushed change", _soon()))
    assert wait_until(lambda: "Pushed change" in w.event_summaries()), "synced by the push"
    assert [t.calendar_id for t in w.pushed] == [w.calendar(CAL).calendar_id]
    states = [n["X-Goog-Resource-State"] for n in w.fake.notifications]
    assert states.count("sync") == 2 and states.count("exists") == 1


def test_handshake_forgery_and_unknown_channels(push_world: PushWorld) -> None:
    w = push_world
    w.manager.ensure_channels(w.account)
    channel = next(c for c in w.fake.channels.values() if c.calendar_id == CAL)
    genuine = {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Channel-Token": channel.token or "",
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-State": "sync",
        "X-Goog-Message-Number": "1",
    }
    assert wait_until(lambda: len(w.fake.notifications) >= 2)
    before = list(w.pushed)
    assert w.notify(genuine).status_code == 200  # the handshake: nothing to do
    forged = [
        {**genuine, "X-Goog-Resource-State": "exists", "X-Goog-Channel-Token": "guessed"},
        {**genuine, "X-Goog-Resource-State": "exists", "X-Goog-Resource-ID": "other"},
        {k: v for k, v in genuine.items() if k != "X-Goog-Channel-Token"},
        {**genuine, "X-Goog-Channel-ID": "calsync-unknown"},
        {**genuine, "X-Goog-Channel-ID": "x" * 500},
        {},
    ]
    for headers in forged:
        response = w.notify(headers)
        assert response.status_code == 404, headers
        assert channel.id not in response.text and channel.resource_id not in response.text
    assert w.pushed == before, "no forged notification triggered a sync"

    response = w.notify({**genuine, "X-Goog-Resource-State": "exists"})
    assert response.status_code == 200
    assert wait_until(lambda: len(w.pushed) == len(before) + 1)
    assert w.pushed[-1].calendar_id == w.calendar(CAL).calendar_id


def test_channels_are_renewed_before_they_expire(push_world: PushWorld) -> None:
    w = push_world
    w.manager.ensure_channels(w.account)
    old = {r.calendar_pk: r for r in w.rows()}
    assert all(r.expiration is not None for r in old.values())
    assert w.manager.ensure_channels(w.account).created == 0, "not due yet"

    w.clock.offset = timedelta(minutes=6)  # past half of the 10 minute lifetime
    report = w.manager.ensure_channels(w.account)
    assert (report.created, report.stopped, report.errors) == (2, 2, ())
    new = {r.calendar_pk: r for r in w.rows()}
    assert new.keys() == old.keys()
    assert all(new[pk].channel_id != old[pk].channel_id for pk in old)
    assert set(w.fake.channels) == {r.channel_id for r in new.values()}, "old ones stopped"
    assert all(r.expiration and r.expiration > datetime.now(UTC) for r in new.values())

    # A late notification on a stopped channel is unknown now.
    stale = old[next(iter(old))]
    response = w.notify(
        {
            "X-Goog-Channel-ID": stale.channel_id,
            "X-Goog-Resource-ID": stale.resource_id or "",
            "X-Goog-Resource-State": "exists",
        }
    )
    assert response.status_code == 404


def test_a_failed_renewal_keeps_the_old_channel(push_world: PushWorld) -> None:
    w = push_world
    w.manager.ensure_channels(w.account)
    old = {r.channel_id for r in w.rows()}
    w.clock.offset = timedelta(minutes=6)
    w.fake.fail_next(400, "badRequest", count=2)  # both watch requests fail
    report = w.manager.ensure_channels(w.account)
    assert (report.created, report.stopped, len(report.errors)) == (0, 0, 2)
    assert {r.channel_id for r in w.rows()} == old == set(w.fake.channels)
    report = w.manager.ensure_channels(w.account)  # the next run succeeds
    assert (report.created, report.stopped) == (2, 2)
    assert set(w.fake.channels).isdisjoint(old)


def test_a_removed_calendar_loses_its_channel(push_world: PushWorld) -> None:
    w = push_world
    w.manager.ensure_channels(w.account)
    assert len(_fake_channels(w, OTHER_CAL)) == 1
    w.fake.remove_calendar(OTHER_CAL)  # gone from the calendar list
    w.engine.discover(w.account)  # rediscovery soft-deletes it
    report = w.manager.refresh()
    assert report.stopped == 1 and not report.errors
    assert _fake_channels(w, OTHER_CAL) == []
    assert len(_fake_channels(w, CAL)) == 1, "the other calendar keeps its channel"
    assert {r.calendar_pk for r in w.rows()} == {w.calendar(CAL).pk}


def test_a_removed_account_loses_its_channels(push_world: PushWorld) -> None:
    w = push_world
    w.manager.refresh()
    assert len(w.fake.channels) == 2
    w.settings = replace(w.settings, accounts=())  # a config reload dropped the account
    report = w.manager.refresh()
    assert report.stopped == 2
    assert w.fake.channels == {} and w.rows() == []


def test_stop_account_stops_everything_of_it(push_world: PushWorld) -> None:
    w = push_world
    w.manager.ensure_channels(w.account)
    assert w.manager.stop_account(w.account).stopped == 2
    assert w.fake.channels == {} and w.rows() == []


def test_polling_still_syncs_when_no_notification_comes(push_world: PushWorld) -> None:
    w = push_world
    w.manager.ensure_channels(w.account)
    assert wait_until(lambda: len(w.fake.notifications) >= 2)
    with w.fake.lock:
        w.fake.channels.clear()  # Google lost them: no notification will come
    w.fake.put_event(CAL, timed("Polled change", _soon()))
    assert "Polled change" not in w.event_summaries()
    report = w.engine.sync_account(w.account)  # the regular interval job
    assert report.error is None
    assert "Polled change" in w.event_summaries()
    assert w.pushed == []


def test_no_channels_without_a_public_base_url(push_world: PushWorld) -> None:
    w = push_world
    w.settings = replace(
        w.settings, notify=replace(w.settings.notify, allow_private_callbacks=False)
    )
    assert w.manager.address is None  # http://127.0.0.1:… is not reachable for Google
    assert w.manager.ensure_channels(w.account).created == 0
    assert w.fake.channels == {} and w.rows() == []
