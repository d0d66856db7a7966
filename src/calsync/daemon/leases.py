"""`LeaseKeeper`: this replica's share of the calendars, on PostgreSQL.

Every third of ``[sync] lease_ttl`` (and once at start) one write transaction:

1. beat this replica's row (with a digest of its ``[[accounts]]``);
2. create lease rows for new calendars; count the live replicas R and the
   calendars C;
3. renew the leases still held with their tokens (a lease granted meanwhile
   to another replica is lost, and forgotten here);
4. keep about C/R: grant free or expired leases, next due first (``SKIP
   LOCKED``: replicas never wait for each other), or give back the surplus
   that is not being synced right now. A lease taken from a replica whose
   lease expired is a takeover (``calsync_lease_takeovers_total``).

A replica that dies stops renewing; after the TTL its leases are free and the
others take them (their share grows as its heartbeat ages out). On a clean
stop the keeper gives its leases back at once. An account with a newly
granted due calendar, or one another replica marked due (a provider push or
an app's write reached that replica), is woken at once (``wake``).

Which calendars are due is the engine's business (`calsync.sync.ownership.owned`); the
lease keeps its due time when it moves, so a moved calendar is not synced
again before its interval is up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from calsync.config import Settings
from calsync.store import LeaseGrant, LeaseRecord, ReplicaRecord, Store

log = logging.getLogger(__name__)


def new_replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def accounts_digest(settings: Settings) -> str:
    """A hash of the ``[[accounts]]`` every replica must agree on (secrets excluded:
    only names, providers, enabled flags, intervals and option names)."""
    described = [
        {
            "name": a.name,
            "provider": a.provider,
            "enabled": a.enabled,
            "interval": None if a.interval is None else a.interval.total_seconds(),
            "options": sorted(a.options),
        }
        for a in sorted(settings.accounts, key=lambda a: a.name)
    ]
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(slots=True)
class _Held:
    token: int
    due_at: datetime | None
    account: str | None = None


class LeaseKeeper:
    """Implements `calsync.sync.ownership.Ownership` for the daemon (see the module doc)."""

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Settings],
        *,
        wake: Callable[[str], None] = lambda _account: None,
        replica: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        member: bool = True,
    ) -> None:
        #: False for ``sync --once``: it takes every free lease it can, syncs those
        #: calendars now (nothing is "not due"), and is not counted as a replica.
        self._member = member
        self._store = store
        self._settings = settings
        self._wake = wake
        self._clock = clock
        self._replica = replica or new_replica_id()
        self._started_at = clock()
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._held: dict[int, _Held] = {}
        self._busy: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.takeovers = 0
        self.replicas = 1
        #: ``[[accounts]]`` digests of the live replicas, by replica id, when they differ.
        self.disagreement: dict[str, list[str]] = {}
        self.leader = False
        self._digest = ""

    # -- Ownership ------------------------------------------------------------------

    @property
    def replica(self) -> str:
        return self._replica

    def token(self, calendar_pk: int) -> int | None:
        with self._lock:
            held = self._held.get(calendar_pk)
            return None if held is None else held.token

    def due(self, calendar_pk: int) -> datetime | None:
        if not self._member:
            return None
        with self._lock:
            held = self._held.get(calendar_pk)
            return None if held is None else held.due_at

    @contextmanager
    def syncing(self, calendar_pk: int) -> Iterator[None]:
        with self._lock:
            self._busy[calendar_pk] = self._busy.get(calendar_pk, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[calendar_pk] -= 1
                if not self._busy[calendar_pk]:
                    del self._busy[calendar_pk]

    def synced(self, calendar_pk: int, due_at: datetime) -> None:
        with self._lock:
            held = self._held.get(calendar_pk)
            if held is not None:
                held.due_at = due_at

    def lost(self, calendar_pk: int) -> None:
        with self._lock:
            self._held.pop(calendar_pk, None)

    def held(self) -> dict[int, datetime | None]:
        """Calendar key -> due time of every lease held now (for /metrics)."""
        with self._lock:
            return {pk: h.due_at for pk, h in self._held.items()}

    def status(self) -> dict[str, Any]:
        """For ``/healthz``: who this replica is, how many are live, and warnings."""
        warnings = []
        if self.disagreement:
            groups = "; ".join(", ".join(ids) for ids in self.disagreement.values())
            warnings.append(f"[[accounts]] differ between replicas (groups: {groups})")
        with self._lock:
            held = len(self._held)
        return {
            "replica": self._replica,
            "live": self.replicas,
            "leases_held": held,
            "accounts_digest": self._digest,
            "warnings": warnings,
        }

    def held_elsewhere(self) -> list[str]:
        """Public ids of the configured calendars another replica holds now."""
        names = [a.name for a in self._settings().accounts if a.enabled]
        with self._store.read() as uow:
            return uow.sync_leases.held_elsewhere(self._replica, names)

    def owns(self, calendar_pk: int) -> bool:
        return self.token(calendar_pk) is not None

    # -- the heartbeat ------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            self.tick()
        except Exception:
            log.exception("sync leases: a round after discovery failed")

    def tick(self) -> None:
        """One round (see the module doc). Raises store errors (the loop logs them)."""
        with self._tick_lock:
            self._tick()

    def _tick(self) -> None:
        settings = self._settings()
        ttl = settings.sync.lease_ttl
        names = [a.name for a in settings.accounts if a.enabled]
        now = self._clock()
        with self._lock:
            held = {pk: h.token for pk, h in self._held.items()}
            busy = set(self._busy)
        self._digest = accounts_digest(settings)
        with self._store.write() as uow:
            leases = uow.sync_leases
            if self._member:
                leases.beat(
                    self._replica,
                    listen=str(settings.api.listen),
                    accounts_digest=self._digest,
                    accounts=names,
                    started_at=self._started_at,
                )
            total = leases.ensure(names)
            live = leases.live_replicas(now - ttl)
            leases.forget_replica("", dead_before=now - 10 * ttl)
            kept = leases.renew(self._replica, held, now + ttl)
            share = math.ceil(total / max(1, len(live))) if self._member else total
            grants = leases.acquire(self._replica, names, limit=share - len(kept), until=now + ttl)
            surplus = [pk for pk in sorted(kept, reverse=True) if pk not in busy]
            surplus = surplus[: max(0, len(kept) - share)]
            leases.release(self._replica, surplus)
            rows = {r.calendar_pk: r for r in leases.list(self._replica)}
            accounts = leases.account_names([*kept, *(g.calendar_pk for g in grants)])
        self._apply(held, kept, surplus, grants, rows, accounts, now)
        self._observe(live, settings)

    def _apply(
        self,
        held: dict[int, int],
        kept: set[int],
        surplus: list[int],
        grants: list[LeaseGrant],
        rows: dict[int, LeaseRecord],
        accounts: dict[int, str],
        now: datetime,
    ) -> None:
        wake: set[str] = set()
        with self._lock:
            for pk in set(held) - kept:
                log.warning("lost the sync lease of calendar %d to another replica", pk)
                self._held.pop(pk, None)
            for pk in surplus:
                self._held.pop(pk, None)
            for pk in kept - set(surplus):
                current = self._held.get(pk)
                row = rows.get(pk)
                if current is None or row is None:
                    continue
                marked = row.due_at
                if (
                    marked is not None
                    and marked <= now
                    and (current.due_at is None or current.due_at > now)
                ):
                    wake.add(accounts.get(pk, ""))  # another replica asked for it
                current.due_at = marked
            for grant in grants:
                self._held[grant.calendar_pk] = _Held(grant.token, grant.due_at)
                if grant.taken_over:
                    self.takeovers += 1
                    log.info(
                        "took over the sync of calendar %d (token %d)",
                        grant.calendar_pk,
                        grant.token,
                    )
                if grant.due_at is None or grant.due_at <= now:
                    wake.add(accounts.get(grant.calendar_pk, ""))
        if grants or surplus:
            log.info(
                "replica %s holds %d calendar lease(s) (+%d, -%d)",
                self._replica,
                len(self._held),
                len(grants),
                len(surplus),
            )
        for account in sorted(wake - {""}):
            self._wake(account)

    def _observe(self, live: list[ReplicaRecord], settings: Settings) -> None:
        self.replicas = max(1, len(live))
        self.leader = bool(live) and live[0].replica_id == self._replica
        digests: dict[str, list[str]] = {}
        for replica in live:
            digests.setdefault(replica.accounts_digest, []).append(replica.replica_id)
        disagreement = digests if len(digests) > 1 else {}
        if disagreement and disagreement != self.disagreement:
            mine = accounts_digest(settings)
            others = [r for d, rs in disagreement.items() if d != mine for r in rs]
            log.warning(
                "[[accounts]] differ between replicas: %s have another list than this one "
                "(%s); every replica must have the same [[accounts]]",
                ", ".join(others),
                self._replica,
            )
        self.disagreement = disagreement

    # -- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        """One round now (the first passes find their leases), then every TTL/3."""
        try:
            self.tick()
        except Exception:
            log.exception("sync leases: the first round failed; retrying")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="calsync-leases", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._settings().sync.lease_ttl.total_seconds() / 3):
            try:
                self.tick()
            except Exception:
                log.exception("sync leases: renewal failed")

    def stop(self) -> None:
        """Stop renewing and give every lease back, so others take them at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            pks = list(self._held)
            self._held.clear()
        try:
            with self._store.write() as uow:
                uow.sync_leases.release(self._replica, pks)
                if self._member:
                    uow.sync_leases.forget_replica(self._replica)
        except Exception:
            log.exception("sync leases: could not give them back; they expire instead")


