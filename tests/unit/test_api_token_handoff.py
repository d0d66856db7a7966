"""The per-request hand-off of a token lookup from the rate limiter to the route."""

from __future__ import annotations

from datetime import UTC, datetime

from calsync.api.deps import HANDOFF_SECONDS, TokenHandoff
from calsync.store.records import AccountRecord

ACCOUNT = AccountRecord(
    pk=1,
    sub="apc_x",
    kind="application",
    name="x",
    application_calendar_id=None,
    email=None,
    display_name=None,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    last_change_at=None,
    last_change_seq=0,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_lookup_is_taken_once() -> None:
    handoff = TokenHandoff(Clock())
    handoff.put("csa_a", ACCOUNT)
    assert handoff.take("csa_a") == (True, ACCOUNT)
    assert handoff.take("csa_a") == (False, None)


def test_a_failed_lookup_is_handed_over_as_such() -> None:
    handoff = TokenHandoff(Clock())
    handoff.put("csa_a", ACCOUNT)
    handoff.put("csa_a", None)  # revoked in between: the newer answer wins
    assert handoff.take("csa_a") == (True, None)


def test_discard_and_age_limit() -> None:
    clock = Clock()
    handoff = TokenHandoff(clock)
    handoff.put("csa_a", ACCOUNT)
    handoff.discard("csa_a")
    assert handoff.take("csa_a") == (False, None)
    handoff.put("csa_b", ACCOUNT)
    clock.now += HANDOFF_SECONDS + 0.1
    assert handoff.take("csa_b") == (False, None)
    assert handoff.take("csa_other") == (False, None)
