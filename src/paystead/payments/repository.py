"""Loading and saving payments and refunds (SQLAlchemy Core), inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import NotFound
from paystead.payments.model import CaptureMethod, Payment, PaymentStatus, Refund, RefundStatus
from paystead.platform.batch import Batch
from paystead.platform.schema import payments, refunds

# Statements are built once: SQLAlchemy then reuses their compiled form, which keeps
# per-call overhead on the payment path low. Parameters are passed at execution.
_INSERT_PAYMENT = payments.insert()
_UPDATE_PAYMENT = payments.update().where(payments.c.id == sa.bindparam("b_id"))
#: Compare-and-set on the status: the update happens only if nobody (a webhook, a
#: concurrent request) moved the payment since it was read.
_UPDATE_PAYMENT_IF = payments.update().where(
    payments.c.id == sa.bindparam("b_id"), payments.c.status == sa.bindparam("b_status")
)
_SELECT_PAYMENT = sa.select(payments).where(payments.c.id == sa.bindparam("b_id"))
_SELECT_PAYMENT_FOR_UPDATE = _SELECT_PAYMENT.with_for_update()
_INSERT_REFUND = refunds.insert()
_UPDATE_REFUND = refunds.update().where(refunds.c.id == sa.bindparam("b_id"))
_UPDATE_REFUND_IF = refunds.update().where(
    refunds.c.id == sa.bindparam("b_id"), refunds.c.status == sa.bindparam("b_status")
)
_SELECT_REFUND = sa.select(refunds).where(refunds.c.id == sa.bindparam("b_id"))

_MUTABLE = (
    "status",
    "amount_captured",
    "amount_refunded",
    "amount_refund_pending",
    "gateway_reference",
    "failure_code",
    "failure_message",
    "updated_at",
    "gateway",
    "attempts",
    "next_action",
    "order_reference",
    "amount_capturing",
)


def _payment_row(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id,
        "amount": p.amount,
        "currency": p.currency,
        "customer_id": p.customer_id,
        "payment_method": p.payment_method,
        "capture_method": p.capture_method.value,
        "status": p.status.value,
        "amount_captured": p.amount_captured,
        "amount_refunded": p.amount_refunded,
        "amount_refund_pending": p.amount_refund_pending,
        "gateway": p.gateway,
        "gateway_reference": p.gateway_reference,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "description": p.description,
        "metadata": p.metadata,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "attempts": p.attempts,
        "next_action": p.next_action,
        "order_reference": p.order_reference,
        "amount_capturing": p.capturing,
        "gateway_forced": p.gateway_forced,
    }


def _payment(row: Any) -> Payment:
    m = row._mapping
    return Payment(
        id=m["id"],
        amount=int(m["amount"]),
        currency=m["currency"],
        customer_id=m["customer_id"],
        payment_method=m["payment_method"],
        capture_method=CaptureMethod(m["capture_method"]),
        status=PaymentStatus(m["status"]),
        amount_captured=int(m["amount_captured"]),
        amount_refunded=int(m["amount_refunded"]),
        amount_refund_pending=int(m["amount_refund_pending"]),
        gateway=m["gateway"],
        gateway_reference=m["gateway_reference"],
        failure_code=m["failure_code"],
        failure_message=m["failure_message"],
        description=m["description"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        attempts=m["attempts"] or [],
        next_action=m["next_action"],
        order_reference=m["order_reference"],
        capturing=None if m["amount_capturing"] is None else int(m["amount_capturing"]),
        gateway_forced=bool(m["gateway_forced"]),
    )


def _refund(row: Any) -> Refund:
    m = row._mapping
    return Refund(
        id=m["id"],
        payment_id=m["payment_id"],
        amount=int(m["amount"]),
        currency=m["currency"],
        status=RefundStatus(m["status"]),
        reason=m["reason"],
        gateway_reference=m["gateway_reference"],
        failure_code=m["failure_code"],
        failure_message=m["failure_message"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


async def insert_payment(conn: AsyncConnection | Batch, payment: Payment) -> None:
    """Insert ``payment`` in ``conn``'s transaction (or add the row, as it is now, to a batch)."""
    if isinstance(conn, Batch):
        conn.insert(payments, _payment_row(payment))
    else:
        await conn.execute(_INSERT_PAYMENT, _payment_row(payment))


async def save_payment(
    conn: AsyncConnection, payment: Payment, *, if_status: PaymentStatus | None = None
) -> bool:
    """Write the payment's mutable fields; with ``if_status``, only if the stored status
    is still that one (returns whether the row was written)."""
    row = _payment_row(payment)
    values = {"b_id": payment.id, **{k: row[k] for k in _MUTABLE}}
    if if_status is None:
        await conn.execute(_UPDATE_PAYMENT, values)
        return True
    result = await conn.execute(_UPDATE_PAYMENT_IF, {**values, "b_status": if_status.value})
    return bool(result.rowcount)


