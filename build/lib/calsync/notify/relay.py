"""The durable outbox relay: outbox rows -> per-channel deliveries -> signed POSTs.

One pass of the relay:

1. **fan-out**: pending ``notification_outbox`` rows become per-channel
   deliveries, and are marked done in the same transaction
   (`ChannelRepo.fan_out`), so a crash repeats nothing and loses nothing;
2. **claim** (committed *before* any network call): leases the next due
   deliveries (up to ``per_channel``, oldest first) of each channel that has
   nothing in flight;
3. **deliver**: POSTs concurrently across channels and in order within one
   (one request per channel at a time; httpx, a keep-alive client per
   sending thread, 10 s timeout, no redirects, pinned to the address the
   SSRF check accepted). A channel's run stops at its first failure, and
   also before a request that could outlive the lease; the rest of its run
   is released unattempted;
4. **record**: 2xx marks delivered; 410 disables the channel; anything else
   schedules a retry (`RetryPolicy`), and a channel failing for more than 3
   days is disabled.

Steps 4 (of the previous pass), 1 and 2 share one write transaction in
`run_forever`; `run_once` and `deliver_now` record in their own before
returning. With runs per channel and one commit per pass, the database cost
per delivery is a fraction of a millisecond rather than three fsyncs, so a
backlog drains at the receivers' speed, not the disk's
(``bench/notify.py``, ``bench/RESULTS.md``).

A crash after the claim leaves a lease that expires (``lease``, 60 s), after
which the delivery is sent again with the same ``webhook-id``: delivery is at
least once, and duplicates are recognisable.

Signing keys come from ``[api] client_secret_file``. Without one nothing can
be signed: channel creation is refused (`calsync.notify.channels`) and any
delivery still queued waits, failing, until a secret is configured.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from calsync.config import Settings
from calsync.errors import CalsyncError
from calsync.notify.filters import channel_wants
from calsync.notify.http import DEFAULT_TIMEOUT, HttpClientFactory, PostResult, default_http_client
from calsync.notify.http import post as http_post
from calsync.notify.payloads import VERIFICATION, notification_body
from calsync.notify.schedule import RetryPolicy, parse_retry_after
from calsync.notify.signing import Signer, signing_secrets
from calsync.notify.ssrf import CallbackRefused, Resolver, check_callback_url, system_resolver
from calsync.store import Store, UnitOfWork
from calsync.store.channel_records import ClaimedDelivery, DeliveryOutcome

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)
FAN_OUT_BATCH = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Sent:
    """One pass's results, to be recorded: outcomes, and leased deliveries never sent."""

    outcomes: list[DeliveryOutcome]
    unsent: list[int]

    @property
    def attempted(self) -> int:
        return len(self.outcomes) + len(self.unsent)

    @property
    def delivered(self) -> int:
        return sum(1 for o in self.outcomes if o.delivered)


