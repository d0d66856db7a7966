"""``calsync account remove NAME``: an account's data, tokens and channels, gone.

An account renamed or dropped from the config keeps its rows, and its API
tokens keep reading its events, until it is removed here. Removal deletes the
account row; the store's foreign keys (``ON DELETE CASCADE``) take its
profiles, calendars, events, change log, API tokens, notification channels,
deliveries and provider push channels in the same transaction.

An account still in the config is refused: the next sync would create it
again, empty, under a new ``sub``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from calsync.config import Settings
from calsync.errors import NotFound, UserError

if TYPE_CHECKING:
    from calsync.store import Store, UnitOfWork
    from calsync.store.records import AccountRecord


@dataclass(frozen=True, slots=True)
class Removal:
    name: str
    sub: str
    #: calendars, events, tokens, channels -> how many were removed.
    removed: dict[str, int]

    def summary(self) -> str:
        parts = ", ".join(f"{count} {label}" for label, count in self.removed.items())
        return f"removed account {self.name} (sub {self.sub}): {parts}"


def _find(uow: UnitOfWork, name: str) -> AccountRecord | None:
    """The stored account called ``name``, or whose ``sub`` it is (connected accounts
    from /oauth/authorize are named after their profile, and known to apps by ``sub``)."""
    record = uow.accounts.find_by_name(name)
    if record is None:
        try:
            record = uow.accounts.get_by_sub(name)
        except NotFound:
            return None
    return record if record.kind == "connected" else None


def stored_account(store: Store, name: str) -> tuple[str, dict[str, int]]:
    """The stored account's ``sub`` and what it holds; `NotFound` if there is none."""
    with store.read() as uow:
        record = _find(uow, name)
        if record is None:
            raise NotFound(
                f"no account named {name!r} in the store",
                hint="`calsync status` lists the stored accounts.",
            )
        return record.sub, uow.accounts.contents(record.pk)


def remove_account(store: Store, settings: Settings, name: str) -> Removal:
    """Delete the account ``name`` (or ``sub``) and everything it owns, in one transaction.

    A connected account (from /oauth/authorize) goes with its stored credentials; the
    daemon stops syncing it at its next look at the connections (within 30 s).
    """
    with store.write() as uow:
        record = _find(uow, name)
        if record is None:
            raise NotFound(f"no account named {name!r} in the store")
        if record.name is not None and settings.account(record.name) is not None:
            raise UserError(
                f"account {record.name!r} is still in {settings.path}",
                hint="Remove its [[accounts]] table first (and reload calsync); "
                "otherwise the next sync creates it again.",
            )
        removed = uow.accounts.contents(record.pk)
        uow.accounts.delete(record.pk)
    return Removal(record.name or record.sub, record.sub, removed)
