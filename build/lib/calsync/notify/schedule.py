"""When to try a failed delivery again, and when to give up on a channel.

The schedule is Standard Webhooks': 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
20 h, 24 h after the previous attempt, each with ±10 % jitter so a receiver
that comes back is not hit by every channel at once. After the last step the
24 h step repeats, until the channel has been failing for ``disable_after``
(3 days): then it is disabled. A ``Retry-After`` answer (seconds or an HTTP
date) is honoured when it asks for more time than the schedule, up to one day.
A 410 Gone disables the channel at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

STANDARD_SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
)
MAX_RETRY_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class RetryPolicy:
    schedule: Sequence[timedelta] = STANDARD_SCHEDULE
    jitter: float = 0.1
    disable_after: timedelta = timedelta(days=3)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempts: int, retry_after: timedelta | None = None) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1-based)."""
        step = self.schedule[min(max(attempts, 1), len(self.schedule)) - 1]
        spread = 1 + self.jitter * (2 * self.random() - 1)
        wait = step * spread
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, MAX_RETRY_AFTER)
        return wait

    def should_disable(self, failing_since: datetime | None, now: datetime) -> bool:
        return failing_since is not None and now - failing_since > self.disable_after


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a duration: delta-seconds or an HTTP date; None if absent or junk."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))
