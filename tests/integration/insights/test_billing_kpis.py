"""The billing KPIs (MRR, MRR growth, customer retention) from real subscriptions made
through the services on a test clock, on SQLite and PostgreSQL; every value by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from paystead.billing.catalog import Price, Recurring, Tier
from paystead.billing.subscription_service import ItemInput
from paystead.insights.framework import Framework, Status
from paystead.insights.measure import NoData, Window, measure
from paystead.insights.measure_billing import mrr_at
from paystead.insights.scorecard import build_scorecard
from paystead.wiring import Services

T0 = datetime(2027, 1, 1, tzinfo=UTC)


def days(n: int) -> datetime:
    return T0 + timedelta(days=n)


async def price(
    services: Services,
    amount: int | None,
    *,
    currency: str = "INR",
    interval: str = "month",
    tiers: tuple[Tier, ...] = (),
) -> Price:
    product = await services.catalog.create_product(name=f"Plan {amount}", tax_rate="0")
    return await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency=currency,
            created_at=T0,
            unit_amount=amount,
            recurring=Recurring(interval=interval),
            billing_scheme="tiered" if tiers else "per_unit",
            tiers_mode="graduated" if tiers else None,
            tiers=tiers,
        )
    )


async def kpi(services: Services, key: str, start: datetime, end: datetime) -> Decimal | NoData:
    async with services.db.transaction() as conn:
        return await measure(conn, key, Window(start, end), "INR")


async def test_mrr_growth_and_retention_by_hand(services: Services) -> None:
    clock = await services.test_clocks.create(frozen_time=T0, name="kpis")

    async def subscribe(items: list[ItemInput], **extra: object) -> str:
        customer = await services.customers.create(
            email="a@example.com", name="A", payment_method="pm_card_visa", test_clock=clock.id
        )
        sub = await services.subscriptions.create(customer=customer.id, items=items, **extra)  # type: ignore[arg-type]
        return sub.id

    assert await kpi(services, "mrr", T0, days(1)) == NoData(
        "no subscriptions before the window's end"
    )
    monthly = await price(services, 99_900)
    yearly = await price(services, 1_200_000, interval="year")
    weekly = await price(services, 7_000, interval="week")
    trial_plan = await price(services, 49_900)
    usd = await price(services, 1_000, currency="USD")
    seats = await price(services, None, tiers=(Tier(5, 10_000), Tier(None, 5_000)))
    coupon = await services.coupons.create_coupon(duration="forever", percent_off="20")

    a = await subscribe([ItemInput(monthly.id)])
    await subscribe([ItemInput(yearly.id)])
    c = await subscribe([ItemInput(seats.id, 8)], coupon=coupon.id)
    await subscribe([ItemInput(usd.id)])
    await subscribe([ItemInput(weekly.id)])
    await subscribe([ItemInput(trial_plan.id)], trial_period_days=14)

    # INR per month, by hand:
    #   monthly 99,900
    #   yearly 1,200,000 / 12 = 100,000
    #   8 seats graduated: 5 x 10,000 + 3 x 5,000 = 65,000, 20 % off forever: 52,000
    #   weekly 7,000 x 52 / 12 = 30,333.33...
    #   the trial: 0
    # = 282,233.33... -> 282,233 paise; USD: 1,000 cents a month.
    async with services.db.transaction() as conn:
        report = await mrr_at(conn, days(1), "INR")
    assert [(line.currency, line.amount, line.subscriptions) for line in report.lines] == [
        ("INR", 282_233, 4),
        ("USD", 1_000, 1),
    ]
    assert report.by_status == {"active": 5, "trialing": 1}
    # No USD rate yet: no data, naming the pair, never a guess.
    missing = await kpi(services, "mrr", T0, days(1))
    assert isinstance(missing, NoData) and "USD->INR" in missing.reason

    await services.fx.record("USD", "INR", Decimal("83.25"), date(2026, 12, 31))
    # 1,000 cents = $10.00 x 83.25 = ₹832.50 = 83,250 paise; 282,233 + 83,250 = 365,483.
    assert await kpi(services, "mrr", T0, days(1)) == Decimal("3654.83")

    await services.test_clocks.advance(clock.id, frozen_time=days(5))
    await services.subscriptions.update(
        c, items=[ItemInput(seats.id, 3)], proration_behavior="none"
    )
    await services.test_clocks.advance(clock.id, frozen_time=days(10))
    await services.subscriptions.cancel(a)
    await services.test_clocks.advance(clock.id, frozen_time=days(20))

    # Day 20: the monthly plan is canceled (-99,900), 3 seats = 30,000, 20 % off = 24,000
    # (-28,000), the trial ended on day 14 and pays 49,900:
    #   100,000 + 24,000 + 30,333.33 + 49,900 = 204,233.33 -> 204,233; + 83,250 = 287,483.
    assert await kpi(services, "mrr", days(19), days(20)) == Decimal("2874.83")
    # The past is read from the history, not today's rows: day 1 still counts 8 seats.
    assert await kpi(services, "mrr", T0, days(1)) == Decimal("3654.83")
    growth = await kpi(services, "mrr_growth", days(1), days(20))
    assert growth == Decimal(287_483 - 365_483) * 100 / Decimal(365_483)  # -13.68...%
    # Paying customers on day 1: five (the trial does not pay yet); one canceled by day 20.
    assert await kpi(services, "customer_retention", days(1), days(20)) == Decimal(80)
    # Nobody left between day 11 and day 20 (the trial customer was not paying on day 11).
    assert await kpi(services, "customer_retention", days(11), days(20)) == Decimal(100)

    # MRR just before each change: the seat change (day 5, -28,000), the cancel (day 10,
    # -99,900), the trial's end (day 14, +49,900); each instant sees the state before it.
    instants = [T0, days(1), days(5), days(10), days(14), days(20), days(40)]
    async with services.db.transaction() as conn:
        series = [await mrr_at(conn, t, "INR") for t in instants]
    assert [r.total for r in series] == [0, 365_483, 365_483, 337_483, 237_583, 287_483, 287_483]

    # The framework's MRR growth against its baseline: `mrr` with `relative: true`
    # compares MRR now (day 20) with MRR at the baseline's end (launch, day 1).
    framework = Framework.model_validate(
        {
            "name": "billing",
            "baseline": {"length": "30d"},
            "phases": [
                {
                    "key": "growth",
                    "name": "Growth",
                    "starts": "0h",
                    "targets": [{"kpi": "mrr", "op": ">=", "value": "20", "relative": True}],
                }
            ],
        }
    )
    card = await build_scorecard(
        services.db, framework, launch_at=days(1), now=days(20), base_currency="INR"
    )
    (row,) = card.rows
    assert row.value == Decimal("2874.83") and row.status is Status.BREACHED
    assert row.compared == (Decimal("2874.83") - Decimal("3654.83")) / Decimal("3654.83") * 100


async def test_past_due_counts_until_dunning_cancels(services: Services) -> None:
    clock = await services.test_clocks.create(frozen_time=T0, name="dunning")
    customer = await services.customers.create(
        email="b@example.com", name="B", payment_method="pm_card_declined", test_clock=clock.id
    )
    plan = await price(services, 50_000)
    sub = await services.subscriptions.create(customer=customer.id, items=[ItemInput(plan.id)])
    assert sub.status == "past_due"  # the first charge was declined
    assert await kpi(services, "mrr", T0, days(1)) == Decimal("500.00")
    # Retries on days 1, 3, 5 and 7 all decline; then the default final action cancels.
    await services.test_clocks.advance(clock.id, frozen_time=days(8))
    assert (await services.subscriptions.get(sub.id)).status == "canceled"
    assert await kpi(services, "mrr", days(7), days(8)) == Decimal("0.00")
    assert await kpi(services, "customer_retention", days(1), days(8)) == Decimal(0)
    growth = await kpi(services, "mrr_growth", days(8), days(9))
    assert isinstance(growth, NoData) and "to grow from" in growth.reason
