"""What the payment and customer use cases call to record their events.

Each helper is one :func:`~paystead.events.outbox.record` (one INSERT) in the caller's
transaction, and records nothing when nothing an event describes has changed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.customers.repository import Customer
from paystead.events import catalog
from paystead.events.catalog import EventType
from paystead.events.objects import changed, customer_object, payment_object, refund_object
from paystead.events.outbox import record
from paystead.payments.model import Payment, PaymentStatus, Refund, RefundStatus
from paystead.platform.batch import Batch

_ON_PAYMENT_STATUS: dict[PaymentStatus, EventType] = {
    PaymentStatus.PROCESSING: catalog.PAYMENT_PROCESSING,
    PaymentStatus.REQUIRES_ACTION: catalog.PAYMENT_REQUIRES_ACTION,
    PaymentStatus.REQUIRES_CAPTURE: catalog.PAYMENT_REQUIRES_CAPTURE,
    PaymentStatus.SUCCEEDED: catalog.PAYMENT_SUCCEEDED,
    PaymentStatus.FAILED: catalog.PAYMENT_FAILED,
    PaymentStatus.CANCELED: catalog.PAYMENT_CANCELED,
}


def snapshot(payment: Payment) -> dict[str, Any]:
    """The payment as an event would show it; take it before changing the payment."""
    return payment_object(payment)


async def payment_created(conn: AsyncConnection | Batch, payment: Payment) -> None:
    await record(conn, catalog.PAYMENT_CREATED, payment_object(payment), at=payment.updated_at)


async def payment_changed(
    conn: AsyncConnection | Batch,
    payment: Payment,
    before: dict[str, Any],
    *,
    back_to_requires_capture: EventType = catalog.PAYMENT_REQUIRES_CAPTURE,
) -> None:
    """Record the event for a status change since ``before``; nothing if the status held.

    ``back_to_requires_capture`` names the event when a capture the gateway refused
    returns the payment to ``requires_capture``.
    """
    if before["status"] == payment.status.value:
        return
    event_type = _ON_PAYMENT_STATUS[payment.status]
    if event_type is catalog.PAYMENT_REQUIRES_CAPTURE:
        event_type = back_to_requires_capture
    after = payment_object(payment)
    await record(conn, event_type, after, at=payment.updated_at, previous=changed(before, after))


async def refund_created(conn: AsyncConnection, refund: Refund) -> None:
    await record(conn, catalog.REFUND_CREATED, refund_object(refund), at=refund.created_at)


async def refund_settled(conn: AsyncConnection, refund: Refund) -> None:
    event_type = (
        catalog.REFUND_SUCCEEDED
        if refund.status is RefundStatus.SUCCEEDED
        else catalog.REFUND_FAILED
    )
    after = refund_object(refund)
    previous: dict[str, Any] = {"status": RefundStatus.PENDING.value}
    for key in ("gateway_reference", "failure_code", "failure_message"):
        if after[key] is not None:
            previous[key] = None
    await record(conn, event_type, after, at=refund.updated_at, previous=previous)


async def customer_created(conn: AsyncConnection, customer: Customer) -> None:
    await record(conn, catalog.CUSTOMER_CREATED, customer_object(customer), at=customer.created_at)
