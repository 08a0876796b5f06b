"""The billing KPIs: MRR, MRR growth and customer retention, from paystead's own tables.

**Status history.** A subscription's state at an instant is the one its latest
``customer.subscription.*`` event before that instant carries: every change to a
subscription (create, item or quantity change, trial end, renewal, pause, resume,
dunning, cancel) records the whole object in the event log in the same transaction
(``events/outbox.py``), with ``canceled_at`` / ``ended_at``, items and quantities, at
the customer's time (its test clock's, if any). The ``subscriptions`` row only holds
the present; the event log holds every past state, so MRR a month ago counts the
quantities and statuses of a month ago.

**MRR at an instant** = for each subscription ``active`` or ``past_due`` then (past due
still renews and is being collected; ``trialing``, ``paused``, ``unpaid`` and
``canceled`` bill nothing), its licensed items' period amounts
(:func:`paystead.billing.catalog.amount_for_quantity`: per unit, package and tiered
prices), minus the coupon discounts in force for the period it is in (the billing run's
own rules: ``Coupon.applies_in`` at the period index of its latest renewal before
the instant, ``Coupon.discounts`` on the lines), normalised to a month: ``month``
/ interval_count, ``year`` / (12 x interval_count), ``week`` x 52 / 12 / interval_count,
``day`` x 365 / 12 / interval_count. Exact fractions, summed per currency and rounded
once (half up) to the minor unit. Metered items are left out (their amount is usage,
not recurring). Each currency is converted to the base currency at the rate in force
on the instant's day (``fx/``); a currency without a rate makes the KPI "no data"
naming the pair, never a guess. :func:`mrr_at` returns the breakdown with each rate.

**MRR growth** over a window = (MRR at its end - MRR at its start) / MRR at its start
x 100, both converted at the end day's rates (constant currency: exchange-rate moves
are not growth). The framework's growth *against its baseline period* is the target
``mrr`` with ``relative: true`` (scorecard.py measures MRR at the baseline's end).

**Customer retention** over a window = customers with an ``active`` or ``past_due``
subscription at its start who still have a subscription that has not ended
(any status but ``canceled``) at its end / the former x 100.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing.catalog import Price, amount_for_quantity
from paystead.billing.catalog_store import get_price
from paystead.billing.coupon_model import Coupon, Duration
from paystead.billing.subscriptions import round_half_up
from paystead.fx.service import Rate, RateNotFound, convert_at, lookup
from paystead.insights.measure import Measurement, NoData, Query, Window
from paystead.money import Money, currency
from paystead.platform.schema import coupon_redemptions, coupons, events, subscription_renewals

#: Statuses that count in MRR (and make a customer "active" for retention).
MRR_STATUSES = frozenset({"active", "past_due"})
#: A month in each interval: how many of that interval one month holds.
PER_MONTH = {
    "month": Fraction(1),
    "year": Fraction(1, 12),
    "week": Fraction(52, 12),
    "day": Fraction(365, 12),
}


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A subscription as its latest event before an instant shows it."""

    id: str
    customer: str
    status: str
    currency: str
    interval: str
    interval_count: int
    #: (price id, quantity)
    items: tuple[tuple[str, int], ...]


def _state(data: dict[str, Any]) -> SubscriptionState:
    return SubscriptionState(
        id=str(data["id"]),
        customer=str(data["customer"]),
        status=str(data["status"]),
        currency=str(data["currency"]),
        interval=str(data["interval"]),
        interval_count=int(data["interval_count"]),
        items=tuple((str(i["price"]), int(i["quantity"])) for i in data["items"]),
    )