def save_payment_if(batch: Batch, payment: Payment, status: PaymentStatus) -> None:
    """:func:`save_payment` with ``if_status`` as ``batch``'s guard: the batch's other
    writes happen only if the payment was still in ``status`` (``batch.execute`` says)."""
    row = _payment_row(payment)
    batch.guard(payments, {"id": payment.id, "status": status.value}, {k: row[k] for k in _MUTABLE})


async def get_payment(
    conn: AsyncConnection, payment_id: str, *, lock: bool = False, param: str | None = None
) -> Payment:
    """Load a payment; ``lock`` takes its row lock (PostgreSQL) until the transaction ends."""
    query = _SELECT_PAYMENT_FOR_UPDATE if lock else _SELECT_PAYMENT
    row = (await conn.execute(query, {"b_id": payment_id})).first()
    if row is None:
        raise NotFound("payment", payment_id, param=param)
    return _payment(row)


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    status: PaymentStatus | None = None
    customer_id: str | None = None
    created_gte: datetime | None = None
    created_before: datetime | None = None  # exclusive


async def list_payments(
    conn: AsyncConnection,
    filters: PaymentFilter,
    *,
    limit: int,
    starting_after: str | None = None,
) -> tuple[list[Payment], bool]:
    """Newest first; ids are time-ordered, so the cursor is simply the last id seen."""
    query = sa.select(payments).order_by(payments.c.id.desc()).limit(limit + 1)
    if filters.status is not None:
        query = query.where(payments.c.status == filters.status.value)
    if filters.customer_id is not None:
        query = query.where(payments.c.customer_id == filters.customer_id)
    if filters.created_gte is not None:
        query = query.where(payments.c.created_at >= filters.created_gte)
    if filters.created_before is not None:
        query = query.where(payments.c.created_at < filters.created_before)
    if starting_after is not None:
        query = query.where(payments.c.id < starting_after)
    rows = (await conn.execute(query)).all()
    return [_payment(r) for r in rows[:limit]], len(rows) > limit


async def insert_refund(conn: AsyncConnection, refund: Refund) -> None:
    await conn.execute(
        _INSERT_REFUND,
        {
            "id": refund.id,
            "payment_id": refund.payment_id,
            "amount": refund.amount,
            "currency": refund.currency,
            "status": refund.status.value,
            "reason": refund.reason,
            "gateway_reference": refund.gateway_reference,
            "failure_code": refund.failure_code,
            "failure_message": refund.failure_message,
            "metadata": refund.metadata,
            "created_at": refund.created_at,
            "updated_at": refund.updated_at,
        },
    )


async def save_refund(
    conn: AsyncConnection, refund: Refund, *, if_status: RefundStatus | None = None
) -> bool:
    """Write the refund's mutable fields; with ``if_status``, only if the stored status
    is still that one (returns whether the row was written)."""
    values = {
        "b_id": refund.id,
        "status": refund.status.value,
        "gateway_reference": refund.gateway_reference,
        "failure_code": refund.failure_code,
        "failure_message": refund.failure_message,
        "updated_at": refund.updated_at,
    }
    if if_status is None:
        await conn.execute(_UPDATE_REFUND, values)
        return True
    result = await conn.execute(_UPDATE_REFUND_IF, {**values, "b_status": if_status.value})
    return bool(result.rowcount)


async def get_refund(conn: AsyncConnection, refund_id: str, *, lock: bool = False) -> Refund:
    query = _SELECT_REFUND.with_for_update() if lock else _SELECT_REFUND
    row = (await conn.execute(query, {"b_id": refund_id})).first()
    if row is None:
        raise NotFound("refund", refund_id)
    return _refund(row)


async def find_payment_id(
    conn: AsyncConnection, gateway: str, *, order_reference: str | None, reference: str | None
) -> str | None:
    """Our payment at ``gateway`` with that order or gateway reference, if any."""
    for column, value in (
        (payments.c.order_reference, order_reference),
        (payments.c.gateway_reference, reference),
    ):
        if value:
            found = (
                await conn.execute(
                    sa.select(payments.c.id)
                    .where(column == value, payments.c.gateway == gateway)
                    .order_by(payments.c.id)
                    .limit(1)
                )
            ).scalar()
            if found is not None:
                return str(found)
    return None


async def find_refund_id(conn: AsyncConnection, reference: str) -> str | None:
    found = (
        await conn.execute(
            sa.select(refunds.c.id).where(refunds.c.gateway_reference == reference).limit(1)
        )
    ).scalar()
    return None if found is None else str(found)


async def refunds_of(conn: AsyncConnection, payment_id: str) -> list[Refund]:
    rows = await conn.execute(
        sa.select(refunds).where(refunds.c.payment_id == payment_id).order_by(refunds.c.id)
    )
    return [_refund(r) for r in rows]
