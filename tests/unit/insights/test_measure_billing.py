"""The pure part of the billing KPIs: normalising to a month and a period's net amount."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

from paystead.billing.catalog import Price, Recurring, Tier
from paystead.billing.coupon_model import Coupon, Duration
from paystead.insights.measure_billing import SubscriptionState, monthly, period_amount

T = datetime(2027, 1, 1, tzinfo=UTC)


def test_monthly_normalises_every_interval_exactly() -> None:
    assert monthly(99_900, "month", 1) == 99_900
    assert monthly(99_900, "month", 3) == Fraction(33_300)
    assert monthly(1_200_000, "year", 1) == 100_000
    assert monthly(1_200_000, "year", 2) == 50_000
    assert monthly(7_000, "week", 1) == Fraction(7_000 * 52, 12)  # 30,333.33...
    assert monthly(7_000, "week", 2) == Fraction(7_000 * 52, 24)
    assert monthly(1_000, "day", 1) == Fraction(365_000, 12)  # 30,416.66...


def _price(price_id: str, *, metered: bool = False, **kwargs: object) -> Price:
    usage = Recurring(usage_type="metered", meter="calls") if metered else Recurring()
    return Price(
        id=price_id, product_id=f"prod_{price_id}", currency="INR", created_at=T, recurring=usage,
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_period_amount_prices_tiers_skips_metered_and_takes_coupons_in_force() -> None:
    prices = {
        "seats": _price(
            "seats",
            billing_scheme="tiered",
            tiers_mode="volume",
            tiers=(Tier(10, 1_000), Tier(None, 800)),
        ),
        "base": _price("base", unit_amount=50_000),
        "calls": _price("calls", metered=True, unit_amount=1),
    }
    state = SubscriptionState(
        "sub_1", "cus_1", "active", "INR", "month", 1, (("seats", 12), ("base", 1), ("calls", 5))
    )
    # Volume tiers: all 12 seats at 800 = 9,600; + 50,000; metered usage is not recurring.
    assert period_amount(state, prices, [], 0) == 59_600
    repeating = Coupon(
        "co_1", Duration.REPEATING, T, percent_off=Decimal(10), duration_in_periods=3
    )
    amount_off = Coupon("co_2", Duration.FOREVER, T, amount_off=1_000, currency="INR")
    redeemed = [(repeating, 0), (amount_off, 0)]
    # Periods 0..2: 10 % off 59,600 = 5,960, then 1,000 off what is left: 52,640.
    assert period_amount(state, prices, redeemed, 2) == 52_640
    # From period 3 only the forever coupon applies.
    assert period_amount(state, prices, redeemed, 3) == 58_600
    # A coupon limited to one product discounts only that line.
    only_seats = Coupon(
        "co_3", Duration.FOREVER, T, percent_off=Decimal(50), applies_to_products=("prod_seats",)
    )
    assert period_amount(state, prices, [(only_seats, 0)], 5) == 59_600 - 4_800
