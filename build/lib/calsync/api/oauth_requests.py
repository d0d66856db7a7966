"""Reading the two OAuth 2 endpoints' requests: ``POST /oauth/token`` and ``/oauth/token/revoke``.

Both take their parameters either the way RFC 6749 §4.1.3 and RFC 7009 §2.1
say, as an ``application/x-www-form-urlencoded`` form (what requests-oauthlib
and every other OAuth library sends), or as a JSON object (what pycronofy
sends). The client authenticates with ``client_id``/``client_secret`` among
those parameters, or with HTTP Basic (RFC 6749 §2.3.1); a ``Bearer`` header
is ignored, since pycronofy sends whatever token it holds (or ``Bearer None``).

Every problem is answered the OAuth way (`OAuthError`): a body that cannot be
read, a repeated parameter or a bad value is ``invalid_request`` (400), bad
client credentials are ``invalid_client`` (401, with ``WWW-Authenticate:
Basic`` when they came in that header).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote_plus

import pydantic
from fastapi import Request

from calsync.api.errors import (
    OAuthError,
    is_json_media_type,
    json_error_description,
    media_type,
)

FORM = "application/x-www-form-urlencoded"
#: The parameters the two endpoints read (RFC 6749 §4.1.3, §6; RFC 7009 §2.1; Cronofy's sub).
PARAMETERS = frozenset(
    {
        "grant_type",
        "refresh_token",
        "code",
        "redirect_uri",
        "client_id",
        "client_secret",
        "token",
        "token_type_hint",
        "sub",
    }
)
JSON = "application/json"

Model = TypeVar("Model", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """``client_id``/``client_secret`` from an ``Authorization: Basic`` header.

    RFC 6749 §2.3.1 form-encodes both before joining them with ``:``, but many
    clients (``requests.auth.HTTPBasicAuth`` among them) do not; `candidates`
    offers the raw and the decoded reading, and a match on either is accepted.
    """

    client_id: str
    client_secret: str

    def candidates(self) -> list[tuple[str, str]]:
        raw = (self.client_id, self.client_secret)
        decoded = (unquote_plus(self.client_id), unquote_plus(self.client_secret))
        return [raw] if decoded == raw else [raw, decoded]


def basic_credentials(request: Request) -> BasicCredentials | None:
    """The client credentials of a ``Basic`` header; None without one (``Bearer`` is ignored)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _basic_refused("the Basic credentials are not base64 of UTF-8 text") from None
    client_id, sep, client_secret = decoded.partition(":")
    if not sep:
        raise _basic_refused("the Basic credentials have no ':' between id and secret")
    return BasicCredentials(client_id, client_secret)


def _basic_refused(description: str) -> OAuthError:
    return OAuthError(
        "invalid_client",
        status_code=401,
        description=description,
        headers={"WWW-Authenticate": 'Basic realm="calsync"'},
    )


def _invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description=description)


async def oauth_parameters(request: Request) -> dict[str, Any]:
    """The request's parameters, from a form or a JSON object (an empty body has none)."""
    body = await request.body()
    content_type = request.headers.get("content-type")
    kind = media_type(content_type)
    if kind == FORM:
        return _form_parameters(body)
    if is_json_media_type(kind):
        return _json_parameters(body)
    if not body:
        return {}
    sent = f"Content-Type {kind}" if kind else "no Content-Type header"
    raise _invalid_request(f"send the parameters as {FORM} or as {JSON}; the request had {sent}")


def _form_parameters(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid_request("the form is not UTF-8 text") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise _invalid_request("the body is not a valid form (name=value&...)") from None
    found: dict[str, Any] = {}
    for name, value in pairs:
        # RFC 6749 §3.2: a parameter MUST NOT be included more than once; §3.1:
        # unrecognized ones are ignored, repeated or not.
        if name in found and name in PARAMETERS:
            raise _invalid_request(f"the parameter {name!r} is given more than once")
        found[name] = value
    return found


def _json_parameters(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise _invalid_request(json_error_description(exc.doc, exc.pos, exc.msg)) from None
    except ValueError as exc:  # not UTF-8
        raise _invalid_request(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _invalid_request("the body must be a JSON object")
    return data


def parse_parameters(model: type[Model], parameters: Mapping[str, Any]) -> Model:
    """Validate the parameters against ``model``; all problems go in one ``invalid_request``."""
    try:
        return model.model_validate(parameters)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "request"
            message = "required" if err["type"] == "missing" else err["msg"]
            problems.append(f"{field}: {message}")
        raise _invalid_request("; ".join(problems)) from None


#: The ``client`` security scheme: HTTP Basic with the client id and secret.
CLIENT_BASIC_SCHEME = {
    "type": "http",
    "scheme": "basic",
    "description": "[api] client_id and the client secret (RFC 6749 §2.3.1); "
    "the same may instead be given as client_id and client_secret parameters.",
}


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` put in place of the ``$ref`` to them
    (inside ``openapi_extra`` a ``#/$defs/...`` reference would point nowhere)."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def form_and_json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` of an OAuth endpoint: one parameter schema under both media
    types, and client authentication by Basic or by those parameters (``{}``)."""
    schema = inline_definitions(schema)
    return {
        "requestBody": {
            "required": True,
            "content": {FORM: {"schema": schema}, JSON: {"schema": schema}},
        },
        "security": [{}, {"client": []}],
    }