class OutboxRelay:
    """Delivers notifications; safe to run in several threads, processes or replicas."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        http_client_factory: HttpClientFactory | None = None,
        *,
        policy: RetryPolicy | None = None,
        secrets: Sequence[str] | None = None,
        resolve: Resolver = system_resolver,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = 100,
        per_channel: int = 100,
        max_workers: int = 16,
        poll_interval: float = 0.1,
        worker: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._settings = settings
        self._client_factory = http_client_factory or default_http_client
        # One client per sending thread: a shared httpx pool serialises every
        # request's connection bookkeeping on one lock, which showed in profiles.
        self._clients: list[httpx.Client] = []
        self._local = threading.local()
        self._policy = policy or RetryPolicy()
        self._secrets = tuple(secrets) if secrets is not None else signing_secrets(settings)
        self._resolve = resolve
        self._lease = lease
        self._batch = batch
        self._per_channel = per_channel
        self._max_workers = max_workers
        self._poll_interval = poll_interval
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._unrecorded: Sent | None = None
        self._wakeup = threading.Event()

    def wake(self) -> None:
        """Start the next pass now (a change was committed): `run_forever` otherwise
        polls every ``poll_interval``. Thread-safe and cheap."""
        self._wakeup.set()

    # -- the loop ---------------------------------------------------------------

    def run_once(self) -> int:
        """Fan out, claim, deliver and record one batch; returns deliveries that succeeded."""
        sent = Sent([], [])
        while True:
            fanned, sent = self._pass(None)
            if fanned < FAN_OUT_BATCH:
                break
        self._record(sent)
        return sent.delivered

    def _pass(self, previous: Sent | None) -> tuple[int, Sent]:
        """Record ``previous``, fan out and claim in one transaction, then send.

        Returns (outbox rows fanned out, what was sent, still to be recorded).
        One commit per pass, not three: on a durable store every commit waits
        for the disk. A full fan-out batch means more outbox rows are waiting;
        then nothing is claimed, and the next pass fans out first.
        """
        with self._store.write() as uow:
            if previous is not None:
                self._record_in(uow, previous)
            fanned = uow.channels.fan_out(
                channel_wants, debounce=self._settings.notify.debounce, limit=FAN_OUT_BATCH
            )
            claimed = []
            if fanned < FAN_OUT_BATCH:
                claimed = uow.channels.claim(
                    self.worker,
                    lease=self._lease,
                    limit=self._batch,
                    per_channel=self._per_channel,
                )
        self._unrecorded = None  # committed with the claim above
        return fanned, self._send(claimed, claimed_at=time.monotonic())

    def run_forever(self, stop_event: threading.Event) -> None:
        """Run until ``stop_event`` is set; errors are logged and retried, never fatal.

        A pass's results are recorded in the next pass's transaction; results
        lost to a crash in between are sent again once their leases expire
        (at least once, as after any crash)."""
        while not stop_event.is_set():
            try:
                fanned, self._unrecorded = self._pass(self._unrecorded)
                busy = fanned > 0 or self._unrecorded.attempted > 0
            except CalsyncError as exc:
                log.warning("notification relay: %s", exc)
                busy = False
            except Exception:
                log.exception("notification relay failed; retrying")
                busy = False
            if not busy:
                self._wakeup.wait(self._poll_interval)
            self._wakeup.clear()
        try:
            if self._unrecorded is not None:
                self._record(self._unrecorded)
        except Exception:  # the leases expire and the deliveries are sent again
            log.exception("notification relay could not record its last results")
        self.close()

    def fan_out(self) -> int:
        """Expand every pending outbox row into deliveries; returns rows consumed."""
        total = 0
        while True:
            with self._store.write() as uow:
                consumed = uow.channels.fan_out(
                    channel_wants, debounce=self._settings.notify.debounce, limit=FAN_OUT_BATCH
                )
            total += consumed
            if consumed < FAN_OUT_BATCH:
                return total

    def deliver_now(self, webhook_id: str, *, timeout: float | None = None) -> bool:
        """Try one delivery at once (the verification after channel creation)."""
        with self._store.write() as uow:
            claimed = uow.channels.claim(
                self.worker, lease=self._lease, limit=1, webhook_id=webhook_id
            )
        return self._deliver(claimed, claimed_at=time.monotonic(), timeout=timeout) > 0

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            for client in self._clients:
                client.close()
            self._clients = []
            self._local = threading.local()

    # -- internals --------------------------------------------------------------

    def _http(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:  # the lock only for creation: it was contended per request
            with self._lock:
                client = self._local.client = self._client_factory()
                self._clients.append(client)
        return client

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_workers, "calsync-notify")
            return self._pool

    def _deliver(
        self,
        claimed: Sequence[ClaimedDelivery],
        *,
        claimed_at: float,
        timeout: float | None = None,
    ) -> int:
        sent = self._send(claimed, claimed_at=claimed_at, timeout=timeout)
        self._record(sent)
        return sent.delivered

    def _send(
        self,
        claimed: Sequence[ClaimedDelivery],
        *,
        claimed_at: float,
        timeout: float | None = None,
    ) -> Sent:
        if not claimed:
            return Sent([], [])
        runs: dict[int, list[ClaimedDelivery]] = {}
        for item in claimed:
            runs.setdefault(item.channel.pk, []).append(item)
        lease_ends = claimed_at + self._lease.total_seconds()

        def send(run: list[ClaimedDelivery]) -> tuple[list[DeliveryOutcome], list[int]]:
            return self._send_run(run, lease_ends, timeout)

        if len(runs) == 1:
            results = [send(run) for run in runs.values()]
        else:
            results = list(self._executor().map(send, runs.values()))
        return Sent(
            [outcome for done, _ in results for outcome in done],
            [pk for _, left in results for pk in left],
        )

    def _record(self, sent: Sent) -> None:
        if sent.outcomes or sent.unsent:
            with self._store.write() as uow:
                self._record_in(uow, sent)

    def _record_in(self, uow: UnitOfWork, sent: Sent) -> None:
        uow.channels.record_outcomes(sent.outcomes)
        if sent.unsent:
            uow.channels.release(sent.unsent, self.worker)

    def _send_run(
        self, run: list[ClaimedDelivery], lease_ends: float, timeout: float | None
    ) -> tuple[list[DeliveryOutcome], list[int]]:
        """One channel's leased deliveries, in order, one at a time: (outcomes, unsent pks)."""
        outcomes: list[DeliveryOutcome] = []
        for index, item in enumerate(run):
            limit = self._timeout(item) if timeout is None else timeout
            # Never start a request that could still be running when the lease
            # ends: another relay may then claim the rest of the run.
            if index and time.monotonic() + limit >= lease_ends:
                return outcomes, [i.delivery.pk for i in run[index:]]
            outcome = self._attempt(item, limit)
            outcomes.append(outcome)
            if not outcome.delivered:
                return outcomes, [i.delivery.pk for i in run[index + 1 :]]
        return outcomes, []

    def _timeout(self, item: ClaimedDelivery) -> float:
        if item.delivery.kind == VERIFICATION:
            return self._settings.notify.verification_timeout.total_seconds()
        return DEFAULT_TIMEOUT

    def _attempt(self, item: ClaimedDelivery, timeout: float) -> DeliveryOutcome:
        delivery, channel = item.delivery, item.channel
        result = self._post(item, timeout)
        now = self._clock()
        if result.ok:
            return DeliveryOutcome(delivery.pk, self.worker, True, result.status_code)
        log.info(
            "notification %s to channel %s failed (attempt %d): %s",
            delivery.webhook_id,
            channel.channel_id,
            delivery.attempts,
            result.error,
        )
        if result.status_code == 410:
            return DeliveryOutcome(
                delivery.pk,
                self.worker,
                False,
                410,
                result.error,
                disable_reason="the callback answered 410 Gone",
            )
        if self._policy.should_disable(channel.failing_since, now):
            return DeliveryOutcome(
                delivery.pk,
                self.worker,
                False,
                result.status_code,
                result.error,
                disable_reason=f"failing for more than {self._policy.disable_after}",
            )
        wait = self._policy.delay(delivery.attempts, parse_retry_after(result.retry_after, now))
        return DeliveryOutcome(
            delivery.pk, self.worker, False, result.status_code, result.error, retry_at=now + wait
        )

    def _post(self, item: ClaimedDelivery, timeout: float) -> PostResult:
        if not self._secrets:
            return PostResult(None, error="no client secret configured to sign notifications")
        try:
            target = check_callback_url(
                item.channel.callback_url,
                allow_private=self._settings.notify.allow_private_callbacks,
                resolve=self._resolve,
            )
        except CallbackRefused as exc:
            return PostResult(None, error=f"callback refused: {exc.description}")
        body = notification_body(item.channel, item.delivery)
        headers = Signer(self._secrets).headers(item.delivery.webhook_id, int(time.time()), body)
        return http_post(self._http(), target, body, headers, timeout=timeout)
