"""Inbound gateway webhooks: signature checks and the normalized event they become.

Each connector's ``webhooks.py`` verifies the provider's signature over the **raw**
body (before any parsing: re-serialized JSON would not match), then parses the
envelope into a :class:`GatewayEvent`. A wrong or missing signature raises
:class:`InvalidSignature`; a body that is not the documented JSON raises
:class:`InvalidWebhookPayload`. Both are ``InvalidInput``: the sender's fault, answered
with a 4xx, and nothing changes.

An event is a *snapshot* of the provider's object when the event happened, and events
arrive late, twice or out of order (``payment.failed`` after ``payment.captured``).
The consumer de-duplicates on ``event_id`` and applies ``kind`` only when it moves the
payment forward in its state machine.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from paystead.errors import InvalidInput
from paystead.gateways.base import GatewayResult
from paystead.money import Money

#: Webhook bodies larger than this are refused before any work (providers send a few KiB).
MAX_WEBHOOK_BYTES = 256 * 1024


class InvalidSignature(InvalidInput):
    code = "signature_invalid"
    title = "Signature verification failed"


class InvalidWebhookPayload(InvalidInput):
    code = "webhook_payload_invalid"
    title = "Webhook payload is not valid"


def payload_error(detail: str) -> InvalidWebhookPayload:
    return InvalidWebhookPayload(detail)


class EventKind(StrEnum):
    """What an event means for our payment or refund, whatever the provider calls it."""

    PAYMENT_AUTHORIZED = "payment.authorized"
    PAYMENT_CAPTURED = "payment.captured"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_CANCELED = "payment.canceled"
    #: A charge was refunded, in full or in part; ``amount`` is the total refunded so far.
    PAYMENT_REFUNDED = "payment.refunded"
    REFUND_PENDING = "refund.pending"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    #: Verified and well-formed, but nothing we act on (``order.paid``, ``refund.created``...).
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    gateway: str
    #: The provider's event id, unique per delivery of one event (the de-duplication key).
    event_id: str
    #: The provider's event name (``payment.captured``, ``payment_intent.succeeded``).
    type: str
    kind: EventKind
    occurred_at: datetime
    #: The provider's payment object id (Razorpay ``pay_...``, Stripe ``pi_...``).
    payment_reference: str | None = None
    #: The provider's order id (Razorpay ``order_...``), the reference ``authorize`` gave.
    order_reference: str | None = None
    #: The provider's refund id (``rfnd_...``, ``re_...``) for refund events.
    refund_reference: str | None = None
    #: The object's state in the event, in the same terms a gateway call returns.
    result: GatewayResult | None = None
    amount: Money | None = None
    #: The notes/metadata we attached (``paystead_payment_id``...), to find our object.
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: The parsed envelope, for storage with the event.
    raw: Mapping[str, Any] = field(default_factory=dict)


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def matches_any(message: bytes, signature: str, secrets: Sequence[str]) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of ``message`` under any secret.

    Every secret is tried (no early exit on the first), and each comparison is constant
    time, so the time taken says nothing about which secret or how many bytes matched.
    """
    matched = False
    for secret in secrets:
        expected = hmac_sha256_hex(secret, message)
        matched |= hmac.compare_digest(expected.encode(), signature.encode())
    return matched


def usable_secrets(secrets: Sequence[str]) -> list[str]:
    usable = [s for s in secrets if s]
    if not usable:
        raise ValueError("at least one non-empty webhook secret is required")
    return usable


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (plain dicts in tests, Starlette's in the API)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def check_size(body: bytes) -> None:
    if len(body) > MAX_WEBHOOK_BYTES:
        raise InvalidWebhookPayload(f"webhook body exceeds {MAX_WEBHOOK_BYTES} bytes")
