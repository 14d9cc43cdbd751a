"""Standard Webhooks signatures, checked with the standardwebhooks package itself."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from service.webhooks import signing


def test_secrets_are_whsec_and_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert signing.valid_secret(secret)
    assert secret != signing.new_secret()
    assert not signing.valid_secret("whsec_c2hvcnQ=")  # too short
    assert not signing.valid_secret("nope")


def test_the_package_verifies_what_we_sign():
    secret, body = signing.new_secret(), '{"type":"comment.approved"}'
    headers = signing.signature_headers([secret], "evt-1", int(time.time()), body)
    assert Webhook(secret).verify(body.encode(), headers) == {"type": "comment.approved"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("approved", "rejected"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_during_rotation_every_secret_signs_and_either_verifies():
    old, new, body = signing.new_secret(), signing.new_secret(), "{}"
    headers = signing.signature_headers([new, old], "evt-2", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert signing.verify(old, body, headers) == {}
    assert signing.verify(new, body, headers) == {}


def test_the_timestamp_signed_is_the_one_in_the_header():
    secret, body, ts = signing.new_secret(), "{}", int(time.time())
    ours = signing.sign([secret], "evt-3", ts, body)
    assert ours == Webhook(secret).sign("evt-3", datetime.fromtimestamp(ts, UTC), body)
    # signed from the integer in the header, never from a datetime whose offset some
    # releases of the package read as another instant
    assert ours != signing.sign([secret], "evt-3", ts + 3600, body)


def test_malformed_headers_raise_verification_errors_not_value_errors():
    secret = signing.new_secret()
    headers = {"webhook-id": "x", "webhook-timestamp": str(int(time.time())),
               "webhook-signature": "garbage-without-comma"}
    # (some releases of the package raise a bare ValueError here; ours never does)
    with pytest.raises(WebhookVerificationError):
        signing.verify(secret, "{}", headers)


def test_stale_timestamps_are_refused_by_receivers():
    secret = signing.new_secret()
    headers = signing.signature_headers([secret], "evt-4", int(time.time()) - 600, "{}")
    with pytest.raises(WebhookVerificationError, match="too old"):
        signing.verify(secret, "{}", headers)


def test_ids_with_dots_are_refused():
    with pytest.raises(ValueError):
        signing.sign([signing.new_secret()], "evt.1", int(time.time()), "{}")
