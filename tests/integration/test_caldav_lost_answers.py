"""A push whose answer is lost, against a real Radicale: the last acknowledged edit wins.

calsync talks to Radicale through `FaultProxy`, which lets the chosen PUT or
DELETE reach Radicale (Radicale applies it) and then drops the connection
without an answer. The scenarios are `tests.integration.lost_answers` (the app
edits again; Radicale, read back by an independent WebDAV client, and the API
end with the app's last version, with no conflict and no duplicate), on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.e2e import E2EAccount, caldav_account, open_account, radicale_summaries
from tests.fixtures.fault_proxy import FaultProxy, fault_proxy
from tests.fixtures.radicale import RadicaleCalendar
from tests.integration.lost_answers import LostAnswerScenarios, LostAnswerWorld

pytestmark = pytest.mark.parametrize("e2e_store_url", ["sqlite", "postgres"], indirect=True)


class RadicaleWorld(LostAnswerWorld):
    create_method = update_method = "PUT"

    def __init__(self, e2e: E2EAccount, proxy: FaultProxy, calendar: RadicaleCalendar) -> None:
        super().__init__(e2e)
        self.proxy, self.calendar = proxy, calendar

    def remote_summaries(self) -> list[str]:
        return radicale_summaries(self.calendar)

    def lose_answers(self, method: str) -> None:
        self.proxy.lose_answer(method, path_contains=".ics")

    def after_loss(self) -> None:
        assert self.proxy.lost, "the push went out"


@pytest.fixture
def world(
    radicale_calendar: RadicaleCalendar, e2e_store_url: str, tmp_path: Path
) -> Iterator[RadicaleWorld]:
    with fault_proxy(radicale_calendar.server.base_url) as proxy:
        account = caldav_account(
            radicale_calendar,
            url=proxy.base_url + f"/{radicale_calendar.server.username}/",
            calendars=[proxy.base_url + radicale_calendar.path],
        )
        with open_account(e2e_store_url, tmp_path, account) as harness:
            yield RadicaleWorld(harness, proxy, radicale_calendar)


class TestCaldavLostAnswers(LostAnswerScenarios):
    pass
