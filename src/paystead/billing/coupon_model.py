"""Coupons, promotion codes and redemptions as values: terms, durations, discounts.

No I/O: ``billing/coupons.py`` stores them and applies them to subscriptions, and
``billing/discounts.py`` holds the rounding. A :class:`Coupon` is the discount
(``percent_off`` or ``amount_off`` + ``currency``; ``duration`` once, repeating for
``duration_in_periods``, or forever); a :class:`PromotionCode` a customer-facing code
for one; a :class:`Redemption` a coupon applied to one subscription from
``start_period_index`` on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from paystead.billing import discounts
from paystead.errors import CurrencyMismatch, InvalidInput
from paystead.money import MAX_AMOUNT
from paystead.money import currency as currency_of


class Duration(StrEnum):
    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


@dataclass(frozen=True, slots=True)
class Coupon:
    id: str
    duration: Duration
    created_at: datetime
    name: str | None = None
    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    duration_in_periods: int | None = None
    redeem_by: datetime | None = None
    max_redemptions: int | None = None
    times_redeemed: int = 0
    applies_to_products: tuple[str, ...] | None = None

    def applies_in(self, period_index: int, start_period_index: int = 0) -> bool:
        """Whether the discount applies to ``period_index`` for a redemption starting at
        ``start_period_index``."""
        offset = period_index - start_period_index
        if offset < 0:
            return False
        if self.duration is Duration.ONCE:
            return offset == 0
        if self.duration is Duration.REPEATING:
            return offset < (self.duration_in_periods or 0)
        return True

    def discounts(
        self,
        amounts: Sequence[int],
        currency: str,
        product_ids: Sequence[str | None] | None = None,
    ) -> list[int]:
        """Per-line discounts on one period's ``amounts`` (see ``billing/discounts.py``).

        With ``applies_to_products``, only lines whose product is listed get a discount;
        lines whose product is not given get none.
        """
        eligible = [True] * len(amounts)
        if self.applies_to_products is not None:
            ids = list(product_ids) if product_ids is not None else [None] * len(amounts)
            eligible = [p is not None and p in self.applies_to_products for p in ids]
        if self.percent_off is not None:
            return discounts.percent_off(amounts, self.percent_off, currency, eligible)
        if self.amount_off is None or self.currency is None:
            raise ValueError("a coupon has percent_off or amount_off")
        if currency_of(currency).code != self.currency:
            raise CurrencyMismatch(self.currency, currency)
        return discounts.amount_off(amounts, self.amount_off, currency, eligible)


def check_terms(
    *,
    percent_off: Decimal | str | None,
    amount_off: int | None,
    currency: str | None,
    duration: str,
    duration_in_periods: int | None,
    max_redemptions: int | None,
) -> tuple[Decimal | None, str | None, Duration]:
    """Validate a coupon's terms; returns the normalised percent, currency and duration."""
    if (percent_off is None) == (amount_off is None):
        raise InvalidInput("give exactly one of percent_off and amount_off", param="percent_off")
    percent: Decimal | None = None
    code: str | None = None
    if percent_off is not None:
        try:
            percent = Decimal(str(percent_off))
        except InvalidOperation:
            raise InvalidInput(
                "percent_off must be a decimal number", param="percent_off"
            ) from None
        if not percent.is_finite() or not Decimal(0) < percent <= Decimal(100):
            raise InvalidInput("percent_off must be above 0 and at most 100", param="percent_off")
        if percent.as_tuple().exponent < -4:  # type: ignore[operator]
            raise InvalidInput("percent_off has at most 4 decimal places", param="percent_off")
        if currency is not None:
            raise InvalidInput("currency goes with amount_off only", param="currency")
        percent = percent.normalize()
        if percent == percent.to_integral_value():
            percent = percent.quantize(Decimal(1))  # "100", never "1E+2"
    else:
        if type(amount_off) is not int or not 0 < amount_off <= MAX_AMOUNT:
            raise InvalidInput(
                f"amount_off must be an integer from 1 to {MAX_AMOUNT} minor units",
                param="amount_off",
            )
        if currency is None:
            raise InvalidInput("amount_off needs a currency", param="currency")
        code = currency_of(currency).code
    try:
        kind = Duration(duration)
    except ValueError:
        raise InvalidInput(
            "duration must be once, repeating or forever", param="duration"
        ) from None
    if kind is Duration.REPEATING:
        if duration_in_periods is None or duration_in_periods < 1:
            raise InvalidInput(
                "a repeating coupon needs duration_in_periods >= 1", param="duration_in_periods"
            )
    elif duration_in_periods is not None:
        raise InvalidInput(
            "duration_in_periods goes with duration 'repeating' only", param="duration_in_periods"
        )
    if max_redemptions is not None and max_redemptions < 1:
        raise InvalidInput("max_redemptions must be at least 1", param="max_redemptions")
    return percent, code, kind


@dataclass(frozen=True, slots=True)
class PromotionCode:
    id: str
    code: str
    coupon_id: str
    active: bool
    created_at: datetime
    expires_at: datetime | None = None
    max_redemptions: int | None = None
    times_redeemed: int = 0
    first_time_transaction: bool = False


@dataclass(frozen=True, slots=True)
class Redemption:
    id: str
    coupon_id: str
    promotion_code_id: str | None
    customer_id: str
    subscription_id: str
    currency: str
    start_period_index: int
    redeemed_at: datetime


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def coupon_object(c: Coupon) -> dict[str, Any]:
    return {
        "id": c.id,
        "object": "coupon",
        "name": c.name,
        "percent_off": str(c.percent_off) if c.percent_off is not None else None,
        "amount_off": c.amount_off,
        "currency": c.currency,
        "duration": c.duration.value,
        "duration_in_periods": c.duration_in_periods,
        "redeem_by": _unix(c.redeem_by),
        "max_redemptions": c.max_redemptions,
        "times_redeemed": c.times_redeemed,
        "applies_to_products": list(c.applies_to_products) if c.applies_to_products else None,
        "created": _unix(c.created_at),
    }


def promotion_code_object(p: PromotionCode) -> dict[str, Any]:
    return {
        "id": p.id,
        "object": "promotion_code",
        "code": p.code,
        "coupon": p.coupon_id,
        "active": p.active,
        "expires_at": _unix(p.expires_at),
        "max_redemptions": p.max_redemptions,
        "times_redeemed": p.times_redeemed,
        "first_time_transaction": p.first_time_transaction,
        "created": _unix(p.created_at),
    }


def redemption_object(r: Redemption) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "coupon_redemption",
        "coupon": r.coupon_id,
        "promotion_code": r.promotion_code_id,
        "customer": r.customer_id,
        "subscription": r.subscription_id,
        "currency": r.currency,
        "start_period_index": r.start_period_index,
        "created": _unix(r.redeemed_at),
    }
