"""Per-account backoff: exponential with full jitter, honouring ``Retry-After``."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta


class Backoff:
    """When an account may be tried again after rate limits and transient faults.

    The n-th consecutive failure waits a uniformly random time in
    ``[0, min(cap, base * 2**n)]`` ("full jitter", so many accounts failing
    together do not retry in lockstep), but never less than the provider's
    ``retry_after``. A success resets it.
    """

    def __init__(
        self,
        *,
        base: float = 1.0,
        cap: float = 900.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self._rng = rng
        self.failures = 0
        self.not_before: datetime | None = None

    def failure(self, now: datetime, *, retry_after: float | None = None) -> datetime:
        """Record a failure at ``now``; returns when the next attempt may start."""
        ceiling = min(self.cap, self.base * 2.0**self.failures)
        delay = self._rng() * ceiling
        if retry_after is not None and retry_after > delay:
            delay = retry_after
        self.failures += 1
        self.not_before = now + timedelta(seconds=delay)
        return self.not_before

    def success(self) -> None:
        self.failures = 0
        self.not_before = None

    def ready(self, now: datetime) -> bool:
        return self.not_before is None or now >= self.not_before
