"""Discount math and coupon terms, with hand-checked numbers (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from paystead.billing import discounts
from paystead.billing.coupons import Coupon, Duration, check_terms
from paystead.errors import CurrencyMismatch, InvalidInput

AT = datetime(2026, 4, 1, tzinfo=UTC)


def test_percent_off_rounds_once_and_allocates_the_total() -> None:
    # 15 % of 1000 = 150; shares 49.95, 49.95, 50.10 -> 49, 49, 50 + 2 leftover paise
    # to the two largest remainders (0.95, 0.95).
    assert discounts.percent_off([333, 333, 334], Decimal(15), "INR") == [50, 50, 50]


def test_percent_off_rounds_the_period_not_each_line() -> None:
    # 50 % of 3 = 1.5 -> 2 (half up), split 1, 1, 0; per-line rounding would give 3.
    assert discounts.percent_off([1, 1, 1], Decimal(50), "INR") == [1, 1, 0]


def test_percent_off_half_up_at_the_boundary() -> None:
    # 12.5 % of 999 = 124.875 -> 125; 10 % of 5 = 0.5 -> 1.
    assert discounts.percent_off([999], Decimal("12.5"), "INR") == [125]
    assert discounts.percent_off([5], Decimal(10), "INR") == [1]
    # 33.33 % of 10000 = 3333.0 exactly.
    assert discounts.percent_off([10000], Decimal("33.33"), "INR") == [3333]


def test_hundred_percent_takes_every_line_to_zero() -> None:
    amounts = [1999, 1, 77777]
    assert discounts.percent_off(amounts, Decimal(100), "INR") == amounts


def test_percent_off_reduces_a_credit_by_the_same_percentage() -> None:
    # Charge 10000, proration credit -3333: 20 % -> 2000 off the charge,
    # 20 % of 3333 = 666.6 -> 667 off the credit (a negative discount).
    assert discounts.percent_off([10000, -3333], Decimal(20), "INR") == [2000, -667]


def test_percent_off_skips_ineligible_lines() -> None:
    assert discounts.percent_off([1000, 1000], Decimal(10), "INR", [False, True]) == [0, 100]


def test_amount_off_is_capped_and_never_makes_a_line_negative() -> None:
    # 500 off 100 + 200 = 300 -> capped at 300: each line to zero; the credit gets none.
    assert discounts.amount_off([100, 200, -50], 500, "INR") == [100, 200, 0]


def test_amount_off_splits_by_largest_remainder() -> None:
    # 100 off 300 + 300 + 400: exact shares 30, 30, 40.
    assert discounts.amount_off([300, 300, 400], 100, "INR") == [30, 30, 40]
    # 100 off 1 + 1 + 1 (capped at 3): each line 1.
    assert discounts.amount_off([1, 1, 1], 100, "INR") == [1, 1, 1]
    # 10 off 3 lines of 100: 3.33 each -> 3, 3, 3 + 1 to the first.
    assert discounts.amount_off([100, 100, 100], 10, "INR") == [4, 3, 3]


def test_line_discounts_sum_to_the_rounded_total_for_many_shapes() -> None:
    for percent in (Decimal("0.01"), Decimal(7), Decimal("12.5"), Decimal("99.99")):
        for amounts in ([1, 2, 3], [9999, 1, 1, 1], [123456, 654321], [7]):
            got = discounts.percent_off(amounts, percent, "INR")
            exact = Decimal(sum(amounts)) * percent / 100
            assert sum(got) == int(exact.to_integral_value(rounding="ROUND_HALF_UP"))
            assert all(0 <= d <= a for d, a in zip(got, amounts, strict=True))


def coupon(**kw: object) -> Coupon:
    terms: dict[str, object] = {"id": "coupon_x", "duration": Duration.ONCE, "created_at": AT}
    terms.update(kw)
    return Coupon(**terms)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("duration", "periods", "applies"),
    [
        (Duration.ONCE, None, [True, False, False, False]),
        (Duration.REPEATING, 3, [True, True, True, False]),
        (Duration.FOREVER, None, [True, True, True, True]),
    ],
)
def test_durations_count_periods_from_the_redemption(
    duration: Duration, periods: int | None, applies: list[bool]
) -> None:
    c = coupon(duration=duration, duration_in_periods=periods)
    assert [c.applies_in(i) for i in range(4)] == applies
    # Redeemed at period 2: periods before it never apply, the count starts there.
    assert [c.applies_in(i, 2) for i in range(2, 6)] == applies
    assert not c.applies_in(1, 2)


def test_an_amount_off_coupon_refuses_another_currency() -> None:
    c = coupon(amount_off=500, currency="INR", duration=Duration.FOREVER)
    assert c.discounts([300, 700], "INR") == [150, 350]
    with pytest.raises(CurrencyMismatch):
        c.discounts([300, 700], "USD")


def test_a_product_limited_coupon_discounts_only_its_products() -> None:
    c = coupon(percent_off=Decimal(50), applies_to_products=("prod_a",))
    assert c.discounts([1000, 1000, 1000], "INR", ["prod_a", "prod_b", None]) == [500, 0, 0]
    assert c.discounts([1000], "INR") == [0]  # products unknown: no line qualifies


@pytest.mark.parametrize(
    ("terms", "param"),
    [
        ({"percent_off": "0"}, "percent_off"),
        ({"percent_off": "100.01"}, "percent_off"),
        ({"percent_off": "-5"}, "percent_off"),
        ({"percent_off": "abc"}, "percent_off"),
        ({"percent_off": "10", "amount_off": 100, "currency": "INR"}, "percent_off"),
        ({}, "percent_off"),
        ({"amount_off": 0, "currency": "INR"}, "amount_off"),
        ({"amount_off": -100, "currency": "INR"}, "amount_off"),
        ({"amount_off": 100}, "currency"),
        ({"amount_off": 100, "currency": "XYZ"}, "currency"),
        ({"percent_off": "10", "currency": "INR"}, "currency"),
        ({"percent_off": "10", "duration": "weekly"}, "duration"),
        ({"percent_off": "10", "duration": "repeating"}, "duration_in_periods"),
        ({"percent_off": "10", "duration_in_periods": 3}, "duration_in_periods"),
        ({"percent_off": "10", "max_redemptions": 0}, "max_redemptions"),
    ],
)
def test_bad_terms_name_the_field(terms: dict[str, object], param: str) -> None:
    full: dict[str, object] = {
        "percent_off": None,
        "amount_off": None,
        "currency": None,
        "duration": "once",
        "duration_in_periods": None,
        "max_redemptions": None,
    }
    full.update(terms)
    with pytest.raises(InvalidInput) as refused:
        check_terms(**full)  # type: ignore[arg-type]
    assert refused.value.param == param


def test_good_terms_are_normalised() -> None:
    assert check_terms(
        percent_off="12.50",
        amount_off=None,
        currency=None,
        duration="repeating",
        duration_in_periods=3,
        max_redemptions=None,
    ) == (Decimal("12.5"), None, Duration.REPEATING)
    assert check_terms(
        percent_off=None,
        amount_off=500,
        currency="inr",
        duration="forever",
        duration_in_periods=None,
        max_redemptions=5,
    ) == (None, "INR", Duration.FOREVER)
    hundred, _, _ = check_terms(
        percent_off="100.00",
        amount_off=None,
        currency=None,
        duration="once",
        duration_in_periods=None,
        max_redemptions=None,
    )
    assert str(hundred) == "100"
