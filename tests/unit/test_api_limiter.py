"""The sliding-window rate limiter, driven by a fake monotonic clock."""

from __future__ import annotations

import base64
import threading

from hypothesis import given
from hypothesis import strategies as st

from calsync.api.limits import RateLimiter, Window


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_up_to_the_limit_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter((Window(3, 1.0),), clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [None, None, None]
    clock.now += 0.25
    wait = limiter.check("a")
    assert wait is not None and abs(wait - 0.75) < 1e-9
    clock.now += 0.75
    assert limiter.check("a") is None


def test_clients_do_not_share_a_budget() -> None:
    limiter = RateLimiter((Window(1, 1.0),), clock=FakeClock())
    assert limiter.check("a") is None
    assert limiter.check("a") is not None
    assert limiter.check("b") is None


def test_the_longer_window_binds_when_the_short_one_has_room() -> None:
    clock = FakeClock()
    limiter = RateLimiter.per_second_and_minute(per_second=10, per_minute=3)
    limiter._clock = clock
    for _ in range(3):
        assert limiter.check("a") is None
        clock.now += 2
    wait = limiter.check("a")
    # The first hit was 6 s ago; the minute window frees it 54 s from now.
    assert wait is not None and abs(wait - 54.0) < 1e-9


def test_rejected_requests_are_not_counted() -> None:
    clock = FakeClock()
    limiter = RateLimiter((Window(1, 1.0),), clock=clock)
    assert limiter.check("a") is None
    for _ in range(50):
        assert limiter.check("a") is not None
    clock.now += 1.0
    assert limiter.check("a") is None


def test_zero_limit_disables_the_window() -> None:
    limiter = RateLimiter((Window(0, 1.0),), clock=FakeClock())
    assert all(limiter.check("a") is None for _ in range(100))


def test_idle_clients_are_swept() -> None:
    clock = FakeClock()
    limiter = RateLimiter((Window(5, 1.0),), clock=clock, sweep_every=10)
    for i in range(9):
        limiter.check(f"client-{i}")
    clock.now += 5
    limiter.check("late")  # the 10th call sweeps
    assert set(limiter._hits) == {"late"}


def test_thread_safe_under_contention() -> None:
    limiter = RateLimiter((Window(100, 3600.0),))
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(50):
            ok = limiter.check("shared") is None
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100


@given(
    limit=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.6), min_size=1, max_size=60),
)
def test_never_more_than_limit_in_any_window(limit: int, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = RateLimiter((Window(limit, 1.0),), clock=clock)
    accepted: list[float] = []
    for gap in gaps:
        clock.now += gap
        wait = limiter.check("k")
        if wait is None:
            accepted.append(clock.now)
        else:
            assert wait > 0
            # Waiting exactly as told must succeed at once.
            inside = [t for t in accepted if t > clock.now - 1.0]
            assert len(inside) >= limit
    for i, stamp in enumerate(accepted):
        inside = [t for t in accepted[: i + 1] if t > stamp - 1.0]
        assert len(inside) <= limit


def test_oauth_clients_are_limited_by_client_id_in_any_form() -> None:
    """The OAuth endpoints take forms and HTTP Basic: the limit still finds the client."""
    from calsync.api.limits import _client_id_from_basic, _client_id_from_body

    assert _client_id_from_body(b'{"client_id": "app", "x": 1}') == "app"
    assert _client_id_from_body(b"grant_type=refresh_token&client_id=app") == "app"
    assert _client_id_from_body(b"client_id=&grant_type=x") is None
    assert _client_id_from_body(b"\xff\xfeclient_id") is None
    basic = base64.b64encode(b"app:secret").decode()
    assert _client_id_from_basic({"authorization": f"Basic {basic}"}) == "app"
    assert _client_id_from_basic({"authorization": "Basic !!!"}) is None
    assert _client_id_from_basic({"authorization": "Bearer None"}) is None
