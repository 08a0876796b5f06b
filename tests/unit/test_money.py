"""Money, currencies, apply_rate and allocate: pure, exact, no database."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paystead.errors import CurrencyMismatch, InvalidAmount, InvalidInput, UnknownCurrency
from paystead.money import MAX_AMOUNT, Money, allocate, apply_rate, currency

# 2**53 - 1 written out, so the test does not trust the module's own constant.
JS_SAFE_INTEGER = 9_007_199_254_740_991


# --------------------------------------------------------------------------- currencies


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("INR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("USD", 2), ("EUR", 2), ("CLF", 4)],
)
def test_exponent_comes_from_iso_4217(code: str, exponent: int) -> None:
    cur = currency(code)
    assert cur.code == code
    assert cur.exponent == exponent
    assert cur.minor_per_major == 10**exponent
    assert cur.name  # the ISO name travels with it


def test_currency_name_is_the_iso_name() -> None:
    assert currency("INR").name == "Indian Rupee"
    assert currency("JPY").name == "Yen"


@pytest.mark.parametrize("code", ["inr", "Inr", "iNR"])
def test_lower_and_mixed_case_codes_are_normalised(code: str) -> None:
    assert currency(code).code == "INR"
    assert currency(code).exponent == 2
    money = Money(100, code)
    assert money.currency == "INR"
    assert money == Money(100, "INR")


@pytest.mark.parametrize(
    "code",
    [
        "XAU",  # gold: no minor unit
        "XXX",  # "no currency"
        "XTS",  # reserved for testing, no minor unit
        "xau",
        "ZZZ",
        "ABC",
        "",
        "IN",
        "INRR",
        " INR",
        "INR ",
    ],
)
def test_unknown_or_unitless_currencies_are_refused(code: str) -> None:
    with pytest.raises(UnknownCurrency) as excinfo:
        currency(code)
    assert excinfo.value.code == "currency_invalid"
    assert excinfo.value.param == "currency"
    assert isinstance(excinfo.value, InvalidInput)
    with pytest.raises(UnknownCurrency):
        Money(1, code)


@pytest.mark.parametrize("code", [None, 356, b"INR"])
def test_non_string_currency_is_refused(code: object) -> None:
    with pytest.raises(UnknownCurrency):
        currency(code)


# --------------------------------------------------------------------------- amounts


def test_max_amount_is_the_javascript_safe_integer() -> None:
    assert MAX_AMOUNT == JS_SAFE_INTEGER


@pytest.mark.parametrize(
    "amount",
    [1.0, 0.0, 100.5, True, False, Decimal("1"), Decimal("0"), "100", "1", None, Fraction(1)],
)
def test_money_refuses_anything_but_int(amount: object) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        Money(amount, "INR")  # type: ignore[arg-type]
    assert excinfo.value.code == "amount_invalid"
    assert excinfo.value.param == "amount"


@pytest.mark.parametrize("amount", [JS_SAFE_INTEGER, -JS_SAFE_INTEGER, 0, 1, -1])
def test_money_accepts_ints_up_to_the_limit(amount: int) -> None:
    assert Money(amount, "INR").amount == amount


@pytest.mark.parametrize("amount", [JS_SAFE_INTEGER + 1, -JS_SAFE_INTEGER - 1, 2**64, -(2**64)])
def test_money_refuses_amounts_beyond_the_limit(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        Money(amount, "INR")


def test_money_is_immutable() -> None:
    money = Money(100, "INR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = 5  # type: ignore[misc]


def test_zero() -> None:
    assert Money.zero("jpy") == Money(0, "JPY")


# --------------------------------------------------------------------------- arithmetic


def test_add_sub_neg_same_currency() -> None:
    a, b = Money(1050, "INR"), Money(-250, "INR")
    assert a + b == Money(800, "INR")
    assert a - b == Money(1300, "INR")
    assert -a == Money(-1050, "INR")
    assert a < Money(1051, "INR")
    assert a <= Money(1050, "INR")
    assert Money(1051, "INR") > a
    assert a >= Money(1050, "INR")
    assert Money(1, "INR").is_positive
    assert not Money(0, "INR").is_positive
    assert not Money(-1, "INR").is_positive


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "sub", "lt", "le", "gt", "ge"],
)
def test_arithmetic_refuses_mixed_currencies(op: Callable[[Money, Money], object]) -> None:
    with pytest.raises(CurrencyMismatch) as excinfo:
        op(Money(100, "INR"), Money(100, "USD"))
    assert excinfo.value.code == "currency_mismatch"


def test_same_number_in_different_currencies_is_not_equal() -> None:
    assert Money(100, "INR") != Money(100, "USD")


def test_addition_past_the_limit_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        Money(JS_SAFE_INTEGER, "INR") + Money(1, "INR")
    with pytest.raises(InvalidAmount):
        Money(-JS_SAFE_INTEGER, "INR") - Money(1, "INR")


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(5, "KWD"), "0.005 KWD"),
        (Money(100, "JPY"), "100 JPY"),
        (Money(50000, "INR"), "500.00 INR"),
        (Money(1, "USD"), "0.01 USD"),
        (Money(0, "BHD"), "0.000 BHD"),
        (Money(-5, "KWD"), "-0.005 KWD"),
        (Money(-1999, "INR"), "-19.99 INR"),
        (Money(1234567, "BHD"), "1234.567 BHD"),
        (Money(JS_SAFE_INTEGER, "INR"), "90071992547409.91 INR"),
        (Money(JS_SAFE_INTEGER, "JPY"), "9007199254740991 JPY"),
    ],
)
def test_str_uses_the_currency_exponent(money: Money, text: str) -> None:
    assert str(money) == text


@pytest.mark.parametrize(
    ("money", "value"),
    [
        (Money(50000, "INR"), Decimal("500")),
        (Money(5, "KWD"), Decimal("0.005")),
        (Money(100, "JPY"), Decimal("100")),
        (Money(-1, "USD"), Decimal("-0.01")),
    ],
)
def test_to_decimal_is_exact(money: Money, value: Decimal) -> None:
    assert money.to_decimal() == value


@given(
    amount=st.integers(-JS_SAFE_INTEGER, JS_SAFE_INTEGER),
    code=st.sampled_from(["INR", "JPY", "KWD", "USD", "CLF"]),
)
def test_str_round_trips_exactly(amount: int, code: str) -> None:
    number, shown_code = str(Money(amount, code)).split(" ")
    assert shown_code == code
    exponent = {"INR": 2, "JPY": 0, "KWD": 3, "USD": 2, "CLF": 4}[code]
    if exponent:
        assert len(number.split(".")[1]) == exponent
    else:
        assert "." not in number
    assert Fraction(Decimal(number)) * 10**exponent == amount


# --------------------------------------------------------------------------- apply_rate


def _reference_round(exact: Fraction, mode: str) -> int:
    """Round an exact rational to an integer, ties away from zero or to even."""
    sign = -1 if exact < 0 else 1
    magnitude = abs(exact)
    whole = math.floor(magnitude)
    rest = magnitude - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and (mode == "half_up" or whole % 2 == 1)):
        whole += 1
    return sign * whole


@pytest.mark.parametrize(
    ("amount", "rate", "half_up", "half_even"),
    [
        (5, "0.5", 3, 2),  # 2.5
        (15, "0.5", 8, 8),  # 7.5
        (25, "0.5", 13, 12),  # 12.5
        (3, "0.5", 2, 2),  # 1.5
        (125, "0.02", 3, 2),  # 2.5
        (12345, "0.18", 2222, 2222),  # 2222.1
        (12345, "0.02", 247, 247),  # 246.9
        (-5, "0.5", -3, -2),  # -2.5: half up rounds away from zero
        (-15, "0.5", -8, -8),  # -7.5
        (-12345, "0.02", -247, -247),  # -246.9
        (5, "-0.5", -3, -2),
        (7, "0", 0, 0),
        (7, "1", 7, 7),
        (100, "1.5", 150, 150),
    ],
)
def test_apply_rate_rounding_is_explicit(
    amount: int, rate: str, half_up: int, half_even: int
) -> None:
    money = Money(amount, "INR")
    assert apply_rate(money, Decimal(rate)) == Money(half_up, "INR")  # half up is the default
    assert apply_rate(money, Decimal(rate), "half_up") == Money(half_up, "INR")
    assert apply_rate(money, Decimal(rate), "half_even") == Money(half_even, "INR")


def test_apply_rate_keeps_the_currency() -> None:
    assert apply_rate(Money(1000, "kwd"), Decimal("0.05")) == Money(50, "KWD")
    assert apply_rate(Money(1000, "JPY"), Decimal("0.05")).currency == "JPY"


@pytest.mark.parametrize("rate", [0.18, 1.0, 0.5, 1, "0.18", Fraction(1, 2)])
def test_apply_rate_refuses_non_decimal_rates(rate: object) -> None:
    with pytest.raises(TypeError):
        apply_rate(Money(100, "INR"), rate)  # type: ignore[arg-type]


def test_apply_rate_result_past_the_limit_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        apply_rate(Money(JS_SAFE_INTEGER, "INR"), Decimal("2"))


@given(
    amount=st.integers(-JS_SAFE_INTEGER, JS_SAFE_INTEGER),
    rate=st.decimals(min_value=-1, max_value=1, places=8, allow_nan=False, allow_infinity=False),
    mode=st.sampled_from(["half_up", "half_even"]),
)
def test_apply_rate_matches_exact_rational_rounding(amount: int, rate: Decimal, mode: str) -> None:
    result = apply_rate(Money(amount, "INR"), rate, mode)
    assert result.currency == "INR"
    assert result.amount == _reference_round(Fraction(amount) * Fraction(rate), mode)


@given(
    amount=st.integers(-JS_SAFE_INTEGER, JS_SAFE_INTEGER),
    rate=st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False),
    mode=st.sampled_from(["half_up", "half_even"]),
)
def test_apply_rate_is_symmetric_in_sign(amount: int, rate: Decimal, mode: str) -> None:
    # A refund of a charge must round to exactly the negation of the charge's rounding.
    positive = apply_rate(Money(amount, "INR"), rate, mode)
    negative = apply_rate(Money(-amount, "INR"), rate, mode)
    assert negative == -positive


@pytest.mark.parametrize(
    ("amount", "rate", "mode"),
    [
        # 3 * 0.4999...9 (31 nines) = 1.4999...97: exactly below the half, so 1.
        (3, Decimal("0.4" + "9" * 30), "half_up"),
        # 9007199254740989 * (0.5 - 1e-30), the rate written out = 4503599627370494.4999...: so ...494.
        (9_007_199_254_740_989, Decimal("0.4" + "9" * 29), "half_up"),
        # 9007199254740989 * (0.5 + 1e-30), the rate written out = 4503599627370494.5000...09: above half, so ...495.
        (9_007_199_254_740_989, Decimal("0.5" + "0" * 28 + "1"), "half_even"),
    ],
)
def test_apply_rate_rounds_only_once_even_for_high_precision_rates(
    amount: int, rate: Decimal, mode: str
) -> None:
    """The docstring promises ``money * rate`` rounded *once*: the product must be exact.

    Computing ``Decimal(amount) * rate`` in the default 28-digit context rounds the
    product first; a second rounding to the minor unit can then land on the wrong side.
    """
    expected = _reference_round(Fraction(amount) * Fraction(rate), mode)
    assert apply_rate(Money(amount, "INR"), rate, mode).amount == expected


# --------------------------------------------------------------------------- allocate


def _amounts(parts: list[Money]) -> list[int]:
    return [p.amount for p in parts]


@pytest.mark.parametrize(
    ("amount", "weights", "expected"),
    [
        # 33.33 each, one unit left over, ties go to the earliest part.
        (100, [1, 1, 1], [34, 33, 33]),
        # 1.5 and 3.5: floors 1 and 3, one unit left, tie on .5 -> first part.
        (5, [3, 7], [2, 3]),
        # 3.33 and 6.67: the larger remainder (.67) gets the unit.
        (10, [1, 2], [3, 7]),
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        # 0.4, 0.6 -> the second part's remainder is larger.
        (1, [2, 3], [0, 1]),
        # 16.67, 33.33, 50: remainders .67, .33, 0 -> first part.
        (100, [1, 2, 3], [17, 33, 50]),
        (0, [1, 2], [0, 0]),
        (7, [5], [7]),
        (99, [0, 1], [0, 99]),
        # 50.5, 0, 50.5: the zero-weight part never gets anything.
        (101, [1, 0, 1], [51, 0, 50]),
        (3, [0, 1, 0, 1, 0], [0, 2, 0, 1, 0]),
    ],
)
def test_allocate_hand_checked(amount: int, weights: list[int], expected: list[int]) -> None:
    assert _amounts(allocate(Money(amount, "INR"), weights)) == expected


@pytest.mark.parametrize(
    ("amount", "weights", "expected"),
    [
        (-100, [1, 1, 1], [-34, -33, -33]),
        (-5, [3, 7], [-2, -3]),
        (-1, [1, 1], [-1, 0]),
    ],
)
def test_allocate_negative_amounts_mirror_positive(
    amount: int, weights: list[int], expected: list[int]
) -> None:
    assert _amounts(allocate(Money(amount, "INR"), weights)) == expected


@pytest.mark.parametrize(
    ("amount", "weights", "expected"),
    [
        # Exact decimal weights: 0.1/0.2/0.7 of 10 is exactly 1/2/7 (floats would not be exact).
        (10, [Decimal("0.1"), Decimal("0.2"), Decimal("0.7")], [1, 2, 7]),
        (1000, [Decimal("0.333"), Decimal("0.667")], [333, 667]),
        # 50.5, 25.25, 25.25 -> the .5 remainder wins the leftover unit.
        (101, [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")], [51, 25, 25]),
        # Mixed int and Decimal weights: 1.5 each, tie to the first.
        (3, [1, Decimal("1")], [2, 1]),
        (100, [Decimal("0"), Decimal("2.5")], [0, 100]),
    ],
)
def test_allocate_decimal_weights(
    amount: int, weights: list[int | Decimal], expected: list[int]
) -> None:
    assert _amounts(allocate(Money(amount, "INR"), weights)) == expected


@pytest.mark.parametrize(
    "weights",
    [[], [1, -1], [-1], [0], [0, 0, 0], [Decimal("0"), Decimal("0")], [Decimal("-0.1"), 1]],
)
def test_allocate_refuses_bad_weights(weights: list[int | Decimal]) -> None:
    with pytest.raises(ValueError):
        allocate(Money(100, "INR"), weights)


def test_allocate_keeps_currency_and_normalised_code() -> None:
    parts = allocate(Money(1000, "kwd"), [1, 2])
    assert {p.currency for p in parts} == {"KWD"}


_int_weights = st.lists(st.integers(0, 1000), min_size=1, max_size=20).filter(any)
_decimal_weights = st.lists(
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=20,
).filter(any)


@given(
    amount=st.integers(-JS_SAFE_INTEGER, JS_SAFE_INTEGER),
    weights=st.one_of(_int_weights, _decimal_weights),
    code=st.sampled_from(["INR", "JPY", "KWD"]),
)
def test_allocate_properties(amount: int, weights: list[int | Decimal], code: str) -> None:
    money = Money(amount, code)
    parts = allocate(money, weights)

    # One part per weight, same currency, summing exactly to the whole.
    assert len(parts) == len(weights)
    assert all(p.currency == code for p in parts)
    assert sum(p.amount for p in parts) == amount

    # Each part is within one minor unit of its exact share (Fraction as the reference).
    exact_weights = [Fraction(w) for w in weights]
    total = sum(exact_weights)
    shares = [Fraction(amount) * w / total for w in exact_weights]
    for part, share in zip(parts, shares, strict=True):
        assert abs(part.amount - share) < 1
        # No sign flips, and a zero weight always gets exactly zero.
        assert part.amount * share >= 0
        if share == 0:
            assert part.amount == 0

    # Largest remainder: any part rounded away from zero has a remainder no smaller
    # than any part rounded towards zero.
    magnitudes = [abs(s) for s in shares]
    up = [m - math.floor(m) for p, m in zip(parts, magnitudes, strict=True) if abs(p.amount) > m]
    down = [m - math.floor(m) for p, m in zip(parts, magnitudes, strict=True) if abs(p.amount) < m]
    if up and down:
        assert min(up) >= max(down)

    # Deterministic.
    assert allocate(money, weights) == parts
    assert allocate(Money(amount, code), list(weights)) == parts


@given(
    amount=st.integers(0, JS_SAFE_INTEGER),
    weights=_int_weights,
)
def test_allocate_negative_is_the_mirror_of_positive(amount: int, weights: list[int]) -> None:
    positive = allocate(Money(amount, "INR"), weights)
    negative = allocate(Money(-amount, "INR"), weights)
    assert negative == [-p for p in positive]


@given(amount=st.integers(-JS_SAFE_INTEGER, JS_SAFE_INTEGER), n=st.integers(1, 50))
def test_allocate_equal_weights_differ_by_at_most_one_and_front_load(amount: int, n: int) -> None:
    parts = _amounts(allocate(Money(amount, "INR"), [1] * n))
    magnitudes = [abs(p) for p in parts]
    assert max(magnitudes) - min(magnitudes) <= 1
    # Ties go to the earlier parts, so magnitudes never increase along the list.
    assert magnitudes == sorted(magnitudes, reverse=True)
