"""An invoice got paid: the one place that says so, and what it means for its subscription.

Every route that pays an invoice in full (a charge at finalization or by ``POST
/v1/invoices/{id}/pay``, a dunning retry, the credit balance at finalization or on
``pay``, a credit note that leaves nothing due, an earlier payment settling) calls
:func:`invoice_paid` in the transaction that marks it paid. It records
``invoice.paid`` and, when the invoice belongs to a ``past_due`` or ``unpaid``
subscription that now owes nothing else, makes the subscription ``active`` again
(``customer.subscription.updated``) and ends its dunning, in the same transaction.

Lock order: the invoice row (the caller holds it), then the subscription row. Nothing
locks a subscription and then an invoice in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing import subscription_repo as repo
from paystead.billing.invoices import Invoice
from paystead.billing.subscription_repo import Subscription, subscription_object
from paystead.billing.subscriptions import Status
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.platform.schema import invoices

#: Statuses an invoice being paid brings back to ``active``.
OWING = (Status.PAST_DUE, Status.UNPAID)


async def invoice_paid(
    conn: AsyncConnection, invoice: Invoice, invoice_json: dict[str, Any], *, at: datetime
) -> Subscription | None:
    """Record ``invoice.paid`` and reactivate its subscription if nothing else is owed.

    Returns the reactivated subscription, or None when nothing changed."""
    await record(conn, catalog.INVOICE_PAID, invoice_json, at=at)
    if invoice.subscription_id is None:
        return None
    sub = await repo.get(conn, invoice.subscription_id)
    if sub.status not in OWING:  # the common case: no row lock taken
        return None
    sub = await repo.get(conn, invoice.subscription_id, lock=True)
    if sub.status not in OWING:
        return None
    if await still_owed(conn, sub.id, paid_invoice_id=invoice.id):
        return None
    return await reactivate(conn, sub, at)


async def still_owed(conn: AsyncConnection, sub_id: str, *, paid_invoice_id: str) -> bool:
    """Whether another open automatic-collection invoice of the subscription is owed
    (the invoices dunning would retry)."""
    other = (
        await conn.execute(
            sa.select(invoices.c.id)
            .where(
                invoices.c.subscription_id == sub_id,
                invoices.c.id != paid_invoice_id,
                invoices.c.status == "open",
                invoices.c.collection_method == "charge_automatically",
                invoices.c.amount_due > 0,
            )
            .limit(1)
        )
    ).first()
    return other is not None


async def reactivate(conn: AsyncConnection, sub: Subscription, at: datetime) -> Subscription:
    """``active`` again with the dunning state cleared (``customer.subscription.updated``)."""
    after = sub.with_(
        status=Status.ACTIVE,
        dunning_invoice_id=None,
        dunning_started_at=None,
        dunning_retries=0,
        next_retry_at=None,
        updated_at=at,
    )
    await repo.save(conn, after)
    await record(
        conn,
        catalog.SUBSCRIPTION_UPDATED,
        subscription_object(after),
        at=at,
        previous={"status": sub.status},
    )
    return after
