"""Money at the gateway edge: our minor units to a gateway's integer amount and back.

``Money`` already holds integer minor units by the ISO 4217 exponent (INR 2, JPY 0,
KWD 3). A gateway states amounts in *its* idea of the currency's smallest unit, which
is usually the same exponent but need not be: each connector passes its documented
exceptions as ``exponents``, and the conversion scales by the difference, refusing any
amount it cannot state exactly. Nothing here divides by 100.

Razorpay and Stripe both take three-decimal currencies (BHD, JOD, KWD, OMR, TND) in
thousandths but require the last digit to be 0: ``round_to`` says so per connector.
"""

from __future__ import annotations

from collections.abc import Mapping

from paystead.errors import InvalidAmount
from paystead.money import Money, currency

_NO_OVERRIDES: Mapping[str, int] = {}


def gateway_exponent(currency_code: str, exponents: Mapping[str, int] = _NO_OVERRIDES) -> int:
    """The gateway's exponent for ``currency_code``: its documented exception, else ISO's."""
    iso = currency(currency_code)
    return exponents.get(iso.code, iso.exponent)


def to_gateway_amount(
    money: Money,
    *,
    exponents: Mapping[str, int] = _NO_OVERRIDES,
    round_to: Mapping[int, int] | None = None,
) -> int:
    """``money`` as the gateway's integer amount.

    ``round_to`` maps a gateway exponent to the multiple its amounts must be
    (``{3: 10}``: three-decimal amounts must end in 0). An amount that cannot be stated
    exactly raises :class:`~paystead.errors.InvalidAmount`; nothing is rounded here.
    """
    iso = currency(money.currency).exponent
    target = gateway_exponent(money.currency, exponents)
    if target >= iso:
        value = money.amount * int(10 ** (target - iso))
    else:
        factor = int(10 ** (iso - target))
        if money.amount % factor:
            raise InvalidAmount(
                f"{money} cannot be sent to this gateway: it takes {money.currency} "
                f"with {target} decimal places"
            )
        value = money.amount // factor
    multiple = (round_to or {}).get(target, 1)
    if value % multiple:
        raise InvalidAmount(
            f"{money} cannot be sent to this gateway: {money.currency} amounts must be a "
            f"multiple of {multiple} in its smallest unit"
        )
    return value


def from_gateway_amount(
    value: int, currency_code: str, *, exponents: Mapping[str, int] = _NO_OVERRIDES
) -> Money:
    """The gateway's integer ``value`` in ``currency_code`` as our ``Money``."""
    if type(value) is not int:
        raise InvalidAmount(f"gateway amount must be an integer, got {value!r}")
    iso = currency(currency_code)
    target = gateway_exponent(iso.code, exponents)
    if target <= iso.exponent:
        return Money(value * int(10 ** (iso.exponent - target)), iso.code)
    factor = int(10 ** (target - iso.exponent))
    if value % factor:
        raise InvalidAmount(f"gateway amount {value} {iso.code} has more precision than ISO 4217")
    return Money(value // factor, iso.code)
