"""The ``calendars`` key of an account: a filter that matches nothing is an error.

A typo (``calendars = ["Wrok"]``) used to give "ok, 0 calendar(s)": a sync that
reports success and syncs nothing. Listing the calendars that do exist makes
the fix obvious.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from calsync.errors import ProviderError

#: Enough names to recognise the right one; an account with hundreds says "and N more".
SHOWN = 20


def no_calendar_matches(wanted: Sequence[str], available: Iterable[str]) -> ProviderError:
    """The error for a filter that selected nothing, naming what the account has."""
    names = sorted({name for name in available if name})
    shown = ", ".join(json.dumps(name, ensure_ascii=False) for name in names[:SHOWN])
    if len(names) > SHOWN:
        shown += f" and {len(names) - SHOWN} more"
    requested = ", ".join(json.dumps(name, ensure_ascii=False) for name in wanted)
    return ProviderError(
        f"no calendar matches calendars = [{requested}]; "
        f"the account has: {shown or 'no calendars at all'}; "
        "check the account's calendars key (names or URLs/ids)"
    )
