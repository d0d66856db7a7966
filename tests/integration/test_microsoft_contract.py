"""The Microsoft provider passes the shared provider contract against the Graph fake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from calsync.model import EventContent
from calsync.providers.microsoft import MicrosoftProvider
from tests.contract.provider_contract import ProviderContract, RemoteControl
from tests.fakes.graph_testing import graph_fake
from tests.fakes.microsoft_graph import MicrosoftGraphFake
from tests.fakes.microsoft_testing import FakeRemote, make_provider

__all__ = ["graph_fake"]


class TestMicrosoftContract(ProviderContract):
    remote_edit_examples = 15

    @pytest.fixture
    def provider(self, graph_fake: MicrosoftGraphFake) -> Iterator[MicrosoftProvider]:
        # Small, irregular pages (and the empty first page Graph sends) so every
        # test also walks nextLink chains.
        graph_fake.shape_pages([2, 0, 1, 3])
        provider = make_provider(graph_fake, page_size=3)
        yield provider
        provider.close()

    @pytest.fixture
    def remote(self, graph_fake: MicrosoftGraphFake) -> RemoteControl:
        return FakeRemote(graph_fake)

    def comparable(self, content: EventContent) -> dict[str, Any]:
        # Graph's one showAs holds free/busy and tentative together: a free event
        # is never tentative there (the documented lossy mapping).
        if content.transparency == "transparent":
            content = replace(content, status="confirmed")
        return super().comparable(content)
