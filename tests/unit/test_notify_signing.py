"""Both signature schemes, checked by the receivers' own libraries."""

from __future__ import annotations

import base64
import json
import time

import pycronofy
import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from calsync.notify.signing import CRONOFY_HEADER, Signer

secrets_ = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40)


def test_api_md_test_vector() -> None:
    signer = Signer(["opposable thumbs"])
    assert (
        signer.cronofy_signature(b'{"example":"well-known"}')
        == "38ArsN7+J/O8joGsgirVEdV16a/+eb+5QgHGIiuv4hk="
    )


@given(secrets_, secrets_, st.binary(max_size=200).map(lambda b: b.hex().encode()))
def test_rotation_lists_one_value_per_secret_and_pycronofy_accepts_each(
    current: str, previous: str, body: bytes
) -> None:
    header = Signer([current, previous]).headers("msg_1", 1_700_000_000, body)[CRONOFY_HEADER]
    assert len(header.split(",")) == 2
    for secret in (current, previous):
        client = pycronofy.Client(client_id="x", client_secret=secret)
        assert client.hmac_valid(header, body.decode())
    outsider = pycronofy.Client(client_id="x", client_secret=current + previous + "!")
    assert not outsider.hmac_valid(header, body.decode())


@given(secrets_, st.text(max_size=100).map(lambda t: json.dumps({"t": t}).encode()))
def test_standard_webhooks_library_verifies(secret: str, body: bytes) -> None:
    now = int(time.time())
    headers = Signer([secret, "old secret"]).headers("msg_abc", now, body)
    webhook = standardwebhooks.Webhook(base64.b64encode(secret.encode()).decode())
    webhook.verify(body, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        webhook.verify(body + b" ", headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        webhook.verify(body, {**headers, "webhook-id": "msg_other"})


def test_a_signer_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        Signer([])
    with pytest.raises(ValueError):
        Signer([""])
