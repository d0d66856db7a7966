"""Channel filters: which notifications a channel wants, and their canonical form."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from calsync.errors import ValidationError
from calsync.notify.payloads import CHANGE, PROFILE_KINDS
from calsync.store.channel_records import ChannelRecord, OutboxItem

MAX_FILTER_CALENDARS = 256


def normalize_filters(raw: Any) -> dict[str, Any]:
    """``{calendar_ids?: sorted unique list, only_managed?: true}``; 422 on bad shapes.

    Defaults are dropped (no ``calendar_ids`` = every calendar, ``only_managed``
    false), so two requests meaning the same thing get the same fingerprint.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationError.single("filters", "errors.invalid", "must be an object")
    result: dict[str, Any] = {}
    ids = raw.get("calendar_ids")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ValidationError.single(
                "filters.calendar_ids", "errors.invalid", "must be a list of calendar ids"
            )
        if len(ids) > MAX_FILTER_CALENDARS:
            raise ValidationError.single(
                "filters.calendar_ids", "errors.too_long", f"at most {MAX_FILTER_CALENDARS}"
            )
        if ids:
            result["calendar_ids"] = sorted(set(ids))
    only_managed = raw.get("only_managed")
    if only_managed is not None:
        if isinstance(only_managed, str) and only_managed.lower() in ("true", "false"):
            only_managed = only_managed.lower() == "true"
        if not isinstance(only_managed, bool):
            raise ValidationError.single(
                "filters.only_managed", "errors.invalid", "must be true or false"
            )
        if only_managed:
            result["only_managed"] = True
    return result


def channel_fingerprint(callback_url: str, filters: dict[str, Any]) -> str:
    canonical = json.dumps([callback_url, filters], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def channel_wants(channel: ChannelRecord, item: OutboxItem) -> bool:
    """Whether ``channel`` gets a notification for this outbox row (the fan-out matcher)."""
    if item.account_pk != channel.account_pk:
        return False
    if item.kind in PROFILE_KINDS:
        return True
    if item.kind != CHANGE:
        return False
    calendar_ids = channel.filters.get("calendar_ids")
    if calendar_ids and item.payload.get("calendar_id") not in calendar_ids:
        return False
    return not (channel.filters.get("only_managed") and not item.payload.get("managed"))
