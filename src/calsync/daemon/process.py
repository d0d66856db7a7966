"""``calsync run``: the API, the sync scheduler, the notification relay and the signals.

Lifecycle::

    configure logging -> Store.upgrade() (on SQLite: release a dead run's
    notification leases) -> API thread (uvicorn) answering
    -> scheduler started with one job per account (one shared SyncEngine)
    -> OutboxRelay thread -> READY=1 (+ WATCHDOG=1)
    -> main loop: SIGHUP reloads, SIGTERM/SIGINT drain
    -> STOPPING=1 -> running sync jobs finish -> relay stops -> API stops
    -> store disposed -> exit 0

The main thread does nothing but wait for signals, so a handler never
interrupts real work, and uvicorn (in its own thread) never installs handlers.

Besides each account's interval job, one-off jobs sync single calendars: a
provider push notification pulls and pushes its calendar; an app's write
through the API pushes its calendar (`LOCAL_PUSH_DELAY` after the first write
of a burst, see `calsync.api.local_changes`). All of them go through the
engine's one gate (`calsync.sync.gate`): backoff, one run per account at once.
After each pass, calendars synced for the first time get their provider push
channels at once instead of at the renewal job's next run.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from calsync.api.deps import ApiServices
from calsync.api.provider_push import install_provider_push
from calsync.config import AccountSettings, Settings
from calsync.daemon import bootstrap
from calsync.daemon.due_wakeups import DueWakeups
from calsync.daemon.jobs import SyncJobs
from calsync.daemon.leases import LeaseCollector, LeaseKeeper
from calsync.daemon.live_api import ReloadableRateLimiter, ScrapeSafe, restart_needed
from calsync.daemon.relay_thread import RelayThread, reclaim_dead_leases
from calsync.daemon.retention import register_retention_job
from calsync.daemon.scheduling import SyncScheduler
from calsync.daemon.sdnotify import SdNotifier, WatchdogPinger
from calsync.daemon.server import ApiServer
from calsync.daemon.signals import SignalInbox
from calsync.errors import ConfigError
from calsync.notify.provider_push import ProviderPushManager, PushTarget
from calsync.notify.provider_push_jobs import CalendarRuns, engine_trigger, register_push_jobs
from calsync.store import CalendarRecord, Store
from calsync.store.sole_process import DAEMON, sole_process
from calsync.sync import AccountSyncReport, SyncEngine
from calsync.sync.connections import with_connections

log = logging.getLogger(__name__)

#: How often the main loop wakes without a signal to check its threads are alive.
_LIVENESS_CHECK_SECONDS = 1.0

#: Builds the sync engine for a store and settings (tests may inject providers through it).
EngineFactory = Callable[[Store, Settings], SyncEngine]

#: An app's write is pushed this long after it commits: long enough to gather
#: a burst (a batch, a client writing a series of events) into one run, short
#: against the seconds a user waits to see it in their calendar app.
LOCAL_PUSH_DELAY = timedelta(milliseconds=200)

#: How often the connected accounts are re-read (changes made by another process).
CONNECTIONS_POLL = timedelta(seconds=30)


def account_intervals(settings: Settings) -> dict[str, timedelta]:
    """Account name -> how often it syncs (its own ``interval`` or ``[sync] interval``)."""
    return {
        account.name: account.interval or settings.sync.interval
        for account in settings.accounts
        if account.enabled
    }


@dataclass(frozen=True, slots=True)
class _Running:
    """The parts of a serving daemon that a reload touches."""

    store: Store
    services: ApiServices
    scheduler: SyncScheduler
    relay: RelayThread


class Daemon:
    """One running ``calsync run``. Construct with loaded settings, then `run`."""

    def __init__(
        self,
        settings: Settings,
        *,
        load: Callable[[Path], Settings] = bootstrap.load_settings,
        engine_factory: EngineFactory = SyncEngine,
    ) -> None:
        #: The config as loaded; `settings` adds the accounts connected through the API.
        self._config = settings
        self._settings = settings
        self._load = load
        self._engine_factory = engine_factory
        self._engine: SyncEngine | None = None
        self._keeper: LeaseKeeper | None = None
        self._lock = threading.Lock()
        self._inbox = SignalInbox()
        self._notifier = SdNotifier.from_env()

    @property
    def settings(self) -> Settings:
        with self._lock:
            return self._settings

    @property
    def engine(self) -> SyncEngine:
        """The engine every sync job uses (shared, so its per-account backoff holds)."""
        with self._lock:
            if self._engine is None:
                raise RuntimeError("the daemon is not serving")
            return self._engine

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit code (0 on a clean stop)."""
        settings = self.settings
        self._inbox.install()
        try:
            return self._serve(settings)
        finally:
            self._inbox.restore()

    def _serve(self, settings: Settings) -> int:
        store = bootstrap.open_store(settings)
        with sole_process(store.sqlite_path, DAEMON):
            return self._serve_store(settings, store)

    def _serve_store(self, settings: Settings, store: Store) -> int:
        try:
            store.upgrade()
            reclaim_dead_leases(store)
            services = bootstrap.build_services(settings, store)
            self._refresh_connections(store)
            settings = self.settings
            app = bootstrap.build_app(settings, store, services)
            server = ApiServer(app, settings.api.listen.host, settings.api.listen.port)
            keeper = None
            if store.backend == "postgresql":
                # Replicas share the store: each syncs the calendars it holds leases for.
                keeper = LeaseKeeper(
                    store, lambda: self.settings, wake=lambda name: scheduler.wake(name)
                )
                services.replica_status.source = keeper.status
                services.metrics.registry.register(
                    ScrapeSafe(LeaseCollector(keeper, store), "sync lease")
                )
            self._keeper = keeper
            with self._lock:
                self._engine = self._engine_factory(store, settings)
                self._engine.ownership = keeper
            # Provider push channels (Google watch): renewed on the scheduler, and
            # opened after the pass that first synced a calendar; a notification
            # triggers an immediate sync of its calendar. Polling continues
            # regardless, as delivery is not guaranteed.
            push = ProviderPushManager(store, lambda: self.settings)
            if keeper is not None:
                push.owns, push.leader = keeper.owns, lambda: keeper.leader
            scheduler = SyncScheduler(
                SyncJobs(
                    lambda: self.engine,
                    lambda: self.settings,
                    defer=lambda name, until: scheduler.defer(name, until),
                    after_pass=lambda account, report: _open_channels(push, account, report),
                )
            )
            on_push = register_push_jobs(
                scheduler.aps,
                push,
                engine_trigger(store, lambda: self.engine, lambda: self.settings),
            )
            install_provider_push(app, push, on_push)
            local_push = CalendarRuns(
                scheduler.aps,
                engine_trigger(store, lambda: self.engine, lambda: self.settings, push_only=True),
                name="local push",
                delay=LOCAL_PUSH_DELAY,
            )
            services.local_changes.subscribe(lambda calendar: local_push.submit(_target(calendar)))
            # PostgreSQL: a calendar another replica marked due (a push or an app's
            # write reached it) is synced here at once, not at the next renewal.
            wakeups = None
            if keeper is not None:
                due_runs = CalendarRuns(
                    scheduler.aps,
                    engine_trigger(store, lambda: self.engine, lambda: self.settings),
                    name="sync marked due elsewhere",
                )
                wakeups = DueWakeups(store, keeper, due_runs.submit)
            register_retention_job(scheduler.aps, store, lambda: self.settings)
            relay = RelayThread(store, settings)
            running = _Running(store, services, scheduler, relay)
            # Accounts connected through /oauth/authorize: this process is told at once
            # (the first sync starts within seconds); others (replicas, `calsync account
            # remove`) are seen by a poll.
            services.account_changes.subscribe(lambda: self._connections_changed(running))
            scheduler.aps.add_job(
                lambda: self._connections_changed(running),
                "interval",
                seconds=CONNECTIONS_POLL.total_seconds(),
                id="connections",
                name="connected accounts",
                coalesce=True,
                max_instances=1,
            )
            server.start()
            # The watchdog keeps being fed while running jobs drain at shutdown.
            with WatchdogPinger(self._notifier):
                try:
                    scheduler.start()
                    if keeper is not None:
                        keeper.start()
                    if wakeups is not None:
                        wakeups.start()
                    scheduler.apply(account_intervals(settings))
                    relay.start()
                    self._notifier.ready(f"serving on {settings.api.listen}")
                    log.info(
                        "calsync ready: API on %s, %d account(s) scheduled",
                        settings.api.listen,
                        len(scheduler.scheduled()),
                    )
                    exit_code = self._main_loop(server, running)
                    self._notifier.stopping("stopping: finishing running jobs")
                    log.info("stopping: waiting for running sync jobs")
                finally:
                    if wakeups is not None:
                        wakeups.stop()
                    scheduler.shutdown()
                    if keeper is not None:
                        keeper.stop()
                    # Before the store goes: the relay's last pass records its outcomes.
                    relay.stop()
                    server.stop()
        finally:
            with self._lock:
                self._engine = None
            store.dispose()
        log.info("calsync stopped")
        return exit_code

    def _refresh_connections(self, store: Store) -> None:
        """Re-read the connected accounts; `settings` is the config plus them."""
        with self._lock:
            config = self._config
        merged = with_connections(config, store)
        with self._lock:
            if self._config is config:
                self._settings = merged

    def _connections_changed(self, running: _Running) -> None:
        try:
            self._refresh_connections(running.store)
            if running.scheduler.running:
                running.scheduler.apply(account_intervals(self.settings))
        except Exception:
            log.exception("could not refresh the connected accounts")

    def _main_loop(self, server: ApiServer, running: _Running) -> int:
        while True:
            received = self._inbox.wait(_LIVENESS_CHECK_SECONDS)
            if received is None:
                if not server.alive:
                    log.error("the API server stopped unexpectedly; shutting down")
                    return 1
                if not running.relay.alive:
                    log.error("the notification relay stopped unexpectedly; restarting it")
                    running.relay.start()
                continue
            if received == signal.SIGHUP:
                self.reload(running)
                continue
            log.info("received %s: shutting down", signal.Signals(received).name)
            return 0

    def reload(self, running: _Running) -> bool:
        """Re-read the config file; keep the old config when the new one is invalid.

        Applied live: logging, accounts and their intervals, ``[sync]`` (a new
        engine), ``[notify]`` for deliveries (a new relay) and the API's rate
        limits. Anything else that changed is named in a restart warning.
        """
        old = self.settings
        log.info("SIGHUP: reloading %s", old.path)
        try:
            new = self._load(old.path)
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config: %s", exc.message)
            return False
        except Exception:
            log.exception("config reload failed unexpectedly, keeping the running config")
            return False
        bootstrap.setup_logging(new.logging.level, new.logging.format)
        for key in restart_needed(old, new):
            log.warning("%s changed; restart calsync to apply it", key)
        engine = self._engine_factory(running.store, new)
        merged = with_connections(new, running.store)
        with self._lock:
            # Jobs already running finish with the old engine; the next run uses
            # this one, behind the same gate (backoffs, runs in progress).
            if self._engine is not None:
                engine.gate = self._engine.gate
                engine.ownership = self._engine.ownership
            self._config = new
            self._settings = merged
            self._engine = engine
        limiter = running.services.limiter
        if isinstance(limiter, ReloadableRateLimiter) and limiter.reconfigure(
            new.api.rate_limit_per_second, new.api.rate_limit_per_minute
        ):
            log.info(
                "API rate limits now %d/s and %d/min",
                new.api.rate_limit_per_second,
                new.api.rate_limit_per_minute,
            )
        running.relay.restart(new)
        running.scheduler.apply(account_intervals(merged))
        log.info(
            "config reloaded: log level %s, %d account(s) scheduled",
            new.logging.level,
            len(running.scheduler.scheduled()),
        )
        return True


def _target(calendar: CalendarRecord) -> PushTarget:
    return PushTarget(calendar.profile_name, calendar.pk, calendar.calendar_id)


def _open_channels(
    push: ProviderPushManager, account: AccountSettings, report: AccountSyncReport
) -> None:
    """Open push channels for calendars the pass synced (a no-op once they are open)."""
    if any(calendar.ok for calendar in report.calendars):
        push.ensure_channels(account)
