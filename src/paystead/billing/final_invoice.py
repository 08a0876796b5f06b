"""Final invoices: what a subscription still owes when it ends.

A subscription ends by ``DELETE /v1/subscriptions/{id}`` with ``invoice_now`` or
``prorate`` (:meth:`SubscriptionService.cancel`), or at its period end when it was set
to cancel then (the billing run). Either way :func:`open_final` runs in the ending
transaction: it claims the pending proration lines (and the credit for unused time, when
prorating) for this invoice and stores one ``subscription_final_invoices`` row (its
primary key, the subscription, is the once-only guard).

The invoice itself is made by :func:`finish` once ``finalize_after`` has passed: the end
plus the longest grace window of the subscription's meters when metered usage is billed
(else the end itself). A meter event stamped inside the final period but recorded late,
within the grace window, has no later invoice to land on, so the final invoice waits
for it and bills it (``UsageService.aggregate(recorded_before=)``). The billing run
finishes the rows that are due (a test clock's advance does too). The lines are the
billing run's own (:meth:`BillingRun.lines` with kind ``final``: metered usage in
arrears with coupon discounts, then the claimed proration lines); the invoice is
finalized like any other, so a negative total goes to the customer's credit balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing import subscription_repo as repo
from paystead.billing.catalog import Price
from paystead.billing.subscription_repo import Subscription
from paystead.billing.subscriptions import ProrationLine
from paystead.platform.schema import (
    subscription_final_invoices,
    subscription_pending_lines,
    subscriptions,
)

if TYPE_CHECKING:
    from paystead.billing.run import BillingRun


async def usage_grace(run: BillingRun, sub: Subscription) -> timedelta | None:
    """The longest grace window of the subscription's metered items' meters, or None
    when it has no metered item (read outside any transaction)."""
    grace: timedelta | None = None
    for item in sub.items:
        price: Price = await run.catalog.get_price(item.price_id)
        recurring = price.recurring
        if recurring is None or recurring.usage_type != "metered" or not recurring.meter:
            continue
        meter = await run.usage.meter(recurring.meter)
        grace = max(grace or timedelta(0), meter.grace)
    return grace


async def open_final(
    conn: AsyncConnection,
    sub: Subscription,
    *,
    ended_at: datetime,
    grace: timedelta | None,
    credits: Sequence[ProrationLine] = (),
    now: datetime,
) -> None:
    """In the transaction that ends ``sub``: claim its pending proration lines, add the
    ``credits`` and store the final-invoice row. ``grace`` None bills no usage."""
    pending = subscription_pending_lines
    await conn.execute(
        pending.update()
        .where(pending.c.subscription_id == sub.id, pending.c.boundary.is_(None))
        .values(boundary=ended_at)
    )
    if credits:
        await conn.execute(
            pending.insert(),
            [
                {
                    "subscription_id": sub.id,
                    "description": li.description,
                    "price_id": li.price_id,
                    "quantity": li.quantity,
                    "amount": li.amount,
                    "period_start": li.period_start,
                    "period_end": li.period_end,
                    "boundary": ended_at,
                    "created_at": now,
                }
                for li in credits
            ],
        )
    await conn.execute(
        subscription_final_invoices.insert().values(
            subscription_id=sub.id,
            ended_at=ended_at,
            usage_start=sub.current_period_start if grace is not None else None,
            period_start=sub.current_period_start,
            period_index=sub.period_index,
            finalize_after=ended_at + (grace or timedelta(0)),
            state="waiting",
            invoice_id=None,
            created_at=now,
        )
    )


async def finish(run: BillingRun, sub_id: str, now: datetime) -> str | None:
    """Make the final invoice of ``sub_id`` if it is due at ``now`` (idempotent: the
    invoice's source key is unique); its id, or None (not due, or nothing to bill)."""
    f = subscription_final_invoices
    async with run.db.transaction() as conn:
        row = (await conn.execute(sa.select(f).where(f.c.subscription_id == sub_id))).first()
        if row is None:
            return None
        if row.state != "waiting" or row.finalize_after > now:
            return str(row.invoice_id) if row.invoice_id else None
        sub = await repo.get(conn, sub_id)
        pending = list(
            await conn.execute(
                sa.select(subscription_pending_lines)
                .where(
                    subscription_pending_lines.c.subscription_id == sub_id,
                    subscription_pending_lines.c.boundary == row.ended_at,
                )
                .order_by(subscription_pending_lines.c.id)
            )
        )
    at = row.finalize_after
    period = SimpleNamespace(
        kind="final",
        usage_start=row.usage_start,
        boundary=row.ended_at,
        period_index=row.period_index,
        period_start=row.period_start,
        period_end=row.ended_at,
    )
    lines = await run.lines(sub, period, pending, recorded_before=at)
    invoice_id: str | None = None
    if lines:
        invoice = await run.issue(
            sub,
            lines,
            period_start=row.period_start,
            period_end=row.ended_at,
            source_key=f"subscription:{sub.id}:final",
            now=at,
        )
        invoice_id = invoice.id
    async with run.db.transaction() as conn:
        await conn.execute(
            f.update()
            .where(f.c.subscription_id == sub_id, f.c.state == "waiting")
            .values(state="invoiced" if invoice_id else "empty", invoice_id=invoice_id)
        )
        if invoice_id is not None:
            await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == sub_id)
                .values(latest_invoice_id=invoice_id)
            )
    return invoice_id


async def due(run: BillingRun, now: datetime, clock_id: str | None) -> list[str]:
    """Subscriptions whose final invoice is due at ``now`` (a clock's, or real-time)."""
    f, s = subscription_final_invoices, subscriptions
    on_clock = s.c.test_clock_id == clock_id if clock_id else s.c.test_clock_id.is_(None)
    async with run.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(f.c.subscription_id)
            .join(s, s.c.id == f.c.subscription_id)
            .where(f.c.state == "waiting", f.c.finalize_after <= now, on_clock)
            .order_by(f.c.finalize_after, f.c.subscription_id)
        )
        return [r.subscription_id for r in rows]
