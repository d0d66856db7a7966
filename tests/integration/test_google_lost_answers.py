"""A push whose answer is lost, against the Google fake: the last acknowledged edit wins.

The fake processes the insert, patch or delete and then drops the connection
without a reply, for the first try and every retry the client makes, so the
push fails with the write applied on Google's side. The scenarios are
`tests.integration.lost_answers` (the app edits again; Google and the API end
with the app's last version, with no conflict and no duplicate).
"""

from __future__ import annotations

import pytest

from calsync.providers.google import GoogleProvider
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fixtures.e2e import BOTH_BACKENDS, GOOGLE_CALENDAR, E2EAccount
from tests.integration.lost_answers import LostAnswerScenarios, LostAnswerWorld, sync_with

#: More than the client's first try plus all its retries (`_google_http.Executor`,
#: httplib2's own): every one loses its answer.
EVERY_TRY = 50

pytestmark = pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)


class GoogleWorld(LostAnswerWorld):
    def __init__(self, e2e: E2EAccount, fake: GoogleCalendarFake) -> None:
        super().__init__(e2e)
        self.fake = fake

    def remote_summaries(self) -> list[str]:
        return sorted(e.get("summary", "") for e in self.fake.live_events(GOOGLE_CALENDAR))

    def lose_answers(self, method: str) -> None:
        def no_sleep(provider: GoogleProvider) -> None:
            provider._execute.sleep = lambda seconds: None

        sync_with(self.e2e, no_sleep)
        self.fake.lose_next_responses(EVERY_TRY, method=method)

    def after_loss(self) -> None:
        self.fake.stop_losing_responses()


@pytest.fixture
def world(google_e2e: tuple[E2EAccount, GoogleCalendarFake]) -> GoogleWorld:
    return GoogleWorld(*google_e2e)


class TestGoogleLostAnswers(LostAnswerScenarios):
    pass
