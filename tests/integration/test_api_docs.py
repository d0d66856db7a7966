"""``/docs`` (Swagger UI, self-contained) and the shape of ``/openapi.json``.

The fuzz test (test_api_fuzz.py) checks that the document matches the server;
these check what a reader of ``/docs`` or a client generator relies on first.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.fixtures.api import ApiServer


def test_docs_page_loads_swagger_ui_from_this_server_only(
    api_server: ApiServer, http: httpx.Client
) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    assert any(a.endswith("swagger-ui.css") for a in assets), assets
    # Nothing from a CDN: calsync is self-hosted and may have no internet at all.
    assert not re.search(r"https?://(?!127\.0\.0\.1)", page.text.replace(api_server.base_url, ""))
    assert "/openapi.json" in page.text
    for asset in assets:
        response = http.get(urljoin(f"{api_server.base_url}/docs", asset))
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_openapi_document_states_requirements_and_errors(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):  # every reference resolves inside the document
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    assert "Europe/London" in schemas["Tzid"]["enum"]
    paths = doc["paths"]
    upsert = paths["/v1/calendars/{calendar_id}/events"]["post"]
    body = upsert["requestBody"]["content"]["application/json"]["schema"]
    assert upsert["requestBody"]["required"] is True
    assert set(body["required"]) == {"event_id", "summary", "start", "end"}
    read = {p["name"]: p for p in paths["/v1/events"]["get"]["parameters"]}
    assert read["tzid"]["required"] is True and "calendar_ids[]" in read
    channel = schemas["ChannelCreate"]
    assert channel["required"] == ["callback_url"]
    assert set(schemas["CalendarCreate"]["required"]) == {"profile_id", "name"}
    batch = paths["/v1/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["required"] == ["batch"]
    assert set(batch["properties"]["batch"]["items"]["required"]) == {"method", "relative_url"}
    token = paths["/oauth/token"]["post"]["requestBody"]["content"]
    assert set(token) == {"application/x-www-form-urlencoded", "application/json"}
    # Error answers are listed with calsync's body, not FastAPI's {"detail": ...}.
    for path, operations in paths.items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert "HTTPValidationError" not in str(answers), (method, path)
            if operation.get("security") == [{"bearer": []}]:
                assert "401" in answers and "429" in answers, (method, path)
    assert "CronofyErrors" in str(paths["/v1/calendars"]["post"]["responses"]["422"])
