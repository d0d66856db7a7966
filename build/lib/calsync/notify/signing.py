"""Webhook signatures: Cronofy's header and the Standard Webhooks headers.

* ``Cronofy-HMAC-SHA256``: Base64(HMAC-SHA256(key = client secret, message =
  raw body)), one value per active secret, comma-separated (rotation), which
  is what pycronofy's ``Client.hmac_valid`` checks.
* Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id`` (the
  delivery's id, the same on every retry), ``webhook-timestamp`` (this
  attempt, Unix seconds) and ``webhook-signature``: ``v1,<Base64 HMAC of
  "{id}.{timestamp}.{body}">``, space-separated per secret. The key is the
  client secret's UTF-8 bytes, so a receiver verifies with
  ``standardwebhooks.Webhook(base64(client_secret))``.

The first secret is the current one (``[api] client_secret_file``); the
others (``[api] previous_client_secret_files``) are still signed with during a
rotation, so receivers that know only an old secret keep verifying until they
have switched. Remove an old file from the list once they have.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from calsync.config import Settings

CRONOFY_HEADER = "Cronofy-HMAC-SHA256"


def signing_secrets(settings: Settings) -> tuple[str, ...]:
    """The active signing secrets, current first, duplicates dropped.

    Empty when ``[api] client_secret_file`` is not set: previous secrets alone
    sign nothing, since no client could be using them for new channels."""
    current = settings.api.client_secret_file
    if current is None or not current.reveal():
        return ()
    active = [current.reveal()]
    for previous in settings.api.previous_client_secret_files:
        value = previous.reveal()
        if value and value not in active:
            active.append(value)
    return tuple(active)


def _hmac_b64(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs notification bodies with every active secret."""

    secrets: Sequence[str]

    def __post_init__(self) -> None:
        if not self.secrets or any(not s for s in self.secrets):
            raise ValueError("a Signer needs at least one non-empty secret")

    def cronofy_signature(self, body: bytes) -> str:
        return ",".join(_hmac_b64(secret, body) for secret in self.secrets)

    def standard_signature(self, webhook_id: str, timestamp: int, body: bytes) -> str:
        message = f"{webhook_id}.{timestamp}.".encode() + body
        return " ".join(f"v1,{_hmac_b64(secret, message)}" for secret in self.secrets)

    def headers(self, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        return {
            CRONOFY_HEADER: self.cronofy_signature(body),
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.standard_signature(webhook_id, timestamp, body),
        }
