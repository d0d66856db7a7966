"""Fetching series masters in bulk for a delta pull (`_graph_delta`).

calendarView (and its delta) lists instances, never series masters, so every series
a round lists needs its master from elsewhere. One ``GET /me/events/{id}`` each made
the first sync of a calendar with 1,000 series cost 1,000 requests. Two bulk ways:

- **Listing** (full rounds): ``GET /me/calendars/{id}/events?$filter=type eq
  'seriesMaster'`` pages through every master of the calendar, ``$top`` a page,
  following ``@odata.nextLink`` ("The list of events contains single instance
  meetings and series masters", https://learn.microsoft.com/en-us/graph/api/
  calendar-list-events; the method "supports the OData query parameters", and
  ``type`` is a property of the event). One request per page of masters instead of
  one per master, and no per-mailbox concurrency to respect. It lists masters whose
  series lie wholly outside the window too (Graph has no filter on a series' range),
  so it is used only when a round lists the whole window anyway; the raw masters are
  kept for this pull only and converted when an instance names one.
- **JSON batching** (whatever the listing did not give: incremental rounds, a master
  changed since it was listed): ``GET``s 20 to a ``POST /$batch``
  (`GraphClient.batch_get`), one batch at a time, since Graph runs a batch's requests
  side by side and a mailbox takes four at once
  (https://learn.microsoft.com/en-us/graph/throttling-limits).
  Each answer is judged alone: 200 -> the master; 404/410 -> gone (the series was
  deleted; the next round reports it); a request throttled on its own is sent again
  after its ``Retry-After`` (by `batch_get`); anything else fails the pull as
  `GraphApiError`, before the page that needed it is stored.

A tenant that refused the listing's filter with a 400 would fall back to batches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from calsync.providers._graph_convert import MARKER_PROPERTY
from calsync.providers._graph_http import GraphApiError, GraphClient, relative_url

log = logging.getLogger(__name__)

MASTER_QUERY = {"$expand": f"singleValueExtendedProperties($filter=id eq '{MARKER_PROPERTY}')"}
SERIES_FILTER = "type eq 'seriesMaster'"
GONE = frozenset({404, 410})


def list_masters(client: GraphClient, calendar_id: str) -> dict[str, dict[str, Any]] | None:
    """Every series master of the calendar, raw, by id; None when Graph refuses the filter."""
    params = {"$filter": SERIES_FILTER, "$top": str(client.page_size), **MASTER_QUERY}
    found: dict[str, dict[str, Any]] = {}
    path = f"/me/calendars/{calendar_id}/events"
    try:
        for page in client.pages(path, "list series masters", params=params):
            for item in page.get("value") or ():
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    found[item["id"]] = item
    except GraphApiError as exc:
        if exc.status != 400:
            raise
        log.info("%s; fetching series masters in batches instead", exc.message)
        return None
    return found


def fetch_masters(client: GraphClient, master_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each master by id through ``$batch``: its raw body, or None when it is gone."""
    urls = {
        str(n): relative_url(f"/me/events/{master_id}", MASTER_QUERY)
        for n, master_id in enumerate(master_ids)
    }
    answers = client.batch_get(urls, "get series master")
    found: dict[str, dict[str, Any] | None] = {}
    for ident, answer in answers.items():
        master_id = master_ids[int(ident)]
        if 200 <= answer.status < 300:
            found[master_id] = answer.body
        elif answer.status in GONE:
            found[master_id] = None
        else:
            text = f"get series master: Graph answered {answer.status} {answer.code}: "
            raise GraphApiError(
                (text + answer.message).rstrip(": "), status=answer.status, code=answer.code
            )
    return found


def etag_of(raw: Mapping[str, Any]) -> str | None:
    value = raw.get("@odata.etag")
    return value if isinstance(value, str) else None
