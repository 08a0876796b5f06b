"""Two subscription changes that bill at once: canceling now with a final invoice, and
moving to a price with another billing interval.

**Cancel now** (``DELETE /v1/subscriptions/{id}?invoice_now=true&prorate=true``, as in
Stripe). The subscription is first played forward to now (a renewal that was due is
billed first), then, in one transaction, ended (``customer.subscription.deleted``) and
its final invoice opened (:mod:`paystead.billing.final_invoice`):

- ``invoice_now``: the metered usage to date (the final invoice waits for the meters'
  grace window so late events are on it) and the pending proration lines;
- ``prorate``: a credit for the unused time of each licensed item of an ``active`` or
  ``past_due`` subscription (a trial or a paused period was not paid for), plus the
  pending proration lines; a negative total goes to the customer's credit balance.

Neither option: ended with no invoice, pending prorations dropped (as before).

**Interval change** (``POST /v1/subscriptions/{id}`` with items whose prices bill on
another interval, e.g. monthly -> yearly): as Stripe does, the billing cycle anchor
resets to the change time. In one transaction the old items' unused time is credited
(unless ``proration_behavior=none``), the old metered items' usage to date is priced,
both are claimed with the pending prorations for an invoice at the change time, and the
new period starts ``[now, now + new interval)``; the billing run's :meth:`finish`
invoices it at once (the new items in advance, the credits, the usage) and charges it.
Only an ``active`` subscription changes interval (409 otherwise).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing import final_invoice
from paystead.billing import subscription_repo as repo
from paystead.billing.catalog import Price, amount_for_quantity
from paystead.billing.catalog_store import get_price
from paystead.billing.clocks import customer_now
from paystead.billing.subscription_repo import Subscription, SubscriptionItem, subscription_object
from paystead.billing.subscriptions import (
    Item,
    ProrationLine,
    Status,
    next_boundary,
    previous_boundary,
    prorate_change,
    transition,
)
from paystead.errors import Conflict
from paystead.events import catalog as events
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.platform.idempotency import Idempotency
from paystead.platform.schema import subscription_pending_lines, subscription_renewals

if TYPE_CHECKING:
    from paystead.billing.subscription_service import SubscriptionService

#: Statuses whose current period was paid for (or is being dunned for): prorating
#: credits their unused time.
PAID_PERIOD = (Status.ACTIVE, Status.PAST_DUE)


async def _now(svc: SubscriptionService, sub_id: str) -> datetime:
    async with svc.db.transaction() as conn:
        sub = await repo.get(conn, sub_id)
        at, _ = await customer_now(conn, sub.customer_id, svc.clock)
    return at.replace(microsecond=0)


async def _licensed(conn: AsyncConnection, sub: Subscription) -> list[Item]:
    found: list[Item] = []
    for item in sub.items:
        price = await get_price(conn, item.price_id)
        if price.recurring is not None and price.recurring.usage_type == "licensed":
            found.append(Item(price.id, item.quantity, amount_for_quantity(price, item.quantity)))
    return found


async def unused_time_credits(
    conn: AsyncConnection, sub: Subscription, at: datetime
) -> list[ProrationLine]:
    """Credits for the licensed items' time from ``at`` to the period end, on the same
    basis the period was charged (a short first period was charged from its full one)."""
    if sub.status not in PAID_PERIOD or at >= sub.current_period_end:
        return []
    full_start = previous_boundary(
        sub.billing_cycle_anchor,
        sub.interval,
        sub.interval_count,
        sub.current_period_end - timedelta(microseconds=1),
    )
    return prorate_change(
        await _licensed(conn, sub),
        [],
        period_start=min(full_start, sub.current_period_start),
        period_end=sub.current_period_end,
        at=max(at, sub.current_period_start),
    )


async def cancel_now(
    svc: SubscriptionService, sub_id: str, *, invoice_now: bool, prorate: bool
) -> Subscription:
    """End ``sub_id`` now with a final invoice (see the module docstring)."""
    await svc.run.catch_up(sub_id, await _now(svc, sub_id))
    sub = await svc.get(sub_id)
    grace = await final_invoice.usage_grace(svc.run, sub) if invoice_now else None
    if invoice_now and grace is None:
        grace = timedelta(0)  # no meter: nothing to wait for, pending lines still billed
    async with svc.db.transaction() as conn:
        sub = await repo.get(conn, sub_id, lock=True)
        at, _ = await customer_now(conn, sub.customer_id, svc.clock)
        at = at.replace(microsecond=0)
        transition(sub.status, Status.CANCELED)
        credits = await unused_time_credits(conn, sub, at) if prorate else []
        after = sub.with_(
            status=Status.CANCELED,
            canceled_at=at,
            ended_at=at,
            next_retry_at=None,
            updated_at=at,
        )
        await repo.save(conn, after)
        await record(
            conn,
            events.SUBSCRIPTION_DELETED,
            subscription_object(after),
            at=at,
            previous={"status": sub.status},
        )
        await final_invoice.open_final(conn, sub, ended_at=at, grace=grace, credits=credits, now=at)
    await final_invoice.finish(svc.run, sub_id, at)
    return await svc.get(sub_id)


async def _usage_lines(
    svc: SubscriptionService, sub: Subscription, at: datetime
) -> builtins.list[ProrationLine]:
    """The old metered items' usage from the period start to ``at``, priced (read
    before the change's transaction: the catalog and meters answer from their own)."""
    lines: builtins.list[ProrationLine] = []
    for item in sub.items:
        price: Price = await svc.catalog.get_price(item.price_id)
        recurring = price.recurring
        if recurring is None or recurring.usage_type != "metered" or not recurring.meter:
            continue
        used = await svc.run.usage.aggregate(
            customer_id=sub.customer_id,
            meter=recurring.meter,
            period_start=sub.current_period_start,
            period_end=at,
        )
        if used > 0:
            lines.append(
                ProrationLine(
                    f"{recurring.meter}: {used} used until the interval change",
                    price.id,
                    used,
                    amount_for_quantity(price, used),
                    sub.current_period_start,
                    at,
                )
            )
    return lines


