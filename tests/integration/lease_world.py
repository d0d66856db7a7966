"""A memory account whose calendars two in-process replicas can lease (issue #16).

Shared by ``test_sync_leases.py`` and ``test_sync_lease_wakeups.py``: each
calendar holds one event, the account is discovered (so its calendars have rows
to lease), and ``[sync] lease_ttl`` is 60 s, far above anything a test waits
for, so no lease runs out unless a test makes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

from calsync.config import AccountSettings, Settings
from calsync.providers.memory import drop_backend, get_backend
from calsync.store import Store
from calsync.sync import SyncEngine
from tests.fixtures.api import make_settings
from tests.fixtures.store import content, memory_account

#: The store, settings naming just the account, and the account.
LeaseWorld = tuple[Store, Settings, AccountSettings]


@contextmanager
def lease_world(store: Store, calendars: Sequence[str]) -> Iterator[LeaseWorld]:
    name = f"acct-{uuid.uuid4().hex[:10]}"
    backend = get_backend(name)
    for calendar in calendars:
        remote = backend.ensure_calendar(calendar)
        backend.remote_upsert(remote, content(f"{calendar} event", day=1))
    account = memory_account(name, list(calendars))
    base = make_settings(store.backend, "http://127.0.0.1:1", 1)
    settings = replace(base, accounts=(account,))
    settings = replace(settings, sync=replace(settings.sync, lease_ttl=timedelta(seconds=60)))
    SyncEngine(store, settings).discover(account)
    try:
        yield store, settings, account
    finally:
        drop_backend(name)
