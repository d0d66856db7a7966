"""Provider push channels (Google ``events.watch``): open, renew, stop, verify.

Polling stays the source of truth; a channel only makes a remote change
arrive sooner. So every failure here is logged and left to the next renewal
run, never raised into a sync.

Lifecycle, run by the renewal job (`register_push_jobs`) every few minutes:

* each synced calendar of an enabled account whose provider has
  ``capabilities.push_channels`` (and implements `PushChannels`) gets one
  channel, when ``[api] base_url`` is public (https, not loopback/private;
  ``[notify] allow_private_callbacks`` lifts that for tests);
* a channel is renewed before it expires: a new one is opened first, then
  the old one stopped, so no change falls between them;
* channels of soft-deleted calendars, of accounts no longer configured (or
  disabled) and of an address that changed are stopped. An account removed
  while calsync was down cannot be asked any more: its rows are dropped and
  the remote channel simply expires (its notifications meet 404).

A channel row is written *before* ``watch`` is called, because the provider
sends its ``sync`` handshake at once. Only the token's SHA-256 is stored.

Notifications (`ProviderPushManager.handle_notification`): the channel id,
token and resource id must match the stored channel (compared in constant
time) or the answer is `NotFound`. ``sync`` is the handshake: nothing to do.
``exists``/``not_exists`` name the calendar to sync now.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from calsync.config import AccountSettings, Settings
from calsync.errors import CalsyncError, CredentialsInvalid, NotFound
from calsync.notify.ssrf import is_forbidden_address
from calsync.providers import registry
from calsync.providers.base import Provider, PushChannel, PushChannels
from calsync.store import CalendarRecord, Store
from calsync.store.repos.provider_channels import ProviderChannelRecord

log = logging.getLogger(__name__)

#: Where web_hook channels POST, below ``[api] base_url``.
PUSH_PATH = "/push/google"
#: Renew a channel this long before it expires (at most half its lifetime).
DEFAULT_RENEW_BEFORE = timedelta(hours=12)
#: A channel row still without a resource id after this long was orphaned
#: by a crash between writing the row and hearing the provider's answer.
PENDING_GRACE = timedelta(minutes=10)
MAX_CHANNEL_ID_LENGTH = 64

_CHANNEL_ID = "x-goog-channel-id"
_CHANNEL_TOKEN = "x-goog-channel-token"  # noqa: S105 - a header name
_RESOURCE_ID = "x-goog-resource-id"
_RESOURCE_STATE = "x-goog-resource-state"
_CHANGE_STATES = frozenset({"exists", "not_exists"})
#: Compared against when the channel is unknown, so both paths do the same work.
_DUMMY_HASH = "0" * 64


class ProviderFactoryFn(Protocol):
    """`calsync.providers.registry.create`'s shape."""

    def __call__(self, name: str, account_name: str, options: Mapping[str, Any]) -> Provider: ...


@dataclass(frozen=True, slots=True)
class PushTarget:
    """A calendar a notification says changed: sync it now."""

    account_name: str
    calendar_pk: int
    calendar_id: str