async def states_at(conn: AsyncConnection, at: datetime) -> list[SubscriptionState]:
    """Every subscription created before ``at``, as it was just before ``at``."""
    # Rank the narrow (object, time, id) tuples first, then fetch only the winners' data:
    # sorting the JSON along with them costs several times more.
    ranked = (
        sa.select(
            events.c.id,
            sa.func.row_number()
            .over(
                partition_by=events.c.object_id,
                order_by=(events.c.created_at.desc(), events.c.id.desc()),
            )
            .label("n"),
        )
        .where(events.c.object_type == "subscription", events.c.created_at < at)
        .subquery()
    )
    latest = sa.select(ranked.c.id).where(ranked.c.n == 1)
    rows = await conn.execute(sa.select(events.c.data).where(events.c.id.in_(latest)))
    return sorted((_state(data) for (data,) in rows), key=lambda s: s.id)


@dataclass(frozen=True, slots=True)
class MrrLine:
    currency: str
    #: MRR in that currency, minor units.
    amount: int
    subscriptions: int
    #: The rate to the base currency, None when there is none on or before the day.
    rate: Rate | None
    #: ``amount`` in the base currency's minor units, None without a rate.
    converted: int | None


@dataclass(frozen=True, slots=True)
class MrrReport:
    at: datetime
    base: str
    day: date
    lines: list[MrrLine]
    #: Subscriptions that existed before ``at`` (in any status).
    known: int
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return all(line.converted is not None for line in self.lines)

    @property
    def missing(self) -> list[str]:
        return [line.currency for line in self.lines if line.converted is None]

    @property
    def total(self) -> int:
        """Base-currency minor units of the converted lines."""
        return sum(line.converted or 0 for line in self.lines)


async def _period_indexes(conn: AsyncConnection, at: datetime) -> dict[str, int]:
    """Each subscription's period index at ``at``: that of its latest renewal before it."""
    rows = await conn.execute(
        sa.select(
            subscription_renewals.c.subscription_id,
            sa.func.max(subscription_renewals.c.period_index),
        )
        .where(
            subscription_renewals.c.boundary < at,
            subscription_renewals.c.kind != "final",
        )
        .group_by(subscription_renewals.c.subscription_id)
    )
    return {str(sub): int(index) for sub, index in rows}


def _coupon(m: Any) -> Coupon:
    products = m["applies_to_products"]
    return Coupon(
        id=m["id"],
        duration=Duration(m["duration"]),
        created_at=m["created_at"],
        percent_off=Decimal(m["percent_off"]) if m["percent_off"] is not None else None,
        amount_off=m["amount_off"],
        currency=m["currency"],
        duration_in_periods=m["duration_in_periods"],
        applies_to_products=tuple(products) if products is not None else None,
    )


async def _redemptions(conn: AsyncConnection, at: datetime) -> dict[str, list[tuple[Coupon, int]]]:
    rows = await conn.execute(
        sa.select(
            coupons, coupon_redemptions.c.subscription_id, coupon_redemptions.c.start_period_index
        )
        .select_from(
            coupon_redemptions.join(coupons, coupons.c.id == coupon_redemptions.c.coupon_id)
        )
        .where(coupon_redemptions.c.redeemed_at < at)
        .order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.id)
    )
    found: dict[str, list[tuple[Coupon, int]]] = defaultdict(list)
    for row in rows:
        m = row._mapping
        found[str(m["subscription_id"])].append((_coupon(m), int(m["start_period_index"])))
    return found


def period_amount(
    state: SubscriptionState,
    prices: dict[str, Price],
    redeemed: list[tuple[Coupon, int]],
    period_index: int,
) -> int:
    """What one period of the subscription's licensed items costs, net of the coupons in
    force for ``period_index`` (the same order and rules as ``CouponService.discounts_for``)."""
    amounts: list[int] = []
    products: list[str | None] = []
    for price_id, quantity in state.items:
        price = prices[price_id]
        if price.recurring is None or price.recurring.usage_type == "metered":
            continue
        amounts.append(amount_for_quantity(price, quantity))
        products.append(price.product_id)
    discount = [0] * len(amounts)
    for coupon, start in redeemed:
        if not amounts or not coupon.applies_in(period_index, start):
            continue
        remaining = [a - d for a, d in zip(amounts, discount, strict=True)]
        for i, d in enumerate(coupon.discounts(remaining, state.currency, products)):
            discount[i] += d
    return sum(amounts) - sum(discount)


