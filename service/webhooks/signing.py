"""Standard Webhooks signatures, through the `standardwebhooks` package.

Two sharp edges of that package are handled here, once:
- `Webhook.sign` replaces the datetime's tzinfo with UTC instead of converting, so a
  non-UTC aware datetime signs the wrong instant. We only ever pass a datetime made from
  integer Unix seconds in UTC, and put the same seconds in `webhook-timestamp`.
- `Webhook.verify` raises a plain ValueError (not WebhookVerificationError) when the
  signature header is malformed; `verify` below turns both into WebhookVerificationError.

During a secret rotation's overlap every unexpired secret signs; the signatures are joined
by spaces, and a receiver holding any one of the secrets verifies the message.
"""

from __future__ import annotations

import base64
import binascii
import secrets as _secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32

__all__ = ["WebhookVerificationError", "new_secret", "sign", "signature_headers", "verify"]


def new_secret() -> str:
    """A fresh endpoint secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def valid_secret(secret: str) -> bool:
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        return False
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(raw) <= 64


def sign(secrets: Sequence[str], msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value: one `v1,<base64>` per secret, separated by spaces."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    if "." in msg_id:
        raise ValueError("a webhook-id must not contain '.'")
    moment = datetime.fromtimestamp(int(timestamp), UTC)
    return " ".join(Webhook(secret).sign(msg_id, moment, body) for secret in secrets)


def signature_headers(secrets: Sequence[str], msg_id: str, timestamp: int,
                      body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
    }


def verify(secret: str, body: bytes | str, headers: Mapping[str, str]) -> Any:
    """What a receiver does: the parsed JSON, or WebhookVerificationError (never ValueError).

    Checks the signature and that the timestamp is within five minutes of now.
    """
    try:
        return Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError:
        raise
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise WebhookVerificationError(f"malformed webhook headers or body: {exc}") from None
