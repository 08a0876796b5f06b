"""Standard Webhooks signatures (standardwebhooks.com), through the maintained
``standardwebhooks`` package.

A secret is ``whsec_`` + base64 of 32 random bytes. The signature covers
``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 and is sent as
``v1,<base64>``; during a rotation's grace period the old secret signs too and the
header carries both, space-separated, so a receiver holding either secret accepts.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(secrets_: Sequence[str], msg_id: str, timestamp: datetime, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,...`` per secret, space-separated."""
    at = timestamp.astimezone(UTC)
    text = body.decode()
    return " ".join(Webhook(secret).sign(msg_id, at, text) for secret in secrets_)


def headers(
    secrets_: Sequence[str], msg_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
    }
