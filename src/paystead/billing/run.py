"""The billing run: renew what is due, clock-driven and idempotent.

:meth:`BillingRun.run_due` finds the subscriptions with something due at or before
``now`` (a period that ended, a trial that ended, a trial ending within three days, a
dunning retry) and plays each one forward step by step, each step at its own instant:
a subscription a year behind gets its twelve renewals in order, dated as they would
have been. Real-time customers are run by ``paystead serve`` (every
``PAYSTEAD_BILLING_RUN_INTERVAL_SECONDS``) and ``paystead billing run``; a test clock's
customers by advancing the clock.

**One renewal**, at boundary ``T`` (the current period's end):

1. The lines are computed: licensed items in advance for ``[T, next boundary)``
   (``amount_for_quantity``), metered items in arrears for the period that ended
   (``UsageService.aggregate``).
2. *Claim*, one transaction: insert the ``(subscription, T)`` row of
   ``subscription_renewals`` (its primary key is the per-period guard: a second run for
   the same instant fails there and bills nothing), check the subscription still ends
   its period at ``T``, claim the pending proration lines, move the period forward (or
   end the subscription when it was to cancel at period end), record the event.
3. *Invoice*: ``InvoiceService.create_draft`` with ``source_key
   subscription:{id}:{T}`` (unique as well), discounts from ``CouponService``, then
   ``finalize``, which charges the default payment method. A failed charge starts
   dunning (:mod:`paystead.billing.dunning`).

A run that dies between 2 and 3 leaves the renewal ``claimed``; a later run finishes it
once the claim is older than a lease (``RECOVER_AFTER``), with the same source key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from paystead.billing import final_invoice, upcoming
from paystead.billing import subscription_repo as repo
from paystead.billing.catalog import Price, amount_for_quantity
from paystead.billing.dunning import Dunning, payment_failed
from paystead.billing.invoice_service import DraftLine, InvoiceService
from paystead.billing.invoices import Invoice
from paystead.billing.subscription_repo import Subscription, subscription_object
from paystead.billing.subscriptions import (
    RENEWING,
    Status,
    next_boundary,
    previous_boundary,
    prorate,
)
from paystead.errors import IllegalTransition
from paystead.events import catalog as events
from paystead.events.outbox import record
from paystead.platform.db import Database
from paystead.platform.schema import (
    subscription_pending_lines,
    subscription_renewals,
    subscriptions,
)

log = logging.getLogger(__name__)

#: How long before the trial ends ``customer.subscription.trial_will_end`` is sent.
TRIAL_NOTICE = timedelta(days=3)
#: A claimed renewal older than this (by the service clock) is finished by a later run.
RECOVER_AFTER = timedelta(minutes=10)
#: Steps one subscription may take in one run (a guard against a loop, not a limit
#: anyone should meet: ten years of daily renewals).
MAX_STEPS = 3660


@dataclass
class RunReport:
    renewals: int = 0
    invoices: list[str] = field(default_factory=list)
    retries: int = 0
    notices: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "renewals": self.renewals,
            "invoices": list(self.invoices),
            "retries": self.retries,
            "notices": self.notices,
        }


def _product_ids(prices: list[Price]) -> list[str | None]:
    return [p.product_id for p in prices]


class BillingRun:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        invoices: InvoiceService,
        catalog: Any,
        usage: Any,
        coupons: Any,
        dunning: Dunning,
        upcoming_days: int = 3,
    ):
        self.db = db
        self.upcoming_days = upcoming_days
        self.clock = clock
        self.invoices = invoices
        self.catalog = catalog
        self.usage = usage
        self.coupons = coupons
        self.dunning = dunning

    # -- the run ---------------------------------------------------------------------

    async def run_due(self, now: datetime, clock_id: str | None = None) -> RunReport:
        """Play every due subscription forward to ``now``: the real-time customers, or
        with ``clock_id`` that test clock's customers only."""
        report = RunReport()
        await self._recover(clock_id, report)
        for sub_id in await self._due(now, clock_id):
            await self._play(sub_id, now, report)
        for sub_id in await final_invoice.due(self, now, clock_id):
            invoice_id = await final_invoice.finish(self, sub_id, now)
            if invoice_id is not None:
                report.invoices.append(invoice_id)
        return report

    async def catch_up(self, sub_id: str, now: datetime) -> RunReport:
        """Play one subscription forward to ``now`` (before a change that needs its
        current period: cancel with proration, an interval change)."""
        report = RunReport()
        await self._play(sub_id, now, report)
        return report

    async def run_clock(self, now: datetime, clock_id: str) -> RunReport:
        return await self.run_due(now, clock_id)

    async def _due(self, now: datetime, clock_id: str | None) -> list[str]:
        s = subscriptions
        on_clock = s.c.test_clock_id == clock_id if clock_id else s.c.test_clock_id.is_(None)
        due = sa.or_(
            sa.and_(s.c.status.in_([str(x) for x in RENEWING]), s.c.current_period_end <= now),
            s.c.next_retry_at <= now,
            sa.and_(
                s.c.status == Status.TRIALING,
                s.c.trial_will_end_sent.is_(False),
                s.c.trial_end <= now + TRIAL_NOTICE,
            ),
            upcoming.due_clause(now, self.upcoming_days),
        )
        async with self.db.transaction() as conn:
            rows = await conn.execute(sa.select(s.c.id).where(on_clock, due).order_by(s.c.id))
            return [r.id for r in rows]

    @staticmethod
    def next_step(
        sub: Subscription, now: datetime, upcoming_at: datetime | None = None
    ) -> tuple[datetime, int, str] | None:
        """The subscription's earliest due step at or before ``now``: (instant, order,
        kind); at one instant a trial notice or an upcoming-invoice notice (due at
        ``upcoming_at``, unsent), then a retry, then a renewal."""
        steps: list[tuple[datetime, int, str]] = []
        if upcoming_at is not None:
            steps.append((upcoming_at, 0, "upcoming"))
        if sub.status == Status.TRIALING and not sub.trial_will_end_sent and sub.trial_end:
            steps.append(
                (max(sub.trial_end - TRIAL_NOTICE, sub.trial_start or sub.created_at), 0, "notice")
            )
        if sub.next_retry_at is not None:
            steps.append((sub.next_retry_at, 1, "retry"))
        if sub.status in RENEWING:
            steps.append((sub.current_period_end, 2, "renewal"))
        due = [s for s in steps if s[0] <= now]
        return min(due) if due else None

    async def _play(self, sub_id: str, now: datetime, report: RunReport) -> None:
        for _ in range(MAX_STEPS):
            async with self.db.transaction() as conn:
                sub = await repo.get(conn, sub_id)
                upcoming_at = upcoming.notice_at(sub, self.upcoming_days)
                if upcoming_at is not None and await upcoming.was_sent(conn, sub):
                    upcoming_at = None
            step = self.next_step(sub, now, upcoming_at)
            if step is None:
                return
            at, _, kind = step
            if kind == "notice":
                await self._notice(sub, at, report)
            elif kind == "upcoming":
                if await upcoming.send(self, sub, at):
                    report.notices += 1
            elif kind == "retry":
                if await self.dunning.retry(sub, at=at) is not None:
                    report.retries += 1
            else:
                await self._renew(sub, at, report)
        log.error("subscription %s still due after %d steps", sub_id, MAX_STEPS)

    async def _notice(self, sub: Subscription, at: datetime, report: RunReport) -> None:
        async with self.db.transaction() as conn:
            sent = await conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == sub.id, subscriptions.c.trial_will_end_sent.is_(False))
                .values(trial_will_end_sent=True)
            )
            if sent.rowcount == 1:
                after = sub.with_(trial_will_end_sent=True)
                await record(
                    conn, events.SUBSCRIPTION_TRIAL_WILL_END, subscription_object(after), at=at
                )
                report.notices += 1

    # -- one renewal -----------------------------------------------------------------

    async def _renew(self, sub: Subscription, at: datetime, report: RunReport) -> None:
        boundary = sub.current_period_end
        if sub.cancel_at_period_end:
            kind = "final"
        elif sub.status == Status.PAUSED:
            kind = "skipped"
        elif sub.status == Status.TRIALING and sub.trial_end == boundary:
            kind = "trial_end"
        else:
            kind = "renewal"
        new_end = next_boundary(
            sub.billing_cycle_anchor, sub.interval, sub.interval_count, boundary
        )
        grace = await final_invoice.usage_grace(self, sub) if kind == "final" else None
        try:
            async with self.db.transaction() as conn:
                await conn.execute(
                    subscription_renewals.insert().values(
                        subscription_id=sub.id,
                        boundary=boundary,
                        kind=kind,
                        # the final invoice has a row of its own (billing/final_invoice.py)
                        state="claimed" if kind not in ("skipped", "final") else "empty",
                        period_index=sub.period_index + (0 if kind == "final" else 1),
                        period_start=boundary if kind != "final" else sub.current_period_start,
                        period_end=new_end if kind != "final" else boundary,
                        usage_start=sub.current_period_start
                        if kind in ("renewal", "final")
                        else None,
                        claimed_at=self.clock(),
                    )
                )
                current = await repo.get(conn, sub.id, lock=True)
                if current.current_period_end != boundary or current.status != sub.status:
                    raise _Lost
                if kind != "skipped":
                    await conn.execute(
                        subscription_pending_lines.update()
                        .where(
                            subscription_pending_lines.c.subscription_id == sub.id,
                            subscription_pending_lines.c.boundary.is_(None),
                        )
                        .values(boundary=boundary)
                    )
                if kind == "final":
                    after = current.with_(
                        status=Status.CANCELED,
                        canceled_at=current.canceled_at or boundary,
                        ended_at=boundary,
                        next_retry_at=None,
                        updated_at=at,
                    )
                    event = events.SUBSCRIPTION_DELETED
                    await final_invoice.open_final(
                        conn, current, ended_at=boundary, grace=grace, now=at
                    )
                else:
                    after = current.with_(
                        status=Status.ACTIVE if kind == "trial_end" else current.status,
                        current_period_start=boundary,
                        current_period_end=new_end,
                        period_index=current.period_index + 1,
                        updated_at=at,
                    )
                    event = events.SUBSCRIPTION_UPDATED
                await repo.save(conn, after)
                await record(
                    conn,
                    event,
                    subscription_object(after),
                    at=at,
                    previous={
                        "status": current.status,
                        "current_period_start": int(current.current_period_start.timestamp()),
                        "current_period_end": int(current.current_period_end.timestamp()),
                    },
                )
        except (IntegrityError, _Lost):
            return  # another run crossed this boundary: nothing is billed twice
        report.renewals += 1
        if kind == "final":
            invoice_id = await final_invoice.finish(self, sub.id, at)
            if invoice_id is not None:
                report.invoices.append(invoice_id)
        elif kind != "skipped":
            invoice_id = await self.finish(sub.id, boundary)
            if invoice_id is not None:
                report.invoices.append(invoice_id)

    async def finish(self, sub_id: str, boundary: datetime) -> str | None:
        """Invoice the claimed renewal ``(sub_id, boundary)`` (idempotent)."""
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(subscription_renewals).where(
                        subscription_renewals.c.subscription_id == sub_id,
                        subscription_renewals.c.boundary == boundary,
                    )
                )
            ).one()
            sub = await repo.get(conn, sub_id)
            pending = list(
                await conn.execute(
                    sa.select(subscription_pending_lines)
                    .where(
                        subscription_pending_lines.c.subscription_id == sub_id,
                        subscription_pending_lines.c.boundary == boundary,
                    )
                    .order_by(subscription_pending_lines.c.id)
                )
            )
        if row.state != "claimed":
            return str(row.invoice_id) if row.invoice_id else None
        lines = await self.lines(sub, row, pending)
        invoice_id: str | None = None
        invoice: Any = None
        if lines:
            invoice = await self.issue(
                sub,
                lines,
                period_start=row.period_start,
                period_end=row.period_end,
                source_key=f"subscription:{sub.id}:{boundary.isoformat()}",
                now=boundary,
            )
            invoice_id = invoice.id
        async with self.db.transaction() as conn:
            await conn.execute(
                subscription_renewals.update()
                .where(
                    subscription_renewals.c.subscription_id == sub_id,
                    subscription_renewals.c.boundary == boundary,
                )
                .values(state="invoiced" if invoice_id else "empty", invoice_id=invoice_id)
            )
            if invoice_id is not None:
                await conn.execute(
                    subscriptions.update()
                    .where(subscriptions.c.id == sub_id)
                    .values(latest_invoice_id=invoice_id)
                )
        if invoice_id is not None and payment_failed(invoice):
            await self.dunning.start(sub_id, invoice_id, at=boundary)
        return invoice_id

    async def issue(
        self,
        sub: Subscription,
        lines: list[DraftLine],
        *,
        period_start: datetime,
        period_end: datetime,
        source_key: str,
        now: datetime,
    ) -> Invoice:
        """Draft (once per ``source_key``) and finalize a subscription's invoice; a run
        that lost the race to a concurrent one returns the invoice that one finalized."""
        invoice = await self.invoices.create_draft(
            customer_id=sub.customer_id,
            currency=sub.currency,
            lines=lines,
            subscription_id=sub.id,
            period_start=period_start,
            period_end=period_end,
            collection_method=sub.collection_method,
            days_until_due=sub.days_until_due,
            source_key=source_key,
            now=now,
        )
        if invoice.status != "draft":
            return invoice
        try:
            return await self.invoices.finalize(invoice.id, now=now)
        except IllegalTransition:  # a concurrent run finalized it first
            return await self.invoices.get(invoice.id)

    async def lines(
        self,
        sub: Subscription,
        row: Any,
        pending: list[Any],
        *,
        recorded_before: datetime | None = None,
    ) -> list[DraftLine]:
        """The invoice lines of a renewal (or final) row: licensed items in advance,
        metered usage in arrears (``recorded_before``: see ``UsageService.aggregate``),
        coupon discounts on both, then the claimed proration lines."""
        kind = row.kind
        charged: list[DraftLine] = []
        prices: list[Price] = []
        for item in sub.items:
            price: Price = await self.catalog.get_price(item.price_id)
            recurring = price.recurring
            metered = recurring is not None and recurring.usage_type == "metered"
            name = price.nickname or (await self.catalog.get_product(price.product_id)).name
            if not metered and kind in ("initial", "renewal", "trial_end"):
                amount = amount_for_quantity(price, item.quantity)
                full_start = previous_boundary(
                    sub.billing_cycle_anchor,
                    sub.interval,
                    sub.interval_count,
                    row.period_end - timedelta(microseconds=1),
                )
                if row.period_start > full_start:  # a short first period: prorated
                    amount = prorate(
                        amount, start=full_start, end=row.period_end, at=row.period_start
                    )
                line = DraftLine(
                    description=f"{item.quantity} x {name}",
                    quantity=item.quantity,
                    amount=amount,
                    price_id=price.id,
                    period_start=row.period_start,
                    period_end=row.period_end,
                    kind="subscription",
                )
            elif (
                metered
                and row.usage_start is not None
                and recurring is not None
                and recurring.meter
            ):
                used = await self.usage.aggregate(
                    customer_id=sub.customer_id,
                    meter=recurring.meter,
                    period_start=row.usage_start,
                    period_end=row.boundary,
                    recorded_before=recorded_before,
                )
                if used <= 0:
                    continue
                line = DraftLine(
                    description=f"{name}: {used} used",
                    quantity=used,
                    amount=amount_for_quantity(price, used),
                    price_id=price.id,
                    period_start=row.usage_start,
                    period_end=row.boundary,
                    kind="usage",
                )
            else:
                continue
            charged.append(line)
            prices.append(price)
        if charged and self.coupons is not None:
            discounts = await self.coupons.discounts_for(
                subscription_id=sub.id,
                period_index=row.period_index,
                amounts=[li.amount for li in charged],
                currency=sub.currency,
                now=row.boundary,
                product_ids=_product_ids(prices),
            )
            charged = [
                DraftLine(**{**li.__dict__, "discount_amount": d})
                for li, d in zip(charged, discounts, strict=True)
            ]
        prorations = [
            DraftLine(
                description=p.description,
                quantity=p.quantity,
                amount=p.amount,
                price_id=p.price_id,
                period_start=p.period_start,
                period_end=p.period_end,
                kind="proration",
            )
            for p in pending
        ]
        return charged + prorations

    async def _recover(self, clock_id: str | None, report: RunReport) -> None:
        r, s = subscription_renewals, subscriptions
        on_clock = s.c.test_clock_id == clock_id if clock_id else s.c.test_clock_id.is_(None)
        async with self.db.transaction() as conn:
            stale = list(
                await conn.execute(
                    sa.select(r.c.subscription_id, r.c.boundary)
                    .join(s, s.c.id == r.c.subscription_id)
                    .where(
                        r.c.state == "claimed",
                        r.c.claimed_at < self.clock() - RECOVER_AFTER,
                        on_clock,
                    )
                    .order_by(r.c.boundary)
                )
            )
        for row in stale:
            log.warning("finishing the renewal of %s at %s claimed by a run that stopped", *row)
            invoice_id = await self.finish(row.subscription_id, row.boundary)
            if invoice_id is not None:
                report.invoices.append(invoice_id)


class _Lost(Exception):
    """Another run moved the subscription first (rolls the claim back)."""


async def run_periodically(
    run: BillingRun, clock: Callable[[], datetime], *, interval: float, stop: asyncio.Event
) -> None:
    """``paystead serve``'s billing loop: the real-time customers, every ``interval`` s."""
    while not stop.is_set():
        try:
            report = await run.run_due(clock())
            if report.renewals or report.retries:
                log.info("billing run: %s", report.to_json())
        except Exception:  # keep the loop alive; the next run retries
            log.exception("billing run failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
