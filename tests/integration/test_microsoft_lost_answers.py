"""A push whose answer is lost, against the Graph fake: the last acknowledged edit wins.

The fake processes the create, PATCH or DELETE and then drops the connection without
a reply, for the first try and every retry the client makes (a retried PATCH meets
412, a retried DELETE 404, and those answers are lost too), so the push fails with
the write applied on Graph's side. The scenarios are `tests.integration.lost_answers`
(the app edits again; Graph and the API end with the app's last version, with no
conflict and no duplicate). The create is recognised by its transactionId (which
names the event uid), the rest by the push journal (issue #10).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from calsync.providers.microsoft import MicrosoftProvider
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fixtures.e2e import BOTH_BACKENDS, E2EAccount
from tests.fixtures.e2e_microsoft import MicrosoftE2E, microsoft_e2e
from tests.integration.lost_answers import (
    SOON,
    LostAnswerScenarios,
    LostAnswerWorld,
    sync_with,
)

__all__ = ["microsoft_e2e"]

#: The client's first try and its four retries.
EVERY_TRY = 5

pytestmark = pytest.mark.parametrize("e2e_store_url", BOTH_BACKENDS, indirect=True)


class GraphWorld(LostAnswerWorld):
    def __init__(self, e2e: E2EAccount, fake: MicrosoftGraphFake) -> None:
        super().__init__(e2e)
        self.fake = fake
        self.tries: list[int] = []

    def remote_summaries(self) -> list[str]:
        fake = self.fake
        found = fake.instances(
            fake.default_calendar_id, SOON - timedelta(days=1), SOON + timedelta(days=1)
        )
        return sorted(str(i["subject"]) for i in found)

    def lose_answers(self, method: str) -> None:
        def no_sleep(provider: MicrosoftProvider) -> None:
            provider.client.sleep = lambda seconds: None
            self.tries.append(provider.client.retries + 1)

        sync_with(self.e2e, no_sleep)
        fake = self.fake
        fake.on_next_request(method, "/events", lambda: fake.lose_next_responses(EVERY_TRY))

    def after_loss(self) -> None:
        assert self.tries and self.tries[0] == EVERY_TRY


@pytest.fixture
def world(microsoft_e2e: MicrosoftE2E) -> GraphWorld:
    return GraphWorld(*microsoft_e2e)


class TestMicrosoftLostAnswers(LostAnswerScenarios):
    pass
