"""Rate limits (429), body size (413), error shapes, /healthz and /metrics over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pycronofy
import pytest
from fastapi import FastAPI
from pycronofy.exceptions import PyCronofyRequestError

from tests.fixtures.api import (
    CLIENT_ID,
    CLIENT_SECRET,
    ApiServer,
    AppCalendar,
    create_app_calendar,
    cronofy_client,
    get,
    run_api_server,
)
from tests.fixtures.store import content

#: /metrics is an operator endpoint: the API client secret is its bearer token.
OPERATOR = {"Authorization": f"Bearer {CLIENT_SECRET}"}


def _assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["errors"]["base"][0]["key"] == "errors.rate_limited"
    retry_after = int(response.headers["Retry-After"])  # an integer, not a float
    assert retry_after >= 1
    return retry_after


# The live tests use the minute window: a one-second window would make them
# depend on the machine's speed. The second window is covered with a fake
# clock in tests/unit/test_api_limiter.py, and once live below.


def test_rate_limit_per_account(store_url: str) -> None:
    with (
        run_api_server(store_url, rate_limit_per_second=1000, rate_limit_per_minute=4) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        # Each creation: one POST keyed by client_id, one GET keyed by the new account.
        first_counted = time.monotonic()
        a = create_app_calendar(http, "a")
        b = create_app_calendar(http, "b")
        statuses = [get(http, "/v1/calendars", a.access_token).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        retry_after = _assert_429(get(http, "/v1/calendars", a.access_token))
        # Until the minute that began with a's first request has passed, however
        # long the requests took.
        elapsed = time.monotonic() - first_counted
        assert 60 - elapsed <= retry_after <= 60
        # Another account, same address: its own budget.
        assert get(http, "/v1/calendars", b.access_token).status_code == 200
        # /healthz and /metrics are never limited.
        assert all(http.get("/healthz").status_code == 200 for _ in range(10))


def test_rate_limit_per_second_recovers_after_retry_after(store_url: str) -> None:
    with (
        run_api_server(store_url, rate_limit_per_second=2, rate_limit_per_minute=1000) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        for _ in range(100):  # at most 2 per second get through, whatever the timing
            response = get(http, "/v1/account", "csa_x")
            if response.status_code == 429:
                break
        retry_after = _assert_429(response)
        assert retry_after == 1
        time.sleep(retry_after)
        assert get(http, "/v1/account", "csa_x").status_code == 401


def test_rate_limit_through_pycronofy_and_by_client_id(store_url: str) -> None:
    with (
        run_api_server(store_url, rate_limit_per_second=1000, rate_limit_per_minute=2) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        client = cronofy_client(server.base_url)
        client.application_calendar("x")
        # pycronofy now sends its access token, which these endpoints ignore:
        # they are keyed by the body's client_id.
        client.application_calendar("x")
        with pytest.raises(PyCronofyRequestError) as info:
            client.application_calendar("x")
        _assert_429(info.value.response)
        # Unknown tokens fall back to the remote address, which has its own budget.
        assert get(http, "/v1/account", "csa_unknown").status_code == 401


def test_rate_limit_per_minute(store_url: str) -> None:
    with (
        run_api_server(store_url, rate_limit_per_second=100, rate_limit_per_minute=4) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        statuses = [get(http, "/v1/account", "csa_x").status_code for _ in range(4)]
        assert statuses == [401] * 4
        retry_after = _assert_429(get(http, "/v1/account", "csa_x"))
        assert 55 <= retry_after <= 60


def test_body_too_large_by_content_length(store_url: str) -> None:
    with (
        run_api_server(store_url, max_body_bytes=2048) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "pad": "x" * 4000}
        response = http.post("/v1/application_calendars", json=body)
        assert response.status_code == 413
        assert response.json()["errors"]["base"][0]["key"] == "errors.request_too_large"
        # Just under the limit is fine (and reaches validation: 422).
        body["pad"] = "x" * 1000
        assert http.post("/v1/application_calendars", json=body).status_code == 422


def test_body_too_large_when_streamed(store_url: str) -> None:
    with (
        run_api_server(store_url, max_body_bytes=2048) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):

        def chunks() -> Iterator[bytes]:
            yield b'{"client_id": "'
            for _ in range(10):
                yield b"x" * 512
            yield b'"}'

        # A generator body is sent chunked, with no Content-Length to check up front.
        response = http.post(
            "/v1/application_calendars",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413


def test_declared_content_length_over_limit_is_refused_unread(store_url: str) -> None:
    """A declared Content-Length over the limit is refused before the body is read."""
    with run_api_server(store_url, max_body_bytes=2048) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/calendars HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 99999999\r\n\r\n"
            )
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 413")


def test_error_shapes(http: httpx.Client, app_calendar: AppCalendar) -> None:
    unknown = get(http, "/v1/nowhere", app_calendar.access_token)
    assert unknown.status_code == 404
    assert unknown.json()["errors"]["base"][0]["key"] == "errors.not_found"
    method = http.put("/v1/calendars", json={}, headers=app_calendar.headers)
    assert method.status_code == 405
    assert method.json()["errors"]["base"][0]["key"] == "errors.method_not_allowed"
    bad_json = http.post(
        "/v1/calendars",
        content=b"{not json",
        headers={**app_calendar.headers, "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422
    (errors,) = bad_json.json()["errors"].values()
    assert errors[0]["key"] == "errors.invalid_json"
    not_object = http.post("/v1/calendars", json=[1, 2], headers=app_calendar.headers)
    assert not_object.status_code == 422
    assert "errors" in not_object.json()


def test_unexpected_exception_is_a_json_500(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    def add_broken_route(app: FastAPI) -> None:
        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("kaboom secret detail")

    with (
        run_api_server(store_url, configure_app=add_broken_route) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        response = http.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "errors": {"base": [{"key": "errors.internal", "description": "internal error"}]}
    }
    assert any("unhandled error on GET /boom" in r.getMessage() for r in caplog.records)


def test_healthz(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_healthz_unmigrated_store_is_503(empty_store_url: str) -> None:
    with (
        run_api_server(empty_store_url, migrate=False) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        response = http.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        # Any route that needs the store says 503 in Cronofy's shape, not 500.
        account = get(http, "/v1/account", "csa_whatever")
        assert account.status_code == 503
        assert account.json()["errors"]["base"][0]["key"] == "errors.store_unavailable"


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        metric, _, value = line.rpartition(" ")
        if metric.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in metric for k, v in labels.items()):
            return float(value)
    return None


def test_metrics(
    api_server: ApiServer,
    http: httpx.Client,
    cronofy: pycronofy.Client,
    app_calendar: AppCalendar,
) -> None:
    cronofy.list_calendars()
    cronofy.list_calendars()
    http.patch("/v1/calendars/cal_nope", json={}, headers=app_calendar.headers)
    with api_server.store.write() as uow:
        account = uow.accounts.get_by_sub(app_calendar.sub)
        calendar = uow.calendars.get(account.pk, app_calendar.calendar_id)
        uow.events.upsert_managed(calendar.pk, "e1", content("one"))
        uow.events.upsert_managed(calendar.pk, "e2", content("two"))
        uow.events.upsert_managed(calendar.pk, "e3", content("three"))
        uow.events.delete_managed(calendar.pk, "e3")
        synced = datetime.now(UTC).replace(microsecond=0)
        uow.calendars.set_sync_status(calendar.pk, last_sync_at=synced, last_error=None)

    # An account's token does not open the operator endpoint; the client secret does.
    assert http.get("/metrics", headers=app_calendar.headers).status_code == 401
    response = http.get("/metrics", headers=OPERATOR)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        _sample(
            text,
            "calsync_http_requests_total",
            route="/v1/calendars",
            method="GET",
            status="200",
        )
        == 3.0  # two here, one by the app_calendar fixture
    )
    # Route templates, never raw ids, label the requests.
    assert (
        _sample(
            text,
            "calsync_http_requests_total",
            route="/v1/calendars/{calendar_id}",
            method="PATCH",
            status="404",
        )
        == 1.0
    )
    assert "cal_nope" not in text
    assert (
        _sample(
            text, "calsync_http_request_duration_seconds_count", route="/v1/calendars", method="GET"
        )
        == 3.0
    )
    assert _sample(text, "calsync_events_stored") == 2.0
    lag = _sample(text, "calsync_calendar_sync_lag_seconds", calendar_id=app_calendar.calendar_id)
    assert lag is not None and 0 <= lag < 60


def test_two_apps_have_separate_registries(store_url: str) -> None:
    with (
        run_api_server(store_url) as first,
        run_api_server(store_url, migrate=False) as second,
        httpx.Client(base_url=first.base_url) as http_first,
        httpx.Client(base_url=second.base_url) as http_second,
    ):
        http_first.get("/healthz")
        http_first.get("/healthz")
        http_second.get("/healthz")
        first_text = http_first.get("/metrics", headers=OPERATOR).text
        second_text = http_second.get("/metrics", headers=OPERATOR).text
    assert _sample(first_text, "calsync_http_requests_total", route="/healthz") == 2.0
    assert _sample(second_text, "calsync_http_requests_total", route="/healthz") == 1.0
