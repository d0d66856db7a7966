"""`calsync sync --once` trusts a recent discovery (issue #11), against a real Radicale.

Each ``sync --once`` is a fresh process, so it used to discover the account's
calendars on every run (the library's two discovery PROPFINDs, the home listing
and a write), where the daemon discovers every ``[sync] rediscover_interval``.
The store now records when a profile was last discovered, and with which
account options; `run_once` skips a discovery younger than the interval made
with the same options. What must hold:

- the second run asks the server about the calendar only (its ctag), nothing
  about the principal or the home;
- changed account options (another ``calendars`` filter, URL, anything) discover
  again at once;
- a calendar removed from the server since the last discovery is found gone in
  the same run (discovery runs when a calendar fails), exactly as if the run had
  discovered first: no failure, the calendar marked deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from calsync.cli.sync_once import run_once
from calsync.config import Settings
from calsync.providers.caldav import CalDAVProvider
from calsync.store import Store
from calsync.sync import AccountSyncReport
from calsync.sync.discovery import ensure_profile
from tests.fixtures.e2e import caldav_account, write_config
from tests.fixtures.radicale import RadicaleCalendar, RadicaleServer, vevent_ics


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every request any CalDAV provider built in this test sends (discovery included)."""
    log: list[tuple[str, str]] = []
    original = CalDAVProvider.__init__

    def counting(self: CalDAVProvider, url: str, **options: Any) -> None:
        options["request_hook"] = lambda method, target, body: log.append((method, target))
        original(self, url, **options)

    monkeypatch.setattr(CalDAVProvider, "__init__", counting)
    yield log


def event(uid: str) -> str:
    return vevent_ics(uid, "DTSTAMP:20260101T000000Z\nDTSTART:20300301T140000Z\nSUMMARY:x")


def once(store: Store, settings: Settings) -> AccountSyncReport:
    [report] = run_once(store, settings)
    assert report.ok, report.describe_failures()
    return report


def settings_for(
    tmp_path: Path, store_url: str, calendars: list[RadicaleCalendar], **options: object
) -> Settings:
    account = caldav_account(calendars[0], calendars=[c.url for c in calendars], **options)
    return write_config(tmp_path, store_url, [account])


def test_a_second_run_asks_only_about_the_calendar(
    store: Store,
    store_url: str,
    radicale_calendar: RadicaleCalendar,
    requests: list[tuple[str, str]],
    tmp_path: Path,
) -> None:
    radicale_calendar.put("a.ics", event("a@once"))
    settings = settings_for(tmp_path, store_url, [radicale_calendar])
    first = once(store, settings)
    assert first.calendars[0].upserted == 1
    principal = radicale_calendar.server.principal_url
    assert (("PROPFIND", principal)) in requests  # discovered
    requests.clear()

    radicale_calendar.put("b.ics", event("b@once"))
    second = once(store, settings)
    assert second.calendars[0].upserted == 1
    # The ctag, then the sync-collection and the multiget of the new event: all
    # on the calendar, none on the principal or the home.
    assert {target for _, target in requests} == {radicale_calendar.url}
    assert requests[0][0] == "PROPFIND"
    requests.clear()

    assert once(store, settings).calendars[0].upserted == 0
    assert requests == [("PROPFIND", radicale_calendar.url)]  # a no-op: one ctag


def test_changed_account_options_discover_again(
    store: Store,
    store_url: str,
    radicale_calendar: RadicaleCalendar,
    requests: list[tuple[str, str]],
    tmp_path: Path,
) -> None:
    once(store, settings_for(tmp_path, store_url, [radicale_calendar]))
    other = radicale_calendar.server.new_calendar()
    other.put("o.ics", event("o@once"))
    requests.clear()
    widened = settings_for(tmp_path, store_url, [radicale_calendar, other])
    report = once(store, widened)
    assert ("PROPFIND", radicale_calendar.server.principal_url) in requests
    assert len(report.calendars) == 2  # the newly selected calendar was found and synced
    assert sum(c.upserted for c in report.calendars) == 1


def test_a_calendar_removed_since_the_last_discovery_is_found_gone_in_the_same_run(
    store: Store,
    store_url: str,
    radicale_server: RadicaleServer,
    requests: list[tuple[str, str]],
    tmp_path: Path,
) -> None:
    kept, removed = radicale_server.new_calendar(), radicale_server.new_calendar()
    kept.put("k.ics", event("k@once"))
    removed.put("r.ics", event("r@once"))
    settings = settings_for(tmp_path, store_url, [kept, removed])
    assert len(once(store, settings).calendars) == 2
    assert radicale_server.request("DELETE", removed.url).status_code in (200, 204)
    requests.clear()

    report = once(store, settings)  # ok: the gone calendar is not a failure
    assert [c.name for c in report.calendars] == [kept.url.rstrip("/").rpartition("/")[2]]
    assert ("PROPFIND", radicale_server.principal_url) in requests  # it discovered
    profile = ensure_profile(store, settings.accounts[0])
    with store.read() as uow:
        listed = {c.remote_id: c.deleted for c in uow.calendars.list_by_profile(profile.pk)}
    assert listed == {kept.url: False, removed.url: True}