class LeaseCollector(Collector):
    """``/metrics``: leases held, takeovers, live replicas, and how far past its
    due time each calendar this replica holds is (0 when not yet due)."""

    def __init__(self, keeper: LeaseKeeper, store: Store) -> None:
        self._keeper = keeper
        self._store = store

    def collect(self) -> Iterator[Metric]:
        keeper = self._keeper
        held = keeper.held()
        yield GaugeMetricFamily(
            "calsync_sync_leases_held", "Calendar sync leases this replica holds.", len(held)
        )
        yield CounterMetricFamily(
            "calsync_sync_lease_takeovers",
            "Leases this replica took over from a replica whose lease had expired.",
            keeper.takeovers,
        )
        yield GaugeMetricFamily(
            "calsync_sync_replicas_live", "Replicas that renewed within the TTL.", keeper.replicas
        )
        lag = GaugeMetricFamily(
            "calsync_calendar_sync_lag_past_due_seconds",
            "Seconds the calendar's sync is past its due time (held calendars).",
            labels=["calendar_id"],
        )
        with self._store.read() as uow:
            public = uow.sync_leases.public_ids(held)
        now = datetime.now(UTC)
        for pk, due in sorted(held.items()):
            late = 0.0 if due is None else max(0.0, (now - due).total_seconds())
            if pk in public:
                lag.add_metric([public[pk]], late)
        yield lag
