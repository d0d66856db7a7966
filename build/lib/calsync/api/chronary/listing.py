"""The list envelope ``{data, total, limit, offset}`` and its paging parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


Paging = Annotated[Page, Depends(page_params)]


def envelope(items: Sequence[dict[str, Any]], total: int, page: Page) -> dict[str, Any]:
    return {"data": list(items), "total": total, "limit": page.limit, "offset": page.offset}


def sliced(items: Sequence[dict[str, Any]], page: Page) -> dict[str, Any]:
    return envelope(items[page.offset : page.offset + page.limit], len(items), page)
