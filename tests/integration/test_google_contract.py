"""The Google provider passes the shared provider contract against the fake server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calsync.providers.google import GoogleProvider
from tests.contract.provider_contract import ProviderContract, RemoteControl
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_testing import FakeRemote, google_fake, make_provider

__all__ = ["google_fake"]


class TestGoogleContract(ProviderContract):
    remote_edit_examples = 15

    @pytest.fixture
    def provider(self, google_fake: GoogleCalendarFake) -> Iterator[GoogleProvider]:
        google_fake.add_calendar("Work", calendar_id="work@example.com", primary=True)
        # Small, irregular pages so every test also walks nextPageToken chains.
        google_fake.shape_pages([2, 0, 1, 3])
        provider = make_provider(google_fake, page_size=3)
        yield provider
        provider.close()

    @pytest.fixture
    def remote(self, google_fake: GoogleCalendarFake) -> RemoteControl:
        return FakeRemote(google_fake)
