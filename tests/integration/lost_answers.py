"""The lost-answer scenarios every writable provider passes: the last acknowledged edit wins.

A push (create, update or delete) reaches the server, which applies it, and its
answer is lost, for the first try and every retry the client makes: the pass
fails with the write applied remotely and the push still pending. The app then
edits the event again through the API (202) and the engine syncs. The server and
the API must end with the app's last version, with no conflict and no duplicate.

A provider's test module subclasses `LostAnswerScenarios` as ``Test…`` and
provides a ``world`` fixture: a `LostAnswerWorld` that says how its server loses
answers and what it holds. The module parametrizes ``e2e_store_url`` (SQLite and
PostgreSQL).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync.providers import registry
from calsync.providers.base import Provider
from calsync.sync import SyncEngine
from tests.fixtures.e2e import E2EAccount

SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)


def body(summary: str) -> dict[str, str]:
    return {
        "summary": summary,
        "start": SOON.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (SOON + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class LostAnswerWorld(ABC):
    """One provider's account, and its server's way of losing answers."""

    #: The HTTP methods of a create, an update and a delete push.
    create_method = "POST"
    update_method = "PATCH"
    delete_method = "DELETE"

    def __init__(self, e2e: E2EAccount) -> None:
        self.e2e = e2e

    @abstractmethod
    def remote_summaries(self) -> list[str]:
        """The summaries of the live events on the server, sorted, read independently."""

    @abstractmethod
    def lose_answers(self, method: str) -> None:
        """Make the server apply the next ``method`` push and lose every answer to it
        (first try and retries); the next `E2EAccount.sync` runs the push."""

    @abstractmethod
    def after_loss(self) -> None:
        """Check the loss happened as arranged, and let later answers through."""


def sync_with(e2e: E2EAccount, adjust: Callable[[Any], None]) -> None:
    """From now on the account syncs with the real providers, each handed to ``adjust``
    first (to make its retries without sleeping: the test's time is short)."""

    def factory(name: str, account_name: str, options: Mapping[str, Any]) -> Provider:
        provider = registry.create(name, account_name, options)
        adjust(provider)
        return provider

    e2e.engine = SyncEngine(e2e.store, e2e.settings, provider_factory=factory, clock=e2e.clock)


def settle(e2e: E2EAccount) -> None:
    for _ in range(3):
        e2e.sync_ok()
        if not e2e.pending():
            return
    raise AssertionError(f"still pending: {e2e.pending()}")


def lose_the_push(world: LostAnswerWorld, method: str) -> None:
    world.lose_answers(method)
    report = world.e2e.sync()
    world.after_loss()
    assert not report.ok, "every answer was lost"
    assert world.e2e.pending(), "so the push is still pending"
    if report.retry_at is not None:  # the account backs off; the test moves time on
        world.e2e.clock.advance_to(report.retry_at)


def assert_both_sides(world: LostAnswerWorld, summary: str) -> None:
    e2e = world.e2e
    assert world.remote_summaries() == [summary]
    assert [e["summary"] for e in e2e.read(include_managed=True)] == [summary]
    assert e2e.pending() == []
    with e2e.store.read() as uow:
        account = uow.accounts.find_by_name(e2e.account.name)
        assert account is not None
        assert "conflict" not in [c.op for c in uow.changes.list_since(account.pk)]


class LostAnswerScenarios:
    """The three scenarios; subclass as ``Test…`` beside a ``world`` fixture."""

    def test_create_answer_lost_then_edited(self, world: LostAnswerWorld) -> None:
        e2e = world.e2e
        e2e.sync_ok()
        e2e.upsert("app-1", **body("v1"))
        lose_the_push(world, world.create_method)
        assert world.remote_summaries() == ["v1"], "the server applied it"
        e2e.upsert("app-1", **body("v2"))
        settle(e2e)
        assert_both_sides(world, "v2")

    def test_update_answer_lost_then_edited(self, world: LostAnswerWorld) -> None:
        e2e = world.e2e
        e2e.sync_ok()
        e2e.upsert("app-1", **body("v1"))
        settle(e2e)
        e2e.upsert("app-1", **body("v2"))
        lose_the_push(world, world.update_method)
        assert world.remote_summaries() == ["v2"]
        e2e.upsert("app-1", **body("v3"))
        settle(e2e)
        assert_both_sides(world, "v3")

    def test_delete_answer_lost_then_written_again(self, world: LostAnswerWorld) -> None:
        e2e = world.e2e
        e2e.sync_ok()
        e2e.upsert("app-1", **body("v1"))
        settle(e2e)
        e2e.delete("app-1")
        lose_the_push(world, world.delete_method)
        assert world.remote_summaries() == []
        e2e.upsert("app-1", **body("v2"))
        settle(e2e)
        assert_both_sides(world, "v2")
