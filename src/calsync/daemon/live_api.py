"""The API pieces the daemon adds: live rate limits, restart warnings, safe scrapes.

The API's routes and middleware hold the settings they were built with. Only
the rate limits are swapped live (through `ReloadableRateLimiter`, which the
bootstrap hands to the API); every other changed ``[api]`` key is named in a
warning asking for a restart, so an operator never believes a change applied
when it did not. `ScrapeSafe` keeps a store outage from failing ``/metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import fields
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from calsync.api.limits import RateLimiter
from calsync.config import Settings

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from calsync.store import Store


class ReloadableRateLimiter(RateLimiter):
    """A `RateLimiter` whose limits can be replaced while requests are being served.

    Replacing the limits starts a fresh request log: for at most one minute a
    client may get up to one window's worth of extra requests, which is the
    price of not locking every request against reloads.
    """

    def __init__(self, per_second: int, per_minute: int, store: Store | None = None) -> None:
        super().__init__(())
        self._store = store
        self.limits = (per_second, per_minute)
        self._current = self._make(per_second, per_minute)
        #: On PostgreSQL the counts live in the database (shared by replicas).
        self.blocking = self._current.blocking

    def _make(self, per_second: int, per_minute: int) -> RateLimiter:
        if self._store is None:
            return RateLimiter.per_second_and_minute(per_second, per_minute)
        return RateLimiter.for_store(self._store, per_second, per_minute)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None) -> ReloadableRateLimiter:
        return cls(settings.api.rate_limit_per_second, settings.api.rate_limit_per_minute, store)

    def check(self, key: str) -> float | None:
        return self._current.check(key)

    def reconfigure(self, per_second: int, per_minute: int) -> bool:
        """Use the new limits from the next request on; False when they did not change."""
        if (per_second, per_minute) == self.limits:
            return False
        # One reference assignment: a request sees either the old or the new limiter.
        self._current = self._make(per_second, per_minute)
        self.limits = (per_second, per_minute)
        return True


#: ``[api]`` keys a reload applies without a restart.
LIVE_API_KEYS = frozenset({"rate_limit_per_second", "rate_limit_per_minute"})
#: Read by the retention job at each run (`calsync.daemon.retention`).
LIVE_STORE_KEYS = frozenset({"history_retention"})


def changed_keys(old: DataclassInstance, new: DataclassInstance) -> list[str]:
    """Names of the dataclass fields whose values differ (secrets compare by value)."""
    return [f.name for f in fields(old) if getattr(old, f.name) != getattr(new, f.name)]


def restart_needed(old: Settings, new: Settings) -> list[str]:
    """``section.key`` of every changed setting that only a restart applies."""
    keys = [f"api.{k}" for k in changed_keys(old.api, new.api) if k not in LIVE_API_KEYS]
    keys += [f"store.{k}" for k in changed_keys(old.store, new.store) if k not in LIVE_STORE_KEYS]
    # The relay is rebuilt on reload; the API checks new channels with the old values.
    keys += [f"notify.{k} (for the API)" for k in changed_keys(old.notify, new.notify)]
    # Syncs of connected accounts use the new [providers.*]; the connect flow (the
    # API) keeps the tables it started with.
    keys += [
        f"providers.{k} (for /oauth/authorize)" for k in changed_keys(old.providers, new.providers)
    ]
    return keys


class ScrapeSafe(Collector):
    """Wraps a store-reading collector: when the store cannot be read it logs and
    yields nothing, so a scrape during a database outage still shows the rest."""

    def __init__(self, inner: Collector, what: str) -> None:
        self._inner = inner
        self._what = what

    def collect(self) -> Iterator[Metric]:
        try:
            metrics = list(self._inner.collect())
        except Exception:
            logging.getLogger(__name__).warning(
                "could not read %s metrics", self._what, exc_info=True
            )
            return
        yield from metrics
