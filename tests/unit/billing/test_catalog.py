"""Pricing arithmetic and catalog validation, with amounts worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from paystead.billing.catalog import (
    Price,
    Recurring,
    Tier,
    TransformQuantity,
    amount_for_quantity,
    validate_price,
    validate_tax_code,
    validate_tax_rate,
)
from paystead.errors import InvalidInput, UnknownCurrency

NOW = datetime(2026, 4, 1, tzinfo=UTC)
TIERS = (Tier(up_to=10, unit_amount=1000), Tier(up_to=50, unit_amount=800), Tier(None, 500, 2000))


def price(**kwargs: object) -> Price:
    base: dict[str, object] = {
        "id": "price_x",
        "product_id": "prod_x",
        "currency": "INR",
        "created_at": NOW,
    }
    return Price(**(base | kwargs))  # type: ignore[arg-type]


def test_per_unit_is_unit_amount_times_quantity() -> None:
    assert amount_for_quantity(price(unit_amount=49900), 3) == 149700
    assert amount_for_quantity(price(unit_amount=49900), 0) == 0


def test_package_pricing_rounds_the_package_count() -> None:
    up = price(unit_amount=500, transform_quantity=TransformQuantity(divide_by=1000, round="up"))
    down = price(
        unit_amount=500, transform_quantity=TransformQuantity(divide_by=1000, round="down")
    )
    # 2,500 API calls in packages of 1,000: 3 packages rounded up, 2 down.
    assert amount_for_quantity(up, 2500) == 1500
    assert amount_for_quantity(down, 2500) == 1000
    assert amount_for_quantity(up, 2000) == 1000


def test_graduated_tiers_price_each_unit_in_its_tier() -> None:
    p = price(billing_scheme="tiered", tiers_mode="graduated", tiers=TIERS)
    # 10 x 1000 + 40 x 800 + 5 x 500 + flat 2000 (the last tier is reached)
    assert amount_for_quantity(p, 55) == 10000 + 32000 + 2500 + 2000
    assert amount_for_quantity(p, 10) == 10000
    assert amount_for_quantity(p, 11) == 10800
    assert amount_for_quantity(p, 0) == 0


def test_volume_tiers_price_every_unit_at_the_reached_tier() -> None:
    p = price(billing_scheme="tiered", tiers_mode="volume", tiers=TIERS)
    assert amount_for_quantity(p, 10) == 10 * 1000
    assert amount_for_quantity(p, 11) == 11 * 800
    assert amount_for_quantity(p, 51) == 51 * 500 + 2000


@pytest.mark.parametrize(
    "tiers",
    [
        (Tier(10, 100), Tier(5, 50), Tier(None, 10)),  # descending
        (Tier(10, 100), Tier(10, 50), Tier(None, 10)),  # repeated bound
        (Tier(10, 100), Tier(20, 50)),  # last is not inf
        (Tier(None, 100), Tier(10, 50)),  # inf before the end
        (Tier(10, -1), Tier(None, 50)),  # negative amount
        (),
    ],
)
def test_bad_tiers_are_refused_naming_tiers(tiers: tuple[Tier, ...]) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_price(price(billing_scheme="tiered", tiers_mode="graduated", tiers=tiers))
    assert err.value.param == "tiers"


def test_price_validation_names_the_field() -> None:
    with pytest.raises(UnknownCurrency) as currency:
        validate_price(price(currency="XYZ", unit_amount=1))
    assert currency.value.param == "currency"
    with pytest.raises(InvalidInput) as negative:
        validate_price(price(unit_amount=-1))
    assert negative.value.param == "unit_amount"
    with pytest.raises(InvalidInput) as meter:
        validate_price(price(unit_amount=1, recurring=Recurring(usage_type="metered")))
    assert meter.value.param == "recurring.meter"
    with pytest.raises(InvalidInput) as interval:
        validate_price(price(unit_amount=1, recurring=Recurring(interval="fortnight")))
    assert interval.value.param == "recurring.interval"


def test_negative_quantity_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        amount_for_quantity(price(unit_amount=100), -1)
    assert err.value.param == "quantity"


def test_tax_codes_and_rates() -> None:
    assert validate_tax_code("998314") == "998314"
    for bad in ("99831", "abcd", "123456789"):
        with pytest.raises(InvalidInput):
            validate_tax_code(bad)
    assert validate_tax_rate("18") == Decimal("18")
    assert validate_tax_rate("0.25") == Decimal("0.25")
    with pytest.raises(InvalidInput) as slab:
        validate_tax_rate("17")
    assert slab.value.param == "tax_rate"
    assert validate_tax_rate("19", india=False) == Decimal("19")
    for bad_rate in ("-1", "101", "abc", "NaN"):
        with pytest.raises(InvalidInput):
            validate_tax_rate(bad_rate, india=False)
