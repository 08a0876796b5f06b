"""Subscription use cases: create, change with proration, pause, resume, cancel.

Every action takes "now" from the customer's test clock when it has one
(:func:`paystead.billing.clocks.customer_now`), else from the service clock. Creation
without a trial invoices the first period at once through the billing run's
:meth:`~paystead.billing.run.BillingRun.finish` (the same path renewals take), so the
first charge, its idempotency and dunning behave like any renewal.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing import subscription_changes
from paystead.billing import subscription_repo as repo
from paystead.billing.catalog import Price, amount_for_quantity
from paystead.billing.catalog_store import get_price
from paystead.billing.clocks import customer_now
from paystead.billing.dunning import payment_failed
from paystead.billing.invoice_service import DraftLine
from paystead.billing.run import BillingRun
from paystead.billing.subscription_repo import Subscription, SubscriptionItem, subscription_object
from paystead.billing.subscriptions import (
    Item,
    Status,
    next_boundary,
    prorate_change,
    transition,
)
from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events import catalog as events
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.platform.db import Database
from paystead.platform.idempotency import Idempotency, NoIdempotency
from paystead.platform.schema import subscription_pending_lines, subscription_renewals

COLLECTION_METHODS = ("charge_automatically", "send_invoice")
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
MAX_TRIAL_DAYS = 730
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class ItemInput:
    price: str
    quantity: int = 1


class SubscriptionService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        catalog: Any,
        coupons: Any,
        run: BillingRun,
    ):
        self.db = db
        self.clock = clock
        self.catalog = catalog
        self.coupons = coupons
        self.run = run

    # -- validation ------------------------------------------------------------------

    async def _prices(self, items: Sequence[ItemInput]) -> list[tuple[Price, int]]:
        """The items' prices, checked: recurring, one currency, one interval, no
        duplicates, quantities 0..MAX_QUANTITY; errors name ``items[i].field``."""
        if not items:
            raise InvalidInput("a subscription needs at least one item", param="items")
        if len(items) > 20:
            raise InvalidInput("at most 20 items", param="items")
        resolved: list[tuple[Price, int]] = []
        for i, item in enumerate(items):
            if type(item.quantity) is not int or not 0 <= item.quantity <= MAX_QUANTITY:
                raise InvalidInput(
                    f"quantity must be an integer from 0 to {MAX_QUANTITY}",
                    code="quantity_invalid",
                    param=f"items[{i}].quantity",
                )
            try:
                price: Price = await self.catalog.get_price(item.price)
            except NotFound:
                raise NotFound("price", item.price, param=f"items[{i}].price") from None
            if price.recurring is None:
                raise InvalidInput(
                    "a subscription item needs a recurring price", param=f"items[{i}].price"
                )
            if not price.active:
                raise InvalidInput("the price is not active", param=f"items[{i}].price")
            if any(p.id == price.id for p, _ in resolved):
                raise InvalidInput("each price may appear once", param=f"items[{i}].price")
            if resolved:
                first = resolved[0][0]
                if price.currency != first.currency:
                    raise InvalidInput(
                        f"all items must share one currency: {price.currency} is not "
                        f"{first.currency}",
                        code="currency_mismatch",
                        param=f"items[{i}].price",
                    )
                assert first.recurring is not None
                if (price.recurring.interval, price.recurring.interval_count) != (
                    first.recurring.interval,
                    first.recurring.interval_count,
                ):
                    raise InvalidInput(
                        "all items must share one billing interval", param=f"items[{i}].price"
                    )
            resolved.append((price, item.quantity))
        return resolved

    # -- create ----------------------------------------------------------------------

    async def create(
        self,
        *,
        customer: str,
        items: Sequence[ItemInput],
        trial_period_days: int | None = None,
        coupon: str | None = None,
        promotion_code: str | None = None,
        collection_method: str = "charge_automatically",
        days_until_due: int | None = None,
        billing_cycle_anchor: datetime | None = None,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency | None = None,
    ) -> Subscription:
        idem = idem or NoIdempotency()
        if collection_method not in COLLECTION_METHODS:
            raise InvalidInput(
                "collection_method must be charge_automatically or send_invoice",
                param="collection_method",
            )
        if trial_period_days is not None and not 0 <= trial_period_days <= MAX_TRIAL_DAYS:
            raise InvalidInput(
                f"trial_period_days must be 0..{MAX_TRIAL_DAYS}", param="trial_period_days"
            )
        if coupon is not None and promotion_code is not None:
            raise InvalidInput("give a coupon or a promotion_code, not both", param="coupon")
        if trial_period_days and billing_cycle_anchor is not None:
            raise InvalidInput(
                "a trial sets the billing cycle anchor: give one or the other",
                param="billing_cycle_anchor",
            )
        if collection_method == "send_invoice" and days_until_due is None:
            days_until_due = 30
        resolved = await self._prices(items)
        first = resolved[0][0]
        assert first.recurring is not None
        interval, count = first.recurring.interval, first.recurring.interval_count
        sub_id = new_id("sub")
        async with self.db.transaction() as conn:
            now, clock_id = await customer_now(conn, customer, self.clock)
            now = now.replace(microsecond=0)
            resumed = await idem.begin(conn, sub_id)
            if resumed is not None:
                sub = await repo.get(conn, resumed)
            else:
                trial_end = None
                if trial_period_days:
                    trial_end = now + timedelta(days=trial_period_days)
                    anchor, period_end = trial_end, trial_end
                elif billing_cycle_anchor is not None:
                    anchor = billing_cycle_anchor.replace(microsecond=0)
                    if anchor.tzinfo is None or anchor <= now:
                        raise InvalidInput(
                            "billing_cycle_anchor must be a future time",
                            param="billing_cycle_anchor",
                        )
                    if next_boundary(anchor, interval, count, now) != anchor:
                        raise InvalidInput(
                            "billing_cycle_anchor must fall within one billing interval from now",
                            param="billing_cycle_anchor",
                        )
                    period_end = anchor
                else:
                    anchor = now
                    period_end = next_boundary(anchor, interval, count, now)
                sub = Subscription(
                    id=sub_id,
                    customer_id=customer,
                    status=Status.TRIALING if trial_end else Status.ACTIVE,
                    currency=first.currency,
                    collection_method=collection_method,
                    days_until_due=days_until_due,
                    interval=interval,
                    interval_count=count,
                    billing_cycle_anchor=anchor,
                    current_period_start=now,
                    current_period_end=period_end,
                    trial_start=now if trial_end else None,
                    trial_end=trial_end,
                    test_clock_id=clock_id,
                    metadata=metadata or {},
                    created_at=now,
                    updated_at=now,
                    items=tuple(SubscriptionItem(new_id("si"), p.id, q, now) for p, q in resolved),
                )
                await repo.insert(conn, sub)
                if coupon is not None or promotion_code is not None:
                    redemption = await self.coupons.redeem(
                        subscription_id=sub.id,
                        customer_id=customer,
                        currency=sub.currency,
                        coupon=coupon,
                        promotion_code=promotion_code,
                        now=now,
                        conn=conn,
                    )
                    sub = sub.with_(coupon=redemption.coupon_id)
                    await repo.save(conn, sub)
                if trial_end is None:
                    await conn.execute(
                        subscription_renewals.insert().values(
                            subscription_id=sub.id,
                            boundary=now,
                            kind="initial",
                            state="claimed",
                            period_index=0,
                            period_start=now,
                            period_end=period_end,
                            usage_start=None,
                            claimed_at=self.clock(),
                        )
                    )
                await record(conn, events.SUBSCRIPTION_CREATED, subscription_object(sub), at=now)
        if sub.trial_end is None:
            await self.run.finish(sub.id, sub.created_at)
        async with self.db.transaction() as conn:
            sub = await repo.get(conn, sub.id)
            await idem.complete(conn, sub)
        return sub

    # -- read ------------------------------------------------------------------------

    async def get(self, sub_id: str) -> Subscription:
        async with self.db.transaction() as conn:
            return await repo.get(conn, sub_id)

    async def list(
        self,
        *,
        customer: str | None = None,
        status: str | None = None,
        limit: int = 10,
        starting_after: str | None = None,
    ) -> tuple[list[Subscription], bool]:
        if status is not None and status not in {s.value for s in Status}:
            raise InvalidInput(f"unknown status {status!r}", param="status")
        async with self.db.transaction() as conn:
            return await repo.list_(
                conn, customer=customer, status=status, limit=limit, starting_after=starting_after
            )

    # -- change ----------------------------------------------------------------------

    async def update(
        self,
        sub_id: str,
        *,
        items: Sequence[ItemInput] | None = None,
        proration_behavior: str = "create_prorations",
        cancel_at_period_end: bool | None = None,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency | None = None,
    ) -> Subscription:
        """Replace the items (prorated per ``proration_behavior``), set or clear
        ``cancel_at_period_end``, or replace the metadata."""
        idem = idem or NoIdempotency()
        if proration_behavior not in PRORATION_BEHAVIORS:
            raise InvalidInput(
                "proration_behavior must be create_prorations, none or always_invoice",
                param="proration_behavior",
            )
        resolved = await self._prices(items) if items is not None else None
        if resolved is not None and await self._changes_interval(sub_id, resolved):
            sub = await subscription_changes.change_interval(
                self, sub_id, resolved, proration_behavior=proration_behavior, idem=idem
            )
            if cancel_at_period_end is None and metadata is None:
                return sub
            return await self.update(
                sub_id, cancel_at_period_end=cancel_at_period_end, metadata=metadata
            )
        immediate: builtins.list[DraftLine] = []
        change_key = new_id("subchg")
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, sub_id)
            sub = await repo.get(conn, sub_id, lock=True)
            at, _ = await customer_now(conn, sub.customer_id, self.clock)
            at = at.replace(microsecond=0)
            if resumed is None:
                if sub.status in (Status.CANCELED,):
                    raise Conflict(
                        "a canceled subscription cannot change", code="subscription_canceled"
                    )
                after = sub.with_(updated_at=at)
                previous: dict[str, Any] = {}
                if resolved is not None:
                    if sub.status in (Status.PAUSED, Status.UNPAID):
                        raise Conflict(
                            f"a {sub.status} subscription's items cannot change",
                            code="illegal_transition",
                        )
                    self._check_compatible(sub, resolved)
                    lines = await self._proration(conn, sub, resolved, at, proration_behavior)
                    new_items = tuple(
                        SubscriptionItem(new_id("si"), p.id, q, at) for p, q in resolved
                    )
                    await repo.replace_items(conn, sub.id, new_items)
                    previous["items"] = subscription_object(sub)["items"]
                    after = after.with_(items=new_items)
                    if proration_behavior == "create_prorations":
                        await self._pend(conn, sub.id, lines, at)
                    elif proration_behavior == "always_invoice":
                        immediate = [
                            DraftLine(
                                description=li.description,
                                quantity=li.quantity,
                                amount=li.amount,
                                price_id=li.price_id,
                                period_start=li.period_start,
                                period_end=li.period_end,
                                kind="proration",
                            )
                            for li in lines
                        ]
                if cancel_at_period_end is not None:
                    previous["cancel_at_period_end"] = sub.cancel_at_period_end
                    after = after.with_(
                        cancel_at_period_end=cancel_at_period_end,
                        canceled_at=at if cancel_at_period_end else None,
                    )
                if metadata is not None:
                    previous["metadata"] = sub.metadata
                    after = after.with_(metadata=metadata)
                await repo.save(conn, after)
                await record(
                    conn,
                    events.SUBSCRIPTION_UPDATED,
                    subscription_object(after),
                    at=at,
                    previous=previous,
                )
        if immediate:
            invoice = await self.run.invoices.create_draft(
                customer_id=sub.customer_id,
                currency=sub.currency,
                lines=immediate,
                subscription_id=sub.id,
                period_start=at,
                period_end=sub.current_period_end,
                collection_method=sub.collection_method,
                days_until_due=sub.days_until_due,
                source_key=f"subscription:{sub.id}:change:{change_key}",
                now=at,
            )
            if invoice.status == "draft":
                invoice = await self.run.invoices.finalize(invoice.id, now=at)
            async with self.db.transaction() as conn:
                current = await repo.get(conn, sub.id, lock=True)
                await repo.save(conn, current.with_(latest_invoice_id=invoice.id))
            if payment_failed(invoice):
                await self.run.dunning.start(sub.id, invoice.id, at=at)
        async with self.db.transaction() as conn:
            sub = await repo.get(conn, sub_id)
            await idem.complete(conn, sub)
        return sub

    async def _changes_interval(
        self, sub_id: str, resolved: builtins.list[tuple[Price, int]]
    ) -> bool:
        """Whether the new prices bill on another interval than the subscription."""
        sub = await self.get(sub_id)
        recurring = resolved[0][0].recurring
        assert recurring is not None
        return (recurring.interval, recurring.interval_count) != (sub.interval, sub.interval_count)

    @staticmethod
    def _check_compatible(sub: Subscription, resolved: builtins.list[tuple[Price, int]]) -> None:
        for i, (price, _) in enumerate(resolved):
            assert price.recurring is not None
            if price.currency != sub.currency:
                raise InvalidInput(
                    f"the subscription bills in {sub.currency}, the price in {price.currency}",
                    code="currency_mismatch",
                    param=f"items[{i}].price",
                )
            if (price.recurring.interval, price.recurring.interval_count) != (
                sub.interval,
                sub.interval_count,
            ):
                raise InvalidInput(
                    "a new price must keep the subscription's billing interval",
                    param=f"items[{i}].price",
                )

    async def _proration(
        self,
        conn: AsyncConnection,
        sub: Subscription,
        resolved: builtins.list[tuple[Price, int]],
        at: datetime,
        behavior: str,
    ) -> builtins.list[Any]:
        """Proration lines for replacing the licensed items (none in a trial: it is free)."""
        if behavior == "none" or sub.status == Status.TRIALING:
            return []
        old: builtins.list[Item] = []
        for item in sub.items:
            price = await get_price(conn, item.price_id)  # in this transaction
            if price.recurring is not None and price.recurring.usage_type == "licensed":
                old.append(Item(price.id, item.quantity, amount_for_quantity(price, item.quantity)))
        new = [
            Item(p.id, q, amount_for_quantity(p, q))
            for p, q in resolved
            if p.recurring is not None and p.recurring.usage_type == "licensed"
        ]
        return prorate_change(
            old,
            new,
            period_start=sub.current_period_start,
            period_end=sub.current_period_end,
            at=at,
        )

    @staticmethod
    async def _pend(conn: Any, sub_id: str, lines: builtins.list[Any], at: datetime) -> None:
        if lines:
            await conn.execute(
                subscription_pending_lines.insert(),
                [
                    {
                        "subscription_id": sub_id,
                        "description": li.description,
                        "price_id": li.price_id,
                        "quantity": li.quantity,
                        "amount": li.amount,
                        "period_start": li.period_start,
                        "period_end": li.period_end,
                        "boundary": None,
                        "created_at": at,
                    }
                    for li in lines
                ],
            )

    async def pending_lines(self, sub_id: str) -> builtins.list[dict[str, Any]]:
        """Proration lines not yet invoiced (the next renewal bills them)."""
        t = subscription_pending_lines
        async with self.db.transaction() as conn:
            rows = await conn.execute(
                sa.select(t)
                .where(t.c.subscription_id == sub_id, t.c.boundary.is_(None))
                .order_by(t.c.id)
            )
            return [
                {
                    "description": r.description,
                    "price": r.price_id,
                    "amount": r.amount,
                    "quantity": r.quantity,
                }
                for r in rows
            ]

    async def _move(self, sub_id: str, target: Status, **changes: Any) -> Subscription:
        async with self.db.transaction() as conn:
            sub = await repo.get(conn, sub_id, lock=True)
            at, _ = await customer_now(conn, sub.customer_id, self.clock)
            at = at.replace(microsecond=0)
            transition(sub.status, target)
            values = {k: (at if v is _NOW else v) for k, v in changes.items()}
            after = sub.with_(status=target, updated_at=at, **values)
            if target == Status.CANCELED:
                after = after.with_(next_retry_at=None)
            await repo.save(conn, after)
            event = (
                events.SUBSCRIPTION_DELETED
                if target == Status.CANCELED
                else events.SUBSCRIPTION_UPDATED
            )
            await record(
                conn, event, subscription_object(after), at=at, previous={"status": sub.status}
            )
            return after

    async def pause(self, sub_id: str) -> Subscription:
        """Paused: periods still advance at their boundaries, but nothing is invoiced."""
        return await self._move(sub_id, Status.PAUSED, paused_at=_NOW)

    async def resume(self, sub_id: str) -> Subscription:
        """Active again; billing restarts with the next renewal."""
        sub = await self.get(sub_id)
        if sub.status != Status.PAUSED:
            raise Conflict(f"a {sub.status} subscription is not paused", code="illegal_transition")
        return await self._move(sub_id, Status.ACTIVE, paused_at=None)

    async def cancel(
        self, sub_id: str, *, invoice_now: bool = False, prorate: bool = False
    ) -> Subscription:
        """Canceled now. ``invoice_now``: a final invoice with the metered usage to date
        and the pending prorations; ``prorate``: a credit for the unused time on it
        (:mod:`paystead.billing.subscription_changes`). Neither: no further invoice,
        pending prorations dropped."""
        if invoice_now or prorate:
            return await subscription_changes.cancel_now(
                self, sub_id, invoice_now=invoice_now, prorate=prorate
            )
        return await self._move(sub_id, Status.CANCELED, canceled_at=_NOW, ended_at=_NOW)


_NOW = object()
