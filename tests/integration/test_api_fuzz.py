"""Fuzz every operation of the live ``/openapi.json`` with schemathesis: no 5xx, ever.

The server is real uvicorn over a real store; requests carry a valid bearer
token (so the fuzzer reaches the handlers, not just the 401) and the rate
limit is lifted. Each operation gets a bounded number of positive and
negative examples, so the run stays under half a minute per back end.
Callback URLs are pinned to 127.0.0.1 so no request ever leaves the host.

Requests are sent with httpx rather than ``case.call``: in this environment
``urllib3-future`` (pulled in by niquests) shadows urllib3, and schemathesis'
requests transport trips over its pool manager. The checks are schemathesis'
own, applied with ``case.validate_response``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.fixtures.api import ApiServer, create_app_calendar, run_api_server

#: Per operation and generation mode (positive, negative): about 20 requests per operation.
EXAMPLES_PER_MODE = 10
#: Channel creation POSTs to the callback; keep every such request on this host.
SAFE_CALLBACK = "http://127.0.0.1:9/fuzz-callback"

pytestmark = pytest.mark.slow


@pytest.fixture
def fuzz_server(store_url: str) -> Iterator[ApiServer]:
    with run_api_server(
        store_url, rate_limit_per_second=1_000_000, rate_limit_per_minute=1_000_000
    ) as server:
        yield server


def send(client: httpx.Client, case: schemathesis.Case[Any], base_url: str) -> httpx.Response:
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data if isinstance(data, bytes | str) else str(data)
    return client.request(
        kwargs["method"],
        kwargs["url"],
        headers={k: str(v) for k, v in (kwargs.get("headers") or {}).items()},
        params=kwargs.get("params") or None,
        cookies=kwargs.get("cookies") or None,
        **body,
    )


def fuzz_operation(
    client: httpx.Client,
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    base_url: str,
    headers: dict[str, str],
    mode: GenerationMode,
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case[Any]) -> None:
        if case.headers is None:
            case.headers = CaseInsensitiveDict()
        case.headers.update(headers)
        if isinstance(case.body, dict) and operation.path.endswith("/channels"):
            case.body["callback_url"] = SAFE_CALLBACK  # never let the fuzzer pick a host
        response = send(client, case, base_url)
        case.validate_response(response, checks=[not_a_server_error])

    fuzz()


def test_no_server_errors(fuzz_server: ApiServer) -> None:
    base_url = fuzz_server.base_url
    with httpx.Client(base_url=base_url, timeout=30) as client:
        app = create_app_calendar(client, "fuzz")
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        headers = {"Authorization": f"Bearer {app.access_token}"}
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"invalid operation in the schema: {result.err()}"
            operations.append(result.ok())
        assert len(operations) >= 10, [op.label for op in operations]
        failures: list[str] = []
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    fuzz_operation(client, operation, base_url, headers, mode)
                except Unsatisfiable:
                    if mode is GenerationMode.POSITIVE:
                        failures.append(f"{operation.label}: no valid example could be generated")
                    # Negative: the operation has nothing that can be made invalid.
                except Exception as exc:
                    failures.append(f"{operation.label} [{mode.value}]: {exc}")
        assert not failures, "\n\n".join(failures)
        # The server is still healthy after the barrage.
        assert client.get("/healthz").status_code == 200
