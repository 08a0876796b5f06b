"""``invoice.upcoming``: a preview of the renewal invoice, N days before the renewal.

The billing run sends it once per period, ``PAYSTEAD_INVOICE_UPCOMING_DAYS`` (default 3;
0 turns it off) before ``current_period_end``, or at the period start when the period
is shorter than that. Only subscriptions that will renew get one: ``trialing`` (the
trial's end bills the first period), ``active`` and ``past_due``, not set to cancel at
the period end. The once-per-period guard is the primary key of
``subscription_notices`` (subscription, kind, period end), inserted in the transaction
that records the event, so two runs at the same instant send it once.

The object is Stripe's upcoming-invoice shape: ``object: invoice``, no number, the
period it will bill, and its lines before tax and discounts (licensed items in advance
and the pending proration lines; metered usage is not known yet), with ``subtotal``.
Its ``id`` is ``upcoming_`` plus the subscription id; nothing is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing.catalog import Price, amount_for_quantity
from paystead.billing.subscription_repo import Subscription
from paystead.billing.subscriptions import Status, next_boundary
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.platform.db import insert_ignoring_conflicts
from paystead.platform.schema import (
    subscription_notices,
    subscription_pending_lines,
    subscriptions,
)

if TYPE_CHECKING:
    from paystead.billing.run import BillingRun

KIND = "invoice.upcoming"
#: Statuses whose next boundary makes an invoice.
WILL_RENEW = (Status.TRIALING, Status.ACTIVE, Status.PAST_DUE)


def notice_at(sub: Subscription, days: int) -> datetime | None:
    """When the period's notice is due (sent or not), or None when it gets none."""
    if days <= 0 or sub.status not in WILL_RENEW or sub.cancel_at_period_end:
        return None
    return max(sub.current_period_end - timedelta(days=days), sub.current_period_start)


async def was_sent(conn: AsyncConnection, sub: Subscription) -> bool:
    n = subscription_notices
    found = (
        await conn.execute(
            sa.select(n.c.kind).where(
                n.c.subscription_id == sub.id,
                n.c.kind == KIND,
                n.c.period_end == sub.current_period_end,
            )
        )
    ).first()
    return found is not None


def due_clause(now: datetime, days: int) -> sa.ColumnElement[bool]:
    """SQL: a subscription whose notice for its current period is due and unsent."""
    t, n = subscriptions, subscription_notices
    if days <= 0:
        return sa.false()
    sent = (
        sa.select(n.c.kind)
        .where(
            n.c.subscription_id == t.c.id,
            n.c.kind == KIND,
            n.c.period_end == t.c.current_period_end,
        )
        .exists()
    )
    return sa.and_(
        t.c.status.in_([str(x) for x in WILL_RENEW]),
        t.c.cancel_at_period_end.is_(False),
        t.c.current_period_end <= now + timedelta(days=days),
        ~sent,
    )


async def preview(run: BillingRun, sub: Subscription) -> dict[str, Any]:
    """The renewal invoice at ``sub.current_period_end``, before tax and discounts."""
    start = sub.current_period_end
    end = next_boundary(sub.billing_cycle_anchor, sub.interval, sub.interval_count, start)
    lines: list[dict[str, Any]] = []
    for item in sub.items:
        price: Price = await run.catalog.get_price(item.price_id)
        if price.recurring is None or price.recurring.usage_type != "licensed":
            continue
        lines.append(
            {
                "kind": "subscription",
                "price": price.id,
                "quantity": item.quantity,
                "amount": amount_for_quantity(price, item.quantity),
                "period": {"start": int(start.timestamp()), "end": int(end.timestamp())},
            }
        )
    p = subscription_pending_lines
    async with run.db.transaction() as conn:
        pending = await conn.execute(
            sa.select(p)
            .where(p.c.subscription_id == sub.id, p.c.boundary.is_(None))
            .order_by(p.c.id)
        )
        for row in pending:
            lines.append(
                {
                    "kind": "proration",
                    "price": row.price_id,
                    "quantity": row.quantity,
                    "amount": int(row.amount),
                    "description": row.description,
                    "period": {
                        "start": int(row.period_start.timestamp()),
                        "end": int(row.period_end.timestamp()),
                    },
                }
            )
    return {
        "id": f"upcoming_{sub.id}",
        "object": "invoice",
        "customer": sub.customer_id,
        "subscription": sub.id,
        "currency": sub.currency,
        "collection_method": sub.collection_method,
        "period_start": int(start.timestamp()),
        "period_end": int(end.timestamp()),
        "next_payment_attempt": int(start.timestamp()),
        "lines": lines,
        "subtotal": sum(li["amount"] for li in lines),
    }


async def send(run: BillingRun, sub: Subscription, at: datetime) -> bool:
    """Record ``invoice.upcoming`` for the current period unless it was sent."""
    obj = await preview(run, sub)
    async with run.db.transaction() as conn:
        inserted = (
            await conn.execute(
                insert_ignoring_conflicts(
                    conn.dialect.name,
                    subscription_notices,
                    {
                        "subscription_id": sub.id,
                        "kind": KIND,
                        "period_end": sub.current_period_end,
                        "created_at": at,
                    },
                ).returning(subscription_notices.c.kind)
            )
        ).first()
        if inserted is None:
            return False
        await record(conn, catalog.INVOICE_UPCOMING, obj, at=at)
        return True
