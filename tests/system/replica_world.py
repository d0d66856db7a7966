"""Several ``calsync run`` replicas on one PostgreSQL database, syncing one Radicale.

Each replica is a real process with its own directory (config, log) and port;
they differ only in ``[api] listen``. The test reads the shared store directly
(lease rows: who holds and who last synced each calendar).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from calsync.store import LeaseRecord, Store
from tests.fixtures.api import CLIENT_ID, CLIENT_SECRET
from tests.fixtures.radicale import RadicaleCalendar, RadicaleServer
from tests.system.harness import DaemonProcess, free_port, wait_for_http

#: A guard for a replica's start (imports, migration check, API up): with several
#: suites on 2 cores (load ~19) one took over 30 s.
STARTUP_GUARD = 90.0

SYNCED = re.compile(r"calendar (\d+) synced by replica (\S+) \(token (\d+), pass of (\S+)\)")


def replica_config(
    directory: Path,
    *,
    store_url: str,
    port: int,
    server: RadicaleServer,
    calendars: Sequence[RadicaleCalendar],
    interval: str,
    lease_ttl: str,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / "client-secret"
    secret.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    urls = ", ".join(f'"{c.url}"' for c in calendars)
    text = f"""
[store]
url = "{store_url}"
[api]
listen = "127.0.0.1:{port}"
client_id = "{CLIENT_ID}"
client_secret_file = "{secret}"
[sync]
interval = "{interval}"
lease_ttl = "{lease_ttl}"
[notify]
allow_private_callbacks = true
debounce = "0s"
[logging]
level = "info"
[[accounts]]
name = "dav"
provider = "caldav"
url = "{server.principal_url}"
username = "{server.username}"
password_file = "{server.password_file}"
calendars = [{urls}]
"""
    path = directory / "calsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Replica:
    name: str
    port: int
    daemon: DaemonProcess

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def syncs(self) -> list[tuple[int, str, int, datetime]]:
        """``(calendar pk, replica id, token, pass start)`` of every sync it logged."""
        return [
            (int(pk), rid, int(token), datetime.fromisoformat(start))
            for pk, rid, token, start in SYNCED.findall(self.daemon.logs())
        ]

    def pause(self) -> None:
        self.daemon.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.daemon.signal(signal.SIGCONT)


def start_replica(
    root: Path,
    name: str,
    *,
    store_url: str,
    server: RadicaleServer,
    calendars: Sequence[RadicaleCalendar],
    interval: str,
    lease_ttl: str,
) -> Replica:
    port = free_port()
    config = replica_config(
        root / name,
        store_url=store_url,
        port=port,
        server=server,
        calendars=calendars,
        interval=interval,
        lease_ttl=lease_ttl,
    )
    daemon = DaemonProcess(config, cwd=root / name)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", daemon, timeout=STARTUP_GUARD)
    except BaseException:
        daemon.stop()  # a replica too slow to answer must not outlive the test
        raise
    return Replica(name, port, daemon)


def leases(store: Store) -> list[LeaseRecord]:
    with store.read() as uow:
        return uow.sync_leases.list()


def calendar_pks(store: Store, urls: Sequence[str]) -> dict[str, int]:
    """Remote URL -> calendar key, for the calendars discovered so far."""
    with store.read() as uow:
        account = uow.accounts.find_by_name("dav")
        if account is None:
            return {}
        return {
            c.remote_id: c.pk
            for c in uow.calendars.list(account.pk)
            if c.remote_id is not None and c.remote_id in urls
        }
