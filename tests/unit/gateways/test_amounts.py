"""Money at the gateway edge: exponent-driven, exact, never a hard-coded /100."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paystead.errors import InvalidAmount
from paystead.gateways.amounts import from_gateway_amount, gateway_exponent, to_gateway_amount
from paystead.money import MAX_AMOUNT, Money

THREE_DECIMALS = {3: 10}


@pytest.mark.parametrize(
    ("money", "sent"),
    [
        (Money(50_000, "INR"), 50_000),  # paise
        (Money(1_500, "JPY"), 1_500),  # zero-decimal: yen as-is
        (Money(99_990, "KWD"), 99_990),  # fils
        (Money(1, "USD"), 1),
    ],
)
def test_iso_exponent_amounts_go_out_unchanged(money: Money, sent: int) -> None:
    assert to_gateway_amount(money, round_to=THREE_DECIMALS) == sent
    assert from_gateway_amount(sent, money.currency) == money


def test_three_decimal_amounts_must_end_in_zero() -> None:
    with pytest.raises(InvalidAmount):
        to_gateway_amount(Money(99_991, "KWD"), round_to=THREE_DECIMALS)
    assert to_gateway_amount(Money(99_991, "KWD")) == 99_991  # a gateway without the rule


def test_a_gateway_exponent_override_scales_exactly() -> None:
    # A gateway that takes JPY in hundredths and ISK (ISO 0) in hundredths.
    overrides = {"JPY": 2, "ISK": 2}
    assert gateway_exponent("JPY", overrides) == 2
    assert to_gateway_amount(Money(1_500, "JPY"), exponents=overrides) == 150_000
    assert from_gateway_amount(150_000, "JPY", exponents=overrides) == Money(1_500, "JPY")
    with pytest.raises(InvalidAmount):  # 1500.01 yen is not money
        from_gateway_amount(150_001, "JPY", exponents=overrides)
    # A gateway that takes INR in whole rupees refuses paise it cannot state.
    assert to_gateway_amount(Money(50_000, "INR"), exponents={"INR": 0}) == 500
    with pytest.raises(InvalidAmount):
        to_gateway_amount(Money(50_050, "INR"), exponents={"INR": 0})
    assert from_gateway_amount(500, "INR", exponents={"INR": 0}) == Money(50_000, "INR")


def test_gateway_amounts_must_be_integers() -> None:
    with pytest.raises(InvalidAmount):
        from_gateway_amount(12.5, "INR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        from_gateway_amount(True, "INR")


@given(
    amount=st.integers(min_value=-MAX_AMOUNT // 1000, max_value=MAX_AMOUNT // 1000),
    code=st.sampled_from(["INR", "JPY", "KWD", "USD", "BHD", "CLF"]),
    shift=st.integers(min_value=0, max_value=2),
)
def test_round_trip_is_exact(amount: int, code: str, shift: int) -> None:
    money = Money(amount, code)
    overrides = {code: gateway_exponent(code) + shift}
    sent = to_gateway_amount(money, exponents=overrides)
    assert from_gateway_amount(sent, code, exponents=overrides) == money
