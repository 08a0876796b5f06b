"""Objects as events carry them: the same fields and values the API shows.

``tests/unit/events`` checks each against the API's own output schema, so a webhook
receiver sees exactly what ``GET /v1/...`` returns for the object at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paystead.customers.repository import Customer
from paystead.payments.model import Payment, PaymentStatus, Refund


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def payment_object(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id,
        "object": "payment",
        "amount": p.amount,
        "currency": p.currency,
        "status": p.status.value,
        "capture_method": p.capture_method.value,
        "amount_captured": p.amount_captured,
        "amount_refunded": p.amount_refunded,
        "amount_refund_pending": p.amount_refund_pending,
        "customer": p.customer_id,
        "payment_method": p.payment_method,
        "gateway": p.gateway,
        "gateway_reference": p.gateway_reference,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "description": p.description,
        "metadata": dict(p.metadata),
        "created": unix(p.created_at),
        "updated": unix(p.updated_at),
        "next_action": p.next_action if p.status is PaymentStatus.REQUIRES_ACTION else None,
        "attempts": p.attempts,
    }


def refund_object(r: Refund) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "refund",
        "payment": r.payment_id,
        "amount": r.amount,
        "currency": r.currency,
        "status": r.status.value,
        "reason": r.reason,
        "gateway_reference": r.gateway_reference,
        "failure_code": r.failure_code,
        "failure_message": r.failure_message,
        "metadata": dict(r.metadata),
        "created": unix(r.created_at),
    }


def customer_object(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "object": "customer",
        "email": c.email,
        "name": c.name,
        "phone": c.phone,
        "metadata": dict(c.metadata),
        "created": unix(c.created_at),
        "address": c.address,
        "tax_id": c.tax_id,
        "payment_method": c.payment_method,
        "locale": c.locale,
        "test_clock": c.test_clock_id,
    }


#: Fields that change on every write and say nothing on their own; ``attempts`` only
#: grows, so its previous value is a prefix of the one the event carries.
_BOOKKEEPING = frozenset({"updated", "attempts"})


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The values in ``before`` of the fields that differ in ``after`` (Stripe's
    ``previous_attributes``)."""
    return {
        key: before.get(key)
        for key, value in after.items()
        if key not in _BOOKKEEPING and before.get(key) != value
    }
