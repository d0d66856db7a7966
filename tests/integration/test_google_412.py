"""End to end over Google: an API edit whose push meets 412 because Google moved on.

Another client edits the event on the fake between the sync pass's pull and its
push (`GoogleCalendarFake.on_next_request`), so the ``If-Match`` patch is
refused with 412. The engine clears the calendar's cursor; the next pass lists
the calendar whole, sees both edits and settles them by the account's conflict
policy (remote wins by default): the store and Google converge on one event,
and the losing local version stays in the change log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.e2e import BOTH_BACKENDS, GOOGLE_CALENDAR, E2EAccount

GoogleE2E = tuple[E2EAccount, GoogleCalendarFake]
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def patch_statuses(fake: GoogleCalendarFake, event_id: str) -> list[int]:
    return [r.status for r in fake.requests if r.method == "PATCH" and event_id in r.path]


@pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)
def test_a_push_refused_with_412_is_re_pulled_and_re_planned(google_e2e: GoogleE2E) -> None:
    e2e, fake = google_e2e
    e2e.sync_ok()
    window = {"start": iso(SOON), "end": iso(SOON + timedelta(hours=1))}
    e2e.upsert("plan", summary="Plan", **window)
    e2e.sync_ok()  # the insert
    e2e.sync_ok()  # its echo: the stored etag is now Google's
    [mine] = [e for e in e2e.stored() if e.managed]
    remote_id = mine.remote_id
    assert remote_id is not None and mine.etag is not None

    e2e.upsert("plan", summary="Plan (ours)", **window)
    fake.on_next_request(
        "PATCH",
        f"/events/{remote_id}",
        lambda: fake.patch_event(GOOGLE_CALENDAR, remote_id, {"summary": "Plan (theirs)"}),
    )
    refused = e2e.sync_ok().calendars[0]
    assert patch_statuses(fake, remote_id) == [412]
    assert refused.pushed == 0 and not refused.full_listing
    assert [e.content.summary for e in e2e.pending()] == ["Plan (ours)"], "still pending"
    with e2e.store.read() as uow:
        cursor = uow.cursors.get(e2e.stored_calendar().pk)
    assert cursor is None or cursor.cursor is None, "the push's 412 clears the cursor"

    settled = e2e.sync_ok().calendars[0]
    assert settled.full_listing and settled.conflicts == 1 and settled.pushed == 0
    assert [e["summary"] for e in e2e.read(only_managed=True)] == ["Plan (theirs)"]
    assert [e.get("summary") for e in fake.live_events(GOOGLE_CALENDAR)] == ["Plan (theirs)"]
    assert e2e.pending() == []
    [stored] = [e for e in e2e.stored() if e.managed]
    assert stored.remote_id == remote_id and stored.content.summary == "Plan (theirs)"

    # The losing local version is kept as the remote write's ``previous``.
    with e2e.store.read() as uow:
        changes = uow.changes.list_since(e2e.stored_calendar().account_pk)
    kept = [
        (c.op, c.previous.get("summary"))
        for c in changes
        if c.event_uid == stored.event_uid and c.previous
    ]
    assert ("updated", "Plan (ours)") in kept

    # Converged: a further pass writes nothing anywhere.
    requests_before = fake.count("PATCH") + fake.count("POST", "/events")
    quiet = e2e.sync_ok().calendars[0]
    assert (quiet.upserted, quiet.pushed, quiet.conflicts) == (0, 0, 0)
    assert fake.count("PATCH") + fake.count("POST", "/events") == requests_before
    assert patch_statuses(fake, remote_id) == [412]
    assert len(fake.live_events(GOOGLE_CALENDAR)) == 1