@dataclass(frozen=True, slots=True)
class PushReport:
    created: int = 0
    stopped: int = 0
    errors: tuple[str, ...] = ()

    def __add__(self, other: PushReport) -> PushReport:
        return PushReport(
            self.created + other.created,
            self.stopped + other.stopped,
            self.errors + other.errors,
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def push_address(settings: Settings) -> str | None:
    """The notification URL, or None when ``[api] base_url`` cannot receive pushes."""
    base = settings.api.base_url.rstrip("/")
    parts = urlsplit(base)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("http", "https"):
        return None
    if settings.notify.allow_private_callbacks:
        return base + PUSH_PATH
    if parts.scheme != "https" or not _public_host(host):
        return None
    return base + PUSH_PATH


def _public_host(host: str) -> bool:
    """No DNS lookup: the base URL is ours, and may sit behind a proxy we cannot see."""
    try:
        return not is_forbidden_address(ipaddress.ip_address(host))
    except ValueError:
        name = host.lower().rstrip(".")
        return name != "localhost" and not name.endswith(".localhost") and "." in name


class ProviderPushManager:
    """Keeps one live channel per pushable calendar; verifies incoming notifications.

    ``settings`` is called for the current settings each time (the daemon
    reloads them). Thread-safe: channel changes are serialized.
    """

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Settings],
        provider_factory: ProviderFactoryFn = registry.create,
        *,
        ttl: timedelta | None = None,
        renew_before: timedelta = DEFAULT_RENEW_BEFORE,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self._settings = settings
        self.provider_factory = provider_factory
        self.ttl = ttl
        self.renew_before = renew_before
        self._clock = clock
        self._lock = threading.Lock()
        #: The last settings seen per account: what stops the channels of an
        #: account a reload removed from the config.
        self._known: dict[str, AccountSettings] = {}
        #: Provider name -> whether it offers push channels (learned from an instance).
        self._capable: dict[str, bool] = {}
        #: PostgreSQL replicas: a calendar's channel is kept by the replica that holds
        #: its sync lease; channels with no lease (deleted calendars, removed
        #: accounts) by the oldest live replica (`calsync.daemon.leases`).
        self.owns: Callable[[int], bool] = lambda _calendar_pk: True
        self.leader: Callable[[], bool] = lambda: True

    @property
    def address(self) -> str | None:
        return push_address(self._settings())

    # -- the renewal job --------------------------------------------------------------

    def refresh(self) -> PushReport:
        """Ensure the channels of every enabled account, then stop the removed ones."""
        report = PushReport()
        for account in self._settings().accounts:
            if account.enabled:
                report += self.ensure_channels(account)
        return report + self.stop_for_removed()

    def ensure_channels(self, account: AccountSettings) -> PushReport:
        """Open missing channels, renew due ones and stop superfluous ones of ``account``."""
        with self._lock:
            self._known[account.name] = account
            if self._capable.get(account.provider) is False:
                return PushReport()
            address = self.address if account.enabled else None
            calendars, rows = self._account_state(account)
            now = self._clock()
            to_create: list[CalendarRecord] = []
            to_stop: list[ProviderChannelRecord] = []
            for calendar in calendars:
                own = [r for r in rows if r.calendar_pk == calendar.pk]
                keeper = None
                if address is not None and not calendar.deleted:
                    keeper = next((r for r in own if self._fresh(r, address, now)), None)
                    if keeper is None:
                        to_create.append(calendar)
                to_stop += [r for r in own if r is not keeper and not self._young_pending(r, now)]
            if not to_create and not to_stop:
                return PushReport()
            return self._change(account, address, to_create, to_stop)

    def stop_for_removed(self) -> PushReport:
        """Stop channels of deleted calendars and of accounts no longer configured."""
        if not self.leader():
            return PushReport()
        with self._lock:
            configured = {a.name: a for a in self._settings().accounts if a.enabled}
            doomed: dict[str, list[ProviderChannelRecord]] = {}
            with self.store.read() as uow:
                for row in uow.provider_channels.list():
                    calendar = uow.calendars.get_by_pk(row.calendar_pk)
                    account = configured.get(calendar.profile_name)
                    gone = account is None or account.provider != calendar.provider_name
                    if gone or calendar.deleted:
                        doomed.setdefault(calendar.profile_name, []).append(row)
            report = PushReport()
            for name, rows in doomed.items():
                known = configured.get(name) or self._known.get(name)
                report += self._stop_all(known, rows)
            return report

    def stop_account(self, account: AccountSettings) -> PushReport:
        """Stop every channel of ``account`` (call before removing it from the store)."""
        with self._lock:
            _, rows = self._account_state(account)
            return self._stop_all(account, rows)

    # -- notifications ------------------------------------------------------------------

    def handle_notification(self, headers: Mapping[str, str]) -> PushTarget | None:
        """The calendar to sync now, or None (handshake, unknown state, deleted calendar).

        Raises `NotFound` for an unknown channel or a wrong token or resource
        id, without saying which.
        """
        lower = {k.lower(): v for k, v in headers.items()}
        channel_id = lower.get(_CHANNEL_ID, "")
        row: ProviderChannelRecord | None = None
        calendar: CalendarRecord | None = None
        if channel_id and len(channel_id) <= MAX_CHANNEL_ID_LENGTH:
            with self.store.read() as uow:
                row = uow.provider_channels.get(channel_id)
                if row is not None:
                    calendar = uow.calendars.get_by_pk(row.calendar_pk)
        token_ok = _same(
            token_hash(lower.get(_CHANNEL_TOKEN, "")), row.token_hash if row else _DUMMY_HASH
        )
        if row is None or calendar is None or not token_ok:
            raise NotFound("unknown push channel")
        if row.resource_id is not None and not _same(lower.get(_RESOURCE_ID, ""), row.resource_id):
            raise NotFound("unknown push channel")
        state = lower.get(_RESOURCE_STATE, "")
        if state not in _CHANGE_STATES or calendar.deleted:
            return None  # "sync" is the handshake; anything else carries no change
        return PushTarget(calendar.profile_name, calendar.pk, calendar.calendar_id)

    # -- internals ------------------------------------------------------------------------

    def _account_state(
        self, account: AccountSettings
    ) -> tuple[list[CalendarRecord], list[ProviderChannelRecord]]:
        """The account's remote calendars (deleted ones too) and their channel rows."""
        with self.store.read() as uow:
            record = uow.accounts.find_by_name(account.name)
            if record is None:
                return [], []
            calendars = [
                c
                for c in uow.calendars.list(record.pk, include_deleted=True)
                if c.remote_id is not None
                and c.profile_name == account.name
                and c.provider_name == account.provider
            ]
            rows = uow.provider_channels.list([c.pk for c in calendars])
        calendars = [c for c in calendars if (self.leader() if c.deleted else self.owns(c.pk))]
        return calendars, rows

    def _fresh(self, row: ProviderChannelRecord, address: str, now: datetime) -> bool:
        if row.pending or row.address != address:
            return False
        if row.expiration is None:
            return True
        margin = min(self.renew_before, (row.expiration - row.created_at) / 2)
        return row.expiration - now > margin

    @staticmethod
    def _young_pending(row: ProviderChannelRecord, now: datetime) -> bool:
        """Possibly another process's watch in flight: leave it alone for a while."""
        return row.pending and now - row.created_at < PENDING_GRACE

    def _change(
        self,
        account: AccountSettings,
        address: str | None,
        to_create: Sequence[CalendarRecord],
        to_stop: Sequence[ProviderChannelRecord],
    ) -> PushReport:
        provider = self._open(account)
        if provider is None:
            return self._without_provider(account, to_stop)
        created, errors = 0, []
        # Calendars still without a new channel keep their old one until a later run.
        unrenewed = {c.pk for c in to_create}
        try:
            for calendar in to_create:
                assert address is not None and calendar.remote_id is not None
                try:
                    self._watch(provider, calendar, address)
                    created += 1
                    unrenewed.discard(calendar.pk)
                except CredentialsInvalid as exc:
                    errors.append(f"{calendar.calendar_id}: {exc.message}")
                    break
                except Exception as exc:
                    errors.append(f"{calendar.calendar_id}: {_describe(exc)}")
                    log.warning(
                        "calendar %s: cannot open a push channel: %s",
                        calendar.calendar_id,
                        _describe(exc),
                    )
            stopped = self._stop_rows(
                provider, [r for r in to_stop if r.calendar_pk not in unrenewed]
            )
        finally:
            provider.close()
        return PushReport(created, 0, tuple(errors)) + stopped

    def _watch(self, provider: PushChannels, calendar: CalendarRecord, address: str) -> None:
        assert calendar.remote_id is not None
        channel_id = "calsync-" + secrets.token_urlsafe(24)
        token = secrets.token_urlsafe(32)
        with self.store.write() as uow:
            uow.provider_channels.add_pending(calendar.pk, channel_id, token_hash(token), address)
        try:
            channel = provider.watch(
                calendar.remote_id, address, token, channel_id=channel_id, ttl=self.ttl
            )
        except BaseException:
            with self.store.write() as uow:
                uow.provider_channels.delete(channel_id)
            raise
        with self.store.write() as uow:
            active = uow.provider_channels.activate(
                channel_id, channel.resource_id, channel.expiration
            )
        if active is None:  # the calendar was deleted meanwhile
            provider.stop(PushChannel(channel.id, channel.resource_id))
            return
        log.info(
            "calendar %s: push channel open until %s",
            calendar.calendar_id,
            "unknown" if channel.expiration is None else f"{channel.expiration:%Y-%m-%d %H:%M}",
        )

    def _open(self, account: AccountSettings) -> _PushProvider | None:
        """The account's provider when it offers push channels (closed by the caller)."""
        try:
            provider = self.provider_factory(account.provider, account.name, account.options)
        except Exception as exc:
            log.warning("account %r: no push channels: %s", account.name, _describe(exc))
            return None
        capable = provider.capabilities.push_channels and isinstance(provider, PushChannels)
        self._capable[account.provider] = capable
        if not capable:
            provider.close()
            return None
        return provider  # type: ignore[return-value]  # both protocols, checked above

    def _stop_all(
        self, account: AccountSettings | None, rows: Sequence[ProviderChannelRecord]
    ) -> PushReport:
        if not rows:
            return PushReport()
        provider = self._open(account) if account is not None else None
        if provider is None:
            return self._without_provider(account, rows)
        try:
            return self._stop_rows(provider, rows)
        finally:
            provider.close()

    def _without_provider(
        self, account: AccountSettings | None, rows: Sequence[ProviderChannelRecord]
    ) -> PushReport:
        """Rows we cannot stop remotely: drop them when nobody ever can (the account
        is gone, or its provider has no channels); otherwise keep them for a retry."""
        if account is None or self._capable.get(account.provider) is False:
            return self._stop_rows(None, rows)
        if not rows:
            return PushReport()
        return PushReport(errors=(f"account {account.name!r}: provider unavailable",))

    def _stop_rows(
        self, provider: PushChannels | None, rows: Sequence[ProviderChannelRecord]
    ) -> PushReport:
        """Stop each channel remotely (when we can), then forget it.

        Without a provider the row is just dropped: the channel expires by
        itself. A failed stop keeps the row for the next run.
        """
        stopped, errors = 0, []
        for row in rows:
            if provider is not None and row.resource_id is not None:
                try:
                    provider.stop(PushChannel(row.channel_id, row.resource_id))
                except Exception as exc:
                    errors.append(f"{row.channel_id}: {_describe(exc)}")
                    log.warning("cannot stop push channel %s: %s", row.channel_id, _describe(exc))
                    continue
            with self.store.write() as uow:
                uow.provider_channels.delete(row.channel_id)
            stopped += 1
        return PushReport(0, stopped, tuple(errors))


class _PushProvider(Provider, PushChannels, Protocol):
    """A provider that also offers push channels."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CalsyncError):
        return exc.message
    return f"unexpected {type(exc).__name__}: {exc}"