def monthly(amount: int, interval: str, interval_count: int) -> Fraction:
    """A period's amount as a month's, exactly."""
    return Fraction(amount) * PER_MONTH[interval] / interval_count


async def mrr_at(
    conn: AsyncConnection,
    at: datetime,
    base: str,
    *,
    rate_day: date | None = None,
    states: list[SubscriptionState] | None = None,
) -> MrrReport:
    """MRR just before ``at``, per currency, converted at the rates of ``rate_day``
    (``at``'s day unless given). ``states``: the subscriptions at ``at`` if already read."""
    day = rate_day or at.date()
    if states is None:
        states = await states_at(conn, at)
    by_status: dict[str, int] = defaultdict(int)
    for s in states:
        by_status[s.status] += 1
    paying = [s for s in states if s.status in MRR_STATUSES]
    indexes = await _period_indexes(conn, at) if paying else {}
    redemptions = await _redemptions(conn, at) if paying else {}
    prices: dict[str, Price] = {}
    # Whole period amounts add up per (currency, interval, count); each sum becomes a
    # month's exactly once, then each currency's total is rounded once.
    periods: dict[tuple[str, str, int], int] = defaultdict(int)
    counted: dict[str, int] = defaultdict(int)
    for s in paying:
        for price_id, _ in s.items:
            if price_id not in prices:
                prices[price_id] = await get_price(conn, price_id)
        amount = period_amount(s, prices, redemptions.get(s.id, []), indexes.get(s.id, 0))
        periods[(s.currency, s.interval, s.interval_count)] += amount
        counted[s.currency] += 1
    exact: dict[str, Fraction] = defaultdict(Fraction)
    for (code, interval, count), amount in periods.items():
        exact[code] += monthly(amount, interval, count)
    lines = []
    for code in sorted(exact):
        amount = round_half_up(exact[code])
        try:
            rate: Rate | None = await lookup(conn, code, base, day)
        except RateNotFound:
            rate = None
        converted = convert_at(Money(amount, code), rate).amount if rate is not None else None
        lines.append(MrrLine(code, amount, counted[code], rate, converted))
    return MrrReport(at, base, day, lines, len(states), dict(by_status))


def _major(minor: int | Decimal, code: str) -> Decimal:
    return Decimal(minor).scaleb(-currency(code).exponent)


def _unconverted(report: MrrReport) -> NoData:
    pairs = ", ".join(f"{code}->{report.base}" for code in report.missing)
    return NoData(
        f"no exchange rate {pairs} on or before {report.day.isoformat()}: "
        "MRR is not converted with a guessed rate"
    )


async def mrr(conn: AsyncConnection, window: Window, base: str) -> Measurement:
    """MRR at the window's end, in the base currency's major units."""
    report = await mrr_at(conn, window.end, base)
    if not report.known:
        return NoData("no subscriptions before the window's end")
    if not report.complete:
        return _unconverted(report)
    return _major(report.total, base)


async def mrr_growth(conn: AsyncConnection, window: Window, base: str) -> Measurement:
    day = window.end.date()
    start = await mrr_at(conn, window.start, base, rate_day=day)
    end = await mrr_at(conn, window.end, base, rate_day=day)
    for report in (start, end):
        if not report.complete:
            return _unconverted(report)
    if start.total == 0:
        return NoData("no MRR at the window's start to grow from")
    return Decimal(end.total - start.total) * 100 / Decimal(start.total)


async def customer_retention(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    before = await states_at(conn, window.start)
    active = {s.customer for s in before if s.status in MRR_STATUSES}
    if not active:
        return NoData("no customer with an active or past_due subscription at the window's start")
    after = await states_at(conn, window.end)
    kept = {s.customer for s in after if s.status != "canceled"} & active
    return Decimal(len(kept)) * 100 / Decimal(len(active))


QUERIES: dict[str, Query] = {
    "mrr": mrr,
    "mrr_growth": mrr_growth,
    "customer_retention": customer_retention,
}
