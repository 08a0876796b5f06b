"""Stripe webhooks: verify ``Stripe-Signature``, then parse the event.

``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`` where each ``v1`` is the
hex HMAC-SHA256 of ``"{t}.{raw body}"`` keyed with the endpoint's signing secret
(``whsec_...``). Any ``v1`` matching any configured secret is enough (Stripe sends one
per active secret while a secret is rolled). The timestamp must be within
``tolerance`` seconds of now, either side (stripe-python checks only the past side):
a captured request cannot be replayed later.

===========================================  ===================================
Stripe event (``data.object``)               ``EventKind``
===========================================  ===================================
payment_intent.amount_capturable_updated     ``PAYMENT_AUTHORIZED``
payment_intent.succeeded                     ``PAYMENT_CAPTURED``
payment_intent.payment_failed                ``PAYMENT_FAILED``
payment_intent.canceled                      ``PAYMENT_CANCELED``
charge.refunded (a charge)                   ``PAYMENT_REFUNDED`` (total refunded)
refund.created / refund.updated / refund.failed  by the refund's status: ``REFUND_PENDING``,
(a refund)                                   ``REFUND_SUCCEEDED``, ``REFUND_FAILED``
anything else                                ``OTHER``
===========================================  ===================================
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from paystead.errors import PaysteadError
from paystead.gateways import wire
from paystead.gateways.base import Outcome
from paystead.gateways.events import (
    EventKind,
    GatewayEvent,
    InvalidSignature,
    InvalidWebhookPayload,
    check_size,
    header,
    matches_any,
    payload_error,
    usable_secrets,
)
from paystead.gateways.stripe import transformers as t

SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE = 300

PAYMENT_INTENT_EVENTS = {
    "payment_intent.amount_capturable_updated": EventKind.PAYMENT_AUTHORIZED,
    "payment_intent.succeeded": EventKind.PAYMENT_CAPTURED,
    "payment_intent.payment_failed": EventKind.PAYMENT_FAILED,
    "payment_intent.canceled": EventKind.PAYMENT_CANCELED,
}
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
_REFUND_KINDS = {
    Outcome.PENDING: EventKind.REFUND_PENDING,
    Outcome.REFUNDED: EventKind.REFUND_SUCCEEDED,
    Outcome.DECLINED: EventKind.REFUND_FAILED,
}


def parse_signature_header(value: str) -> tuple[int, list[str]]:
    """``(t, [v1, ...])`` from the header; :class:`InvalidSignature` if malformed."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        key, sep, item_value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(item_value)
        elif key == "v1":
            signatures.append(item_value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header has no valid timestamp")
    if not signatures:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header has no v1 signature")
    return int(timestamps[0]), signatures


def verify_signature(
    body: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    clock: Callable[[], float] = time.time,
) -> int:
    """Raise :class:`InvalidSignature` unless the header signs ``body``; returns ``t``."""
    check_size(body)
    if not signature_header:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is missing")
    timestamp, signatures = parse_signature_header(signature_header)
    signed = f"{timestamp}.".encode() + body
    usable = usable_secrets(secrets)
    if not any(matches_any(signed, candidate, usable) for candidate in signatures):
        raise InvalidSignature(f"no {SIGNATURE_HEADER} signature matches the body")
    if abs(clock() - timestamp) > tolerance:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} timestamp is outside the tolerance")
    return timestamp


def _object(envelope: Mapping[str, Any]) -> dict[str, Any]:
    return wire.obj(wire.obj(envelope, "data", payload_error), "object", payload_error)


def parse_event(body: bytes) -> GatewayEvent:
    """The verified ``body`` as a typed event (call :func:`verify_signature` first)."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise payload_error("the body is not JSON") from exc
    if not isinstance(envelope, dict):
        raise payload_error("the body is not a JSON object")
    if envelope.get("object") != "event":
        raise payload_error("'object' must be 'event'")
    common: dict[str, Any] = {
        "gateway": t.GATEWAY,
        "event_id": wire.string(envelope, "id", payload_error),
        "type": wire.string(envelope, "type", payload_error),
        "occurred_at": datetime.fromtimestamp(
            wire.integer(envelope, "created", payload_error), UTC
        ),
        "raw": envelope,
    }
    name: str = common["type"]
    obj = _object(envelope)
    try:
        if name in PAYMENT_INTENT_EVENTS:
            result = t.payment_intent_result(obj, payload_error)
            return GatewayEvent(
                kind=PAYMENT_INTENT_EVENTS[name],
                payment_reference=result.reference,
                result=result,
                amount=result.amount,
                metadata=wire.str_map(obj, "metadata"),
                **common,
            )
        if name == "charge.refunded":
            currency = wire.string(obj, "currency", payload_error)
            return GatewayEvent(
                kind=EventKind.PAYMENT_REFUNDED,
                payment_reference=wire.opt_string(obj, "payment_intent", payload_error),
                amount=t.money_of(
                    wire.integer(obj, "amount_refunded", payload_error), currency, payload_error
                ),
                metadata=wire.str_map(obj, "metadata"),
                **common,
            )
        if name in REFUND_EVENTS:
            result = t.refund_result(obj, payload_error)
            return GatewayEvent(
                kind=_REFUND_KINDS.get(result.outcome, EventKind.OTHER),
                payment_reference=wire.opt_string(obj, "payment_intent", payload_error),
                refund_reference=result.reference,
                result=result,
                amount=result.amount,
                metadata=wire.str_map(obj, "metadata"),
                **common,
            )
    except InvalidWebhookPayload:
        raise
    except PaysteadError as exc:
        raise payload_error(exc.detail) from exc
    return GatewayEvent(kind=EventKind.OTHER, **common)


def verify_and_parse(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    clock: Callable[[], float] = time.time,
) -> GatewayEvent:
    verify_signature(
        body, header(headers, SIGNATURE_HEADER), secrets, tolerance=tolerance, clock=clock
    )
    return parse_event(body)