async def change_interval(
    svc: SubscriptionService,
    sub_id: str,
    resolved: Sequence[tuple[Price, int]],
    *,
    proration_behavior: str,
    idem: Idempotency,
) -> Subscription:
    """Replace the items by ones on another interval, resetting the anchor to now."""
    first = resolved[0][0]
    assert first.recurring is not None
    interval, count = first.recurring.interval, first.recurring.interval_count
    at = await _now(svc, sub_id)
    await svc.run.catch_up(sub_id, at)
    before = await svc.get(sub_id)
    usage = await _usage_lines(svc, before, at)
    async with svc.db.transaction() as conn:
        resumed = await idem.begin(conn, sub_id)
        if resumed is not None:
            sub = await repo.get(conn, sub_id)
            await idem.complete(conn, sub)
            return sub
        sub = await repo.get(conn, sub_id, lock=True)
        if sub.status != Status.ACTIVE:
            raise Conflict(
                f"only an active subscription changes its billing interval; this one is "
                f"{sub.status}",
                code="illegal_transition",
                param="items",
            )
        if sub.current_period_end != before.current_period_end or at <= sub.current_period_start:
            raise Conflict(
                "the billing interval cannot change at the instant a period starts",
                code="interval_change_at_boundary",
                param="items",
            )
        credits = [] if proration_behavior == "none" else await unused_time_credits(conn, sub, at)
        new_end = next_boundary(at, interval, count, at)
        try:
            await conn.execute(
                subscription_renewals.insert().values(
                    subscription_id=sub.id,
                    boundary=at,
                    kind="renewal",
                    state="claimed",
                    period_index=sub.period_index + 1,
                    period_start=at,
                    period_end=new_end,
                    usage_start=None,  # the old items' usage is priced into `usage`
                    claimed_at=svc.clock(),
                )
            )
        except IntegrityError:
            raise Conflict(
                "the billing interval cannot change at the instant a period starts",
                code="interval_change_at_boundary",
                param="items",
            ) from None
        await _claim(conn, sub.id, [*credits, *usage], at)
        new_items = tuple(SubscriptionItem(new_id("si"), p.id, q, at) for p, q in resolved)
        await repo.replace_items(conn, sub.id, new_items)
        after = sub.with_(
            items=new_items,
            interval=interval,
            interval_count=count,
            billing_cycle_anchor=at,
            current_period_start=at,
            current_period_end=new_end,
            period_index=sub.period_index + 1,
            updated_at=at,
        )
        await repo.save(conn, after)
        await record(
            conn,
            events.SUBSCRIPTION_UPDATED,
            subscription_object(after),
            at=at,
            previous={
                "items": subscription_object(sub)["items"],
                "interval": sub.interval,
                "interval_count": sub.interval_count,
                "billing_cycle_anchor": int(sub.billing_cycle_anchor.timestamp()),
                "current_period_start": int(sub.current_period_start.timestamp()),
                "current_period_end": int(sub.current_period_end.timestamp()),
            },
        )
    await svc.run.finish(sub_id, at)
    async with svc.db.transaction() as conn:
        sub = await repo.get(conn, sub_id)
        await idem.complete(conn, sub)
    return sub


async def _claim(
    conn: AsyncConnection, sub_id: str, extra: builtins.list[ProrationLine], at: datetime
) -> None:
    """The pending prorations and ``extra`` lines, claimed for the invoice at ``at``."""
    p = subscription_pending_lines
    await conn.execute(
        p.update().where(p.c.subscription_id == sub_id, p.c.boundary.is_(None)).values(boundary=at)
    )
    if extra:
        rows: builtins.list[dict[str, Any]] = [
            {
                "subscription_id": sub_id,
                "description": li.description,
                "price_id": li.price_id,
                "quantity": li.quantity,
                "amount": li.amount,
                "period_start": li.period_start,
                "period_end": li.period_end,
                "boundary": at,
                "created_at": at,
            }
            for li in extra
        ]
        await conn.execute(p.insert(), rows)
