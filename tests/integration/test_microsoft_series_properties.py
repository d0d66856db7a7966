"""Series on Graph, as calsync folds them: random edits by another Graph client, then
pulls; the store's masters and overrides must expand to exactly the occurrences Graph's
own calendar view shows (issue #13: reads and the iCal feed show the same series as
Google and CalDAV do).

Edits include occurrences an organizer cancels (they stay listed with
``isCancelled``) and restarts: a new provider instance that has only the cursor.

The fold is the engine's: a full listing replaces the state, an incremental one
applies changes and deletions, a deleted master takes its overrides along. The
expansion is the RRULE's (dateutil), minus overridden original starts, plus the
overrides that are not cancelled.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from calsync.model import RemoteEvent
from calsync.providers._graph_recurrence import starts_between
from calsync.providers.base import SyncWindow
from tests.contract.provider_contract import pull_all
from tests.fakes.graph_testing import event_body, graph_fake, weekly
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fakes.microsoft_testing import make_provider

__all__ = ["graph_fake"]

BASE = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
WINDOW = SyncWindow(BASE - timedelta(days=10), BASE + timedelta(days=100))
#: Compared well inside the window, so no instance straddles its edges.
LOW, HIGH = BASE - timedelta(days=1), BASE + timedelta(days=80)
ZONE = "Europe/Berlin"

ops = st.lists(
    st.one_of(
        st.tuples(st.just("series"), st.integers(0, 20), st.integers(2, 5)),
        st.tuples(st.just("single"), st.integers(0, 20)),
        st.tuples(st.just("move"), st.integers(0, 99), st.integers(0, 9), st.integers(1, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 99), st.integers(0, 9)),
        st.tuples(st.just("organizer-cancels"), st.integers(0, 99), st.integers(0, 9)),
        st.tuples(st.just("rename"), st.integers(0, 99)),
        st.tuples(st.just("reshape"), st.integers(0, 99), st.integers(1, 3)),
        st.tuples(st.just("delete"), st.integers(0, 99)),
        st.tuples(st.just("pull")),
        st.tuples(st.just("restart")),
    ),
    max_size=10,
)


def fold(state: dict[str, RemoteEvent], pulled: Any) -> dict[str, RemoteEvent]:
    if pulled.final.full_listing:
        return dict(pulled.changed)
    merged = {k: v for k, v in state.items() if k not in pulled.deleted}
    merged = {
        k: v
        for k, v in merged.items()
        if v.master_remote_id is None or v.master_remote_id not in pulled.deleted
    }
    merged.update(pulled.changed)
    return merged


def expand(state: dict[str, RemoteEvent]) -> list[tuple[datetime | date, str]]:
    found: list[tuple[datetime | date, str]] = []
    for event in state.values():
        content = event.content
        if event.master_remote_id is not None:
            continue
        if not content.recurrence:
            found.append((content.start, content.summary))
            continue
        overrides = [o for o in state.values() if o.master_remote_id == event.remote_id]
        skipped = {o.content.original_start for o in overrides}
        zone = ZoneInfo(content.tzid)
        for start in starts_between(content.recurrence, content.start, zone, LOW, HIGH):
            if start not in skipped:
                found.append((start, content.summary))
        found += [
            (o.content.start, o.content.summary)
            for o in overrides
            if o.content.status != "cancelled"
        ]
    return sorted(f for f in found if isinstance(f[0], datetime) and LOW <= f[0] < HIGH)


def graph_view(fake: MicrosoftGraphFake) -> list[tuple[datetime | date, str]]:
    return sorted(
        (
            datetime.fromisoformat(i["start"]["dateTime"][:19]).replace(tzinfo=UTC),
            str(i["subject"]),
        )
        for i in fake.instances(fake.default_calendar_id, LOW, HIGH)
        if not i.get("isCancelled")  # an organizer cancelled it: the attendee sees it struck
    )


def test_series_edits_are_folded_to_graph_s_own_occurrences(
    graph_fake: MicrosoftGraphFake,
) -> None:
    fake = graph_fake
    calendar = fake.default_calendar_id
    providers = [make_provider(fake)]

    @settings(max_examples=40, deadline=None, database=None)
    @example(
        steps=[
            ("series", 2, 4),
            ("single", 1),
            ("pull",),
            ("move", 0, 1, 2),
            ("cancel", 0, 2),
            ("pull",),
            ("rename", 0),
            ("pull",),
            ("reshape", 0, 1),
            ("pull",),
            ("delete", 0),
        ]
    )
    @example(steps=[("series", 2, 4), ("pull",), ("restart",), ("cancel", 0, 2), ("pull",)])
    @given(steps=ops)
    def run(steps: list[tuple[Any, ...]]) -> None:
        while len(providers) > 1:
            providers.pop().close()
        for event_id in fake.event_ids(calendar):
            fake.delete_event(event_id)
        full = pull_all(providers[-1], calendar, None, WINDOW)
        state, cursor = full.changed, full.final.cursor
        names = iter(range(10_000))
        for step in [*steps, ("pull",)]:
            masters = sorted(
                i for i in fake.event_ids(calendar) if (fake.event(i) or {}).get("recurrence")
            )
            kind = step[0]
            if kind == "series":
                start = BASE + timedelta(days=step[1])
                body = event_body(
                    f"S{next(names)}",
                    start,
                    zone=ZONE,
                    recurrence=weekly(start.astimezone(ZoneInfo(ZONE)), step[2]),
                )
                fake.put_event(calendar, body)
            elif kind == "single":
                fake.put_event(
                    calendar,
                    event_body(
                        f"E{next(names)}", BASE + timedelta(days=step[1], hours=2), zone=ZONE
                    ),
                )
            elif kind in ("move", "cancel", "organizer-cancels") and masters:
                master = masters[step[1] % len(masters)]
                instances = sorted(
                    (i for i in fake.instances(calendar, WINDOW.start, WINDOW.end)
                     if i.get("seriesMasterId") == master and i["type"] == "occurrence"),
                    key=lambda i: i["originalStart"],
                )  # fmt: skip
                if instances:
                    target = instances[step[2] % len(instances)]
                    if kind == "cancel":
                        fake.delete_event(target["id"])
                    elif kind == "organizer-cancels":
                        fake.cancel_for_attendee(target["id"])
                    else:
                        moved = datetime.fromisoformat(
                            target["originalStart"].replace("Z", "+00:00")
                        )
                        moved += timedelta(hours=step[3])
                        fake.patch_event(
                            target["id"], event_body(f"M{next(names)}", moved, zone=ZONE)
                        )
            elif kind == "rename" and masters:
                fake.patch_event(masters[step[1] % len(masters)], {"subject": f"R{next(names)}"})
            elif kind == "reshape" and masters:
                master = masters[step[1] % len(masters)]
                current = fake.event(master)
                assert current is not None
                start = datetime.fromisoformat(current["start"]["dateTime"][:19]).replace(
                    tzinfo=UTC
                )
                times = event_body("", start + timedelta(hours=step[2]), zone=ZONE)
                fake.patch_event(master, {"start": times["start"], "end": times["end"]})
            elif kind == "delete":
                live = sorted(fake.event_ids(calendar))
                if live:
                    fake.delete_event(live[step[1] % len(live)])
            elif kind == "restart":  # a new process: only the cursor carries over
                providers.append(make_provider(fake))
            elif kind == "pull":
                pulled = pull_all(providers[-1], calendar, cursor, WINDOW)
                state, cursor = fold(state, pulled), pulled.final.cursor
                assert expand(state) == graph_view(fake)
        fresh = pull_all(providers[-1], calendar, None, WINDOW)
        assert expand(fresh.changed) == graph_view(fake)

    run()
