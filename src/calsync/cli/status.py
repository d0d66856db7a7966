"""``calsync status``: per account and calendar, the profile's state, the last sync,
cursor age and last error.

`collect_status` reads the store; `render_status` is pure, so its layout is
tested without a database. The output is plain aligned text: readable in a
terminal and stable enough to grep in scripts and logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from calsync.config import Settings
from calsync.redaction import redact

if TYPE_CHECKING:
    from calsync.store import ProfileRecord, Store

NEVER = "never"
NONE = "-"


@dataclass(frozen=True, slots=True)
class StatusRow:
    account: str
    provider: str
    #: None for an account without any calendar yet.
    calendar: str | None
    calendar_id: str | None
    last_sync_at: datetime | None
    cursor_updated_at: datetime | None
    last_error: str | None
    #: The account is in the store but no longer in the config (or the reverse).
    note: str | None = None
    #: The profile's state: True connected (it has synced), False disconnected
    #: (credentials refused), None when there is no profile yet.
    connected: bool | None = None
    #: A profile exists but has never synced: shown as "never connected", never as
    #: "connected", whatever its first attempts did.
    never_connected: bool = False


def format_age(moment: datetime | None, now: datetime) -> str:
    """``"3m12s ago"`` style age of ``moment``; ``"never"`` when there is none."""
    if moment is None:
        return NEVER
    seconds = max(0, int((now - moment) / timedelta(seconds=1)))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d{hours}h"
    elif hours:
        text = f"{hours}h{minutes}m"
    elif minutes:
        text = f"{minutes}m{secs}s"
    else:
        text = f"{secs}s"
    return f"{text} ago"


def _format_time(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return NEVER
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%SZ} ({format_age(moment, now)})"


CONNECTED = "connected"
DISCONNECTED = "disconnected"
NEVER_CONNECTED = "never connected"


def remove_hint(name: str) -> str:
    return f"not in the config; remove its data with `calsync account remove {name}`"


def _profile_cell(row: StatusRow) -> str:
    if row.connected is False:
        return DISCONNECTED
    if row.never_connected:
        return NEVER_CONNECTED
    return NONE if row.connected is None else CONNECTED


HEADERS = (
    "ACCOUNT",
    "PROVIDER",
    "PROFILE",
    "CALENDAR",
    "CALENDAR ID",
    "LAST SYNC",
    "CURSOR AGE",
    "LAST ERROR",
)


def render_status(rows: Sequence[StatusRow], *, now: datetime | None = None) -> str:
    """An aligned text table; a friendly line when there is nothing to show."""
    if not rows:
        return "no accounts: add [[accounts]] to the config, then run `calsync sync --once`"
    current = now or datetime.now(UTC)
    table: list[tuple[str, ...]] = [HEADERS]
    for row in rows:
        error = row.last_error or NONE
        if row.note:
            error = f"{error} ({row.note})" if row.last_error else f"({row.note})"
        table.append(
            (
                row.account,
                row.provider,
                _profile_cell(row),
                # Names and errors recorded before URL secrets were hidden at the
                # source (a feed named after its URL) must not show them either.
                redact(row.calendar or NONE),
                row.calendar_id or NONE,
                _format_time(row.last_sync_at, current),
                format_age(row.cursor_updated_at, current) if row.calendar else NONE,
                redact(" ".join(error.split())),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    return "\n".join(lines)


def _connected(profile: ProfileRecord | None, synced: set[int]) -> bool | None:
    if profile is None:
        return None
    if not profile.connected:
        return False
    return True if profile.pk in synced else None


def collect_status(store: Store, settings: Settings) -> list[StatusRow]:
    """One row per calendar of every connected account, plus configured accounts not synced yet."""
    rows: list[StatusRow] = []
    configured = {account.name: account for account in settings.accounts}
    seen: set[str] = set()
    with store.read() as uow:
        for account in uow.accounts.list(kind="connected"):
            name = account.name or account.sub
            seen.add(name)
            config = configured.get(name)
            note = None
            if config is None:
                note = remove_hint(name)
            elif not config.enabled:
                note = "disabled"
            profiles = {p.pk: p for p in uow.profiles.list(account.pk)}
            calendars = uow.calendars.list(account.pk)
            # "connected" only once the profile synced something: a first attempt
            # that never reached the provider must not look like a working account.
            synced = {c.profile_pk for c in calendars if c.last_sync_at is not None}
            if not calendars:
                provider = (
                    config.provider
                    if config
                    else ", ".join(sorted({p.provider_name for p in profiles.values()}))
                )
                # Nothing was listed yet (unreachable, credentials refused, a calendar
                # filter matching nothing): the profile's own error says why.
                reasons = [
                    p.last_error or p.disconnect_reason
                    for p in profiles.values()
                    if p.last_error or p.disconnect_reason
                ]
                disconnected = any(not p.connected for p in profiles.values())
                rows.append(
                    StatusRow(
                        name,
                        provider or NONE,
                        None,
                        None,
                        None,
                        None,
                        reasons[0] if reasons else None,
                        note,
                        connected=False if disconnected else None,
                        never_connected=bool(profiles) and not disconnected,
                    )
                )
            for calendar in calendars:
                profile = profiles.get(calendar.profile_pk)
                cursor = uow.cursors.get(calendar.pk)
                calendar_note = note
                if calendar.deleted:
                    calendar_note = f"{note}, deleted" if note else "deleted"
                rows.append(
                    StatusRow(
                        account=name,
                        provider=calendar.provider_name,
                        calendar=calendar.name,
                        calendar_id=calendar.calendar_id,
                        last_sync_at=calendar.last_sync_at,
                        cursor_updated_at=cursor.updated_at if cursor else None,
                        last_error=calendar.last_error,
                        note=calendar_note,
                        connected=_connected(profile, synced),
                        never_connected=profile is not None
                        and profile.connected
                        and profile.pk not in synced,
                    )
                )
    for name, config in configured.items():
        if name not in seen:
            note = "never synced" if config.enabled else "disabled, never synced"
            rows.append(StatusRow(name, config.provider, None, None, None, None, None, note))
    return rows
