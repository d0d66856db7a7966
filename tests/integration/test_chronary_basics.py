"""The Chronary dialect's frame: API keys, the error body, X-Request-Id,
Idempotency-Key, and the SDK features that answer 404 by design.

Real uvicorn, the official ``chronary`` SDK, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import chronary
import httpx
import pytest
from chronary import Chronary
from fastapi import FastAPI

from calsync.cli.tokens import revoke_token
from tests.fixtures.api import (
    CLIENT_SECRET,
    ApiServer,
    bearer,
    create_app_calendar,
    run_api_server,
)
from tests.fixtures.chronary import chronary_url, new_org_key, sdk_client


def _error(exc: chronary.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict)
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "code", "message", "param", "request_id"}
    assert error["request_id"] == exc.response.headers["X-Request-Id"]
    assert error["request_id"].startswith("req_")
    return error


def test_every_response_has_a_request_id(raw: httpx.Client) -> None:
    ok = raw.get("/v1/agents")
    missing = raw.get("/v1/agents/agt_nope")
    assert ok.status_code == 200
    assert ok.headers["X-Request-Id"].startswith("req_")
    assert missing.status_code == 404
    assert missing.json()["error"]["request_id"] == missing.headers["X-Request-Id"]
    assert ok.headers["X-Request-Id"] != missing.headers["X-Request-Id"]


def test_api_key_client_secret_and_refusals(
    api_server: ApiServer, sdk: Chronary, http: httpx.Client
) -> None:
    assert sdk.agents.list().total == 0
    with sdk_client(api_server, CLIENT_SECRET) as by_secret:
        assert by_secret.agents.list().total == 0
    app = create_app_calendar(http, "an-app")
    for wrong in ("chr_sk_unknown", app.access_token, "calsync-test-client"):
        with (
            sdk_client(api_server, wrong) as client,
            pytest.raises(chronary.AuthenticationError) as caught,
        ):
            client.agents.list()
        error = _error(caught.value)
        assert (error["type"], error["code"]) == ("authentication_error", "invalid_api_key")
    anonymous = httpx.get(f"{chronary_url(api_server)}/v1/agents", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"


def test_a_revoked_key_stops_alone(api_server: ApiServer) -> None:
    first, second = new_org_key(api_server), new_org_key(api_server)
    assert first != second
    with api_server.store.read() as uow:
        assert uow.api_keys.resolve(first) is not None
    assert revoke_token(api_server.store, first)
    assert not revoke_token(api_server.store, first)
    with sdk_client(api_server, first) as gone, pytest.raises(chronary.AuthenticationError):
        gone.agents.list()
    with sdk_client(api_server, second) as kept:
        assert kept.agents.list().total == 0


def test_keys_are_stored_hashed(api_server: ApiServer, org_key: str) -> None:
    from sqlalchemy import text

    engine = api_server.store._get_engine()
    with engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT key_hash FROM api_keys"))]
    assert stored and org_key not in stored and all(len(h) == 64 for h in stored)


UNSUPPORTED: list[tuple[str, Callable[[Chronary], object]]] = [
    ("events.confirm", lambda c: c.events.confirm("evt_x")),
    ("events.release", lambda c: c.events.release("evt_x")),
    ("calendars.get_context", lambda c: c.calendars.get_context("cal_x")),
    ("calendars.get_availability_rules", lambda c: c.calendars.get_availability_rules("cal_x")),
    (
        "calendars.set_availability_rules",
        lambda c: c.calendars.set_availability_rules("cal_x", buffer_before_minutes=5),
    ),
    ("calendars.delete_availability_rules", lambda c: c.calendars.delete_availability_rules("x")),
    ("webhooks.list", lambda c: c.webhooks.list()),
    ("booking_pages.list", lambda c: c.booking_pages.list()),
    ("scheduling.list", lambda c: c.scheduling.list()),
]


@pytest.mark.parametrize(("name", "call"), UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_features_answer_404_in_the_error_shape(
    sdk: Chronary, name: str, call: Callable[[Chronary], object]
) -> None:
    with pytest.raises(chronary.NotFoundError) as caught:
        call(sdk)
    error = _error(caught.value)
    assert (error["type"], error["code"]) == ("not_found", "not_found")


def test_idempotency_key_replays_the_first_answer(api_server: ApiServer, raw: httpx.Client) -> None:
    body = {"name": "Scheduler", "type": "ai"}
    first = raw.post("/v1/agents", json=body, headers={"Idempotency-Key": "k-1"})
    again = raw.post("/v1/agents", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert raw.get("/v1/agents").json()["total"] == 1

    other = raw.post(
        "/v1/agents", json={**body, "name": "Other"}, headers={"Idempotency-Key": "k-1"}
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    fresh = raw.post("/v1/agents", json=body, headers={"Idempotency-Key": "k-2"})
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]

    agent_id = first.json()["id"]
    deleted = raw.delete(f"/v1/agents/{agent_id}", headers={"Idempotency-Key": "d-1"})
    replayed = raw.delete(f"/v1/agents/{agent_id}", headers={"Idempotency-Key": "d-1"})
    assert deleted.status_code == replayed.status_code == 204
    assert replayed.headers["Idempotent-Replayed"] == "true"


def test_idempotency_keys_are_per_organization(store_url: str) -> None:
    """Two deployments over one store (two client ids): neither key works on the other,
    and one's Idempotency-Key never answers for the other's."""
    with (
        run_api_server(store_url) as one,
        run_api_server(store_url, migrate=False, client_id="another-client") as two,
    ):
        key_one, key_two = new_org_key(one), new_org_key(two)
        with sdk_client(two, key_one) as wrong, pytest.raises(chronary.AuthenticationError):
            wrong.agents.list()
        headers = {"Idempotency-Key": "shared"}
        a = httpx.post(
            f"{chronary_url(one)}/v1/agents",
            json={"name": "A", "type": "ai"},
            headers={**bearer(key_one), **headers},
        )
        b = httpx.post(
            f"{chronary_url(two)}/v1/agents",
            json={"name": "A", "type": "ai"},
            headers={**bearer(key_two), **headers},
        )
        assert a.status_code == b.status_code == 201
        assert a.json()["id"] != b.json()["id"]
        assert "Idempotent-Replayed" not in b.headers


def test_validation_errors_name_the_param(sdk: Chronary) -> None:
    with pytest.raises(chronary.BadRequestError) as caught:
        sdk.agents.create(name="x", type="robot")  # type: ignore[arg-type]
    error = _error(caught.value)
    assert (error["type"], error["code"], error["param"]) == (
        "validation_error",
        "validation_error",
        "type",
    )


def test_the_dialect_can_be_turned_off(store_url: str) -> None:
    with run_api_server(store_url, chronary_prefix="") as server:
        response = httpx.get(f"{server.base_url}/chronary/v1/agents", timeout=10)
        assert response.status_code == 404
        assert "errors" in response.json()  # the Cronofy dialect's 404
        assert "X-Request-Id" not in response.headers


def test_openapi_shows_both_dialects_tagged_apart(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    chronary_tags: set[str] = set()
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            tags = set(operation.get("tags", []))
            dialect = {t for t in tags if t.startswith("chronary: ")}
            if path.startswith("/chronary/"):
                assert dialect and dialect == tags, path
                assert "ChronaryErrorBody" in json.dumps(operation["responses"]), path
                chronary_tags |= dialect
            else:
                assert not dialect, path
    assert chronary_tags == {"chronary: agents", "chronary: calendars", "chronary: events"}
    assert "/v1/calendars" in doc["paths"] and "/chronary/v1/calendars" in doc["paths"]
    assert "chronary_api_key" in doc["components"]["securitySchemes"]


def _flaky_routes(calls: list[int], gate: threading.Event) -> Callable[[FastAPI], None]:
    """Test-only routes under the prefix: one that crashes on its first call, one that
    waits for ``gate`` (to hold an Idempotency-Key while a second request comes)."""

    def configure(app: FastAPI) -> None:
        @app.post("/chronary/v1/test-flaky", status_code=201)
        def flaky() -> dict[str, int]:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("the first attempt fails")
            return {"attempt": len(calls)}

        @app.post("/chronary/v1/test-slow", status_code=201)
        def slow() -> dict[str, bool]:
            assert gate.wait(timeout=30)
            return {"done": True}

    return configure


def test_a_failed_first_attempt_releases_its_key(store_url: str) -> None:
    calls: list[int] = []
    gate = threading.Event()
    with run_api_server(store_url, configure_app=_flaky_routes(calls, gate)) as server:
        key = new_org_key(server)
        url = f"{chronary_url(server)}/v1/test-flaky"
        headers = {**bearer(key), "Idempotency-Key": "retry-me"}
        first = httpx.post(url, json={}, headers=headers, timeout=30)
        assert first.status_code == 500
        error = first.json()["error"]
        assert (error["type"], error["code"]) == ("internal_error", "internal")
        assert error["request_id"] == first.headers["X-Request-Id"]
        retry = httpx.post(url, json={}, headers=headers, timeout=30)
        assert (retry.status_code, retry.json()) == (201, {"attempt": 2})
        replay = httpx.post(url, json={}, headers=headers, timeout=30)
        assert (replay.status_code, replay.json()) == (201, {"attempt": 2})
        assert len(calls) == 2


def test_a_key_in_use_is_refused(store_url: str) -> None:
    from sqlalchemy import text

    calls: list[int] = []
    gate = threading.Event()
    with run_api_server(store_url, configure_app=_flaky_routes(calls, gate)) as server:
        key = new_org_key(server)
        url = f"{chronary_url(server)}/v1/test-slow"
        headers = {**bearer(key), "Idempotency-Key": "slow"}
        engine = server.store._get_engine()
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.post, url, json={}, headers=headers, timeout=30)
            claimed = text("SELECT count(*) FROM idempotency_keys WHERE key = 'slow'")
            for _ in range(3000):  # until the first request holds the key (a guard)
                with engine.connect() as connection:
                    if connection.execute(claimed).scalar_one():
                        break
                time.sleep(0.01)
            second = httpx.post(url, json={}, headers=headers, timeout=30)
            gate.set()
            assert first.result().status_code == 201
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "idempotency_key_in_use"
        third = httpx.post(url, json={}, headers=headers, timeout=30)
        assert (third.status_code, third.headers["Idempotent-Replayed"]) == (201, "true")
