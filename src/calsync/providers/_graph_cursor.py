"""The Graph pull's cursor: what one calendar's next delta round starts from.

JSON, stored by the engine like any provider's cursor (``sync_cursors.cursor``):

- ``link``: the whole ``@odata.deltaLink``, followed verbatim;
- ``start``/``end``: the window the round was started with, in whole UTC days;
- ``series``: which series master every occurrence and exception listed so far
  belongs to, with its original start. A removed occurrence comes as a bare id
  (``{"id", "@removed"}``), so placing it (a cancelled occurrence of series M at
  T) needs this; kept in the cursor rather than in the process, a restarted
  daemon (or another replica that takes the calendar over) places it without a
  full reconcile. Ids are stored as 72-bit digests (`instance_key`): a Graph id
  is 150+ characters, and a digest is all a lookup needs. Grouped per series:
  ``[master id, all-day 0/1, {digest: original}]`` with originals as epoch
  seconds (timed) or proleptic ordinals (all-day).

Entries whose original start lies more than `KEEP_BEFORE_WINDOW` before the
window are dropped when the cursor is written: Graph no longer lists them, so
no removal will name them. A cursor without ``series`` (written before it was
kept) is still read: removals it cannot place reconcile as before. Membership is
written only when it is whole (gathered since a full round); a process that
continues such an older cursor writes none either, since what it lists in one
round is not every instance of the calendar.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from calsync.errors import CursorExpired, ProviderError
from calsync.providers._graph_convert import parse_offset_time

#: Instance key -> (series master id, original start).
Membership = dict[str, tuple[str, date | datetime]]

KEEP_BEFORE_WINDOW = timedelta(days=7)


def instance_key(instance_id: str) -> str:
    """The digest an instance id is remembered by (12 characters)."""
    return base64.urlsafe_b64encode(hashlib.sha256(instance_id.encode()).digest()[:9]).decode()


@dataclass(frozen=True, slots=True)
class DeltaCursor:
    link: str
    bounds: tuple[datetime, datetime]
    #: None: a cursor written before the membership was kept in it.
    instances: Membership | None = None


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def dump_cursor(
    link: str, bounds: tuple[datetime, datetime], instances: Membership | None = None
) -> str:
    groups: dict[tuple[str, bool], dict[str, float | int]] = {}
    horizon = bounds[0] - KEEP_BEFORE_WINDOW
    for key, (master_id, original) in (instances or {}).items():
        if isinstance(original, datetime):
            if original < horizon:
                continue
            seconds = original.timestamp()
            groups.setdefault((master_id, False), {})[key] = (
                int(seconds) if seconds.is_integer() else seconds
            )
        else:
            if original < horizon.date():
                continue
            groups.setdefault((master_id, True), {})[key] = original.toordinal()
    document: dict[str, object] = {
        "link": link,
        "start": _stamp(bounds[0]),
        "end": _stamp(bounds[1]),
    }
    if instances is not None:
        document["series"] = [
            [master, int(all_day), keys] for (master, all_day), keys in groups.items()
        ]
    return json.dumps(document, separators=(",", ":"))


def load_cursor(cursor: str) -> DeltaCursor:
    try:
        parsed = json.loads(cursor)
        bounds = (parse_offset_time(parsed["start"]), parse_offset_time(parsed["end"]))
        instances: Membership | None = None
        if "series" in parsed:
            instances = {}
            for master_id, all_day, keys in parsed["series"]:
                for key, value in keys.items():
                    original: date | datetime = (
                        date.fromordinal(int(value))
                        if all_day
                        else datetime.fromtimestamp(value, UTC)
                    )
                    instances[str(key)] = (str(master_id), original)
        return DeltaCursor(str(parsed["link"]), bounds, instances)
    except (ValueError, KeyError, TypeError, OverflowError, ProviderError) as exc:
        raise CursorExpired("the stored Graph cursor is unreadable; listing again") from exc
