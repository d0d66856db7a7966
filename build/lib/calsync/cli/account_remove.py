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
    from calsync.store import Store


@dataclass(frozen=True, slots=True)
class Removal:
    name: str
    sub: str
    #: calendars, events, tokens, channels -> how many were removed.
    removed: dict[str, int]

    def summary(self) -> str:
        parts = ", ".join(f"{count} {label}" for label, count in self.removed.items())
        return f"removed account {self.name} (sub {self.sub}): {parts}"


def stored_account(store: Store, name: str) -> tuple[str, dict[str, int]]:
    """The stored account's ``sub`` and what it holds; `NotFound` if there is none."""
    with store.read() as uow:
        record = uow.accounts.find_by_name(name)
        if record is None or record.kind != "connected":
            raise NotFound(
                f"no account named {name!r} in the store",
                hint="`calsync status` lists the stored accounts.",
            )
        return record.sub, uow.accounts.contents(record.pk)


def remove_account(store: Store, settings: Settings, name: str) -> Removal:
    """Delete the account ``name`` and everything it owns, in one transaction."""
    if settings.account(name) is not None:
        raise UserError(
            f"account {name!r} is still in {settings.path}",
            hint="Remove its [[accounts]] table first (and reload calsync); "
            "otherwise the next sync creates it again.",
        )
    with store.write() as uow:
        record = uow.accounts.find_by_name(name)
        if record is None or record.kind != "connected":
            raise NotFound(f"no account named {name!r} in the store")
        removed = uow.accounts.contents(record.pk)
        uow.accounts.delete(record.pk)
    return Removal(name, record.sub, removed)
