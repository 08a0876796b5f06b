"""Razorpay webhooks: verify ``X-Razorpay-Signature``, then parse the event envelope.

The signature is the hex HMAC-SHA256 of the **raw** request body keyed with the
**webhook secret** (not the API key secret). After a secret rotation Razorpay retries
older events with the old signature, so several secrets may be configured and any one
matching is enough. The event id for de-duplication is the ``x-razorpay-event-id``
header. Envelope::

    {"entity": "event", "account_id": "acc_...", "event": "payment.captured",
     "contains": ["payment"], "payload": {"payment": {"entity": {...}}},
     "created_at": 1597734071}

=======================  ==========================
Razorpay event           ``EventKind``
=======================  ==========================
payment.authorized       ``PAYMENT_AUTHORIZED``
payment.captured         ``PAYMENT_CAPTURED``
payment.failed           ``PAYMENT_FAILED``
refund.processed         ``REFUND_SUCCEEDED``
refund.failed            ``REFUND_FAILED``
anything else            ``OTHER`` (verified, stored, not acted on)
=======================  ==========================
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from paystead.errors import PaysteadError
from paystead.gateways import wire
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
from paystead.gateways.razorpay import transformers as t

SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "x-razorpay-event-id"

PAYMENT_EVENTS = {
    "payment.authorized": EventKind.PAYMENT_AUTHORIZED,
    "payment.captured": EventKind.PAYMENT_CAPTURED,
    "payment.failed": EventKind.PAYMENT_FAILED,
}
REFUND_EVENTS = {
    "refund.processed": EventKind.REFUND_SUCCEEDED,
    "refund.failed": EventKind.REFUND_FAILED,
}


def verify_signature(body: bytes, signature: str | None, secrets: Sequence[str]) -> None:
    """Raise :class:`InvalidSignature` unless ``signature`` signs ``body`` under a secret."""
    check_size(body)
    if not signature:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is missing")
    if not matches_any(body, signature.strip(), usable_secrets(secrets)):
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header does not match the body")


def _entity(payload: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    wrapper = wire.opt_obj(payload, name, payload_error)
    if wrapper is None:
        return None
    return wire.obj(wrapper, "entity", payload_error)


def parse_event(body: bytes, event_id: str | None) -> GatewayEvent:
    """The verified ``body`` as a typed event (call :func:`verify_signature` first)."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise payload_error("the body is not JSON") from exc
    if not isinstance(envelope, dict):
        raise payload_error("the body is not a JSON object")
    if envelope.get("entity") != "event":
        raise payload_error("'entity' must be 'event'")
    name = wire.string(envelope, "event", payload_error)
    created = wire.integer(envelope, "created_at", payload_error)
    payload = wire.obj(envelope, "payload", payload_error)
    if event_id is None:
        # Razorpay always sends the header; without it, the body's digest still
        # de-duplicates redeliveries of the same snapshot.
        event_id = "sha256:" + hashlib.sha256(body).hexdigest()
    common: dict[str, Any] = {
        "gateway": t.GATEWAY,
        "event_id": event_id,
        "type": name,
        "occurred_at": datetime.fromtimestamp(created, UTC),
        "raw": envelope,
    }
    payment = _entity(payload, "payment")
    try:
        if name in PAYMENT_EVENTS:
            if payment is None:
                raise payload_error(f"{name} carries no payment entity")
            result = t.payment_result(payment, payload_error)
            return GatewayEvent(
                kind=PAYMENT_EVENTS[name],
                payment_reference=result.reference,
                order_reference=result.order_reference,
                result=result,
                amount=result.amount,
                metadata=wire.str_map(payment, "notes"),
                **common,
            )
        if name in REFUND_EVENTS:
            refund = _entity(payload, "refund")
            if refund is None:
                raise payload_error(f"{name} carries no refund entity")
            result = t.refund_result(refund, payload_error)
            return GatewayEvent(
                kind=REFUND_EVENTS[name],
                payment_reference=wire.string(refund, "payment_id", payload_error),
                order_reference=wire.opt_string(payment or {}, "order_id", payload_error),
                refund_reference=result.reference,
                result=result,
                amount=result.amount,
                metadata=wire.str_map(refund, "notes"),
                **common,
            )
    except InvalidWebhookPayload:
        raise
    except PaysteadError as exc:  # e.g. an unknown currency or a float amount
        raise payload_error(exc.detail) from exc
    other_id = payment.get("id") if payment is not None else None
    return GatewayEvent(
        kind=EventKind.OTHER,
        payment_reference=other_id if isinstance(other_id, str) else None,
        **common,
    )


def verify_and_parse(
    body: bytes, headers: Mapping[str, str], secrets: Sequence[str]
) -> GatewayEvent:
    """Verify the signature over the raw body, then parse it; 4xx-worthy errors raise."""
    verify_signature(body, header(headers, SIGNATURE_HEADER), secrets)
    return parse_event(body, header(headers, EVENT_ID_HEADER))
