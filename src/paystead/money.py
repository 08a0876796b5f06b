"""Money: an integer amount in a currency's minor unit plus its ISO 4217 code.

No float ever becomes money here. A currency's exponent (INR 2, JPY 0, KWD 3) comes
from the ISO 4217 data shipped by the ``iso4217`` package, not from a table of ours.
``Decimal`` appears only in rate math, and :func:`apply_rate` is the one place that
rounds it back to minor units. :func:`allocate` splits an amount so the parts always
sum to the whole (largest remainder).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, Inexact, localcontext
from fractions import Fraction
from functools import cache

import iso4217

from paystead.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

#: Largest amount accepted anywhere: JSON numbers above 2**53 - 1 lose precision in
#: JavaScript clients, so nothing larger may enter or leave the system.
MAX_AMOUNT = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    exponent: int
    name: str

    @property
    def minor_per_major(self) -> int:
        return int(10**self.exponent)


@cache
def currency(code: str) -> Currency:
    """Look up an ISO 4217 currency that has minor units (funds codes like XAU do not)."""
    normalized = code.upper() if isinstance(code, str) else ""
    member = iso4217.Currency.__members__.get(normalized.lower()) if len(normalized) == 3 else None
    if member is None or member.exponent is None:
        raise UnknownCurrency(code)
    return Currency(code=normalized, exponent=int(member.exponent), name=str(member.currency_name))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``Money(50000, "INR")`` is ₹500.00."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise InvalidAmount(f"amount must be an integer in minor units, got {self.amount!r}")
        if abs(self.amount) > MAX_AMOUNT:
            raise InvalidAmount(f"amount {self.amount} exceeds the maximum of {MAX_AMOUNT}")
        object.__setattr__(self, "currency", currency(self.currency).code)

    @classmethod
    def zero(cls, currency_code: str) -> Money:
        return cls(0, currency_code)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    def to_decimal(self) -> Decimal:
        """Major units as an exact Decimal, for display and gateway formats only."""
        return Decimal(self.amount).scaleb(-currency(self.currency).exponent)

    def __str__(self) -> str:
        exp = currency(self.currency).exponent
        return f"{self.to_decimal():.{exp}f} {self.currency}"


ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


def apply_rate(money: Money, rate: Decimal, rounding: str = "half_up") -> Money:
    """``money * rate`` rounded once to the minor unit (half up unless told otherwise).

    ``rate`` is a fraction (``Decimal("0.18")`` for 18 %). This is the single place
    where a rate turns back into minor units, so every rounding is explicit.
    """
    if not isinstance(rate, Decimal):
        raise TypeError("rate must be a Decimal")
    with localcontext() as ctx:
        # Enough digits that the product is exact, so the quantize below is the only rounding.
        ctx.prec = len(str(abs(money.amount))) + len(rate.as_tuple().digits) + 2
        ctx.traps[Inexact] = True
        exact = Decimal(money.amount) * rate
        ctx.traps[Inexact] = False
        rounded = exact.quantize(Decimal(1), rounding=ROUNDING_MODES[rounding])
    return Money(int(rounded), money.currency)


def allocate(money: Money, weights: Sequence[int | Decimal]) -> list[Money]:
    """Split ``money`` in proportion to ``weights`` so the parts sum exactly to it.

    Largest-remainder (Hamilton) method: each part gets the floor of its exact share,
    then the leftover minor units go one each to the parts with the largest remainders
    (ties to the earlier part). Negative amounts are split as their absolute value.
    """
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    exact_weights = [Fraction(w) for w in weights]  # exact for int and Decimal alike
    total_weight = sum(exact_weights)
    if total_weight == 0:
        raise ValueError("weights must not all be zero")
    sign = -1 if money.amount < 0 else 1
    whole = abs(money.amount)
    shares = [whole * w / total_weight for w in exact_weights]
    floors = [s.numerator // s.denominator for s in shares]
    leftover = whole - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda i: (floors[i] - shares[i], i))
    for i in by_remainder[:leftover]:
        floors[i] += 1
    return [Money(sign * part, money.currency) for part in floors]
