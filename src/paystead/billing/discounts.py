"""Discount math for coupons: pure, no I/O (``billing/coupons.py`` stores and applies them).

A coupon takes ``percent_off`` (a ``Decimal``, 0 < p <= 100) or ``amount_off`` (minor
units in one currency) off the lines of one billing period.

**Percent off** is rounded once per sign, not per line: the positive lines' total times
``p / 100`` is rounded half up to the minor unit (:func:`paystead.money.apply_rate`),
and that one rounded discount is split across the positive lines in proportion to
their amounts with :func:`paystead.money.allocate` (largest remainder). So the line
discounts always sum to the rounded total, and no line's discount exceeds the line.
Negative lines (proration credits) are treated the same way on their own total, as
negative discounts: a credit for unused time on a discounted price is reduced by the
same percentage the charge was, so a discount is never credited back at full price.

**Amount off** applies once per period, capped at the sum of the positive lines (a
line never turns negative), split across them with ``allocate``; credit lines get
none. It only applies to lines in the coupon's currency.

Worked examples (hand-checked in ``tests/unit/billing/test_discounts.py``): 15 % off
lines of 333, 333 and 334 paise is 15 % of 1000 = 150 off, shared 49.95, 49.95, 50.10
-> floors 49, 49, 50 and the two leftover paise to the largest remainders: 50, 50, 50.
50 % off three lines of 1 paisa is 1.5 -> 2 paise off (1, 1, 0), where rounding each
line half up would take 3 paise off a 3 paise bill: the rounding happens once, on the
figure a customer can check against the invoice total.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from paystead.money import Money, allocate, apply_rate

HUNDRED = Decimal(100)


def _split(total: int, weights: Sequence[int], currency: str) -> list[int]:
    if total == 0 or not any(weights):
        return [0] * len(weights)
    return [m.amount for m in allocate(Money(total, currency), list(weights))]


def percent_off(
    amounts: Sequence[int], percent: Decimal, currency: str, eligible: Sequence[bool] | None = None
) -> list[int]:
    """Per-line discounts for ``percent`` off: positive lines share one rounded discount,
    negative lines (credits) another, negative, one."""
    if not Decimal(0) < percent <= HUNDRED:
        raise ValueError("percent must be in (0, 100]")
    ok = list(eligible) if eligible is not None else [True] * len(amounts)
    rate = percent / HUNDRED
    positive = [a if ok[i] and a > 0 else 0 for i, a in enumerate(amounts)]
    negative = [-a if ok[i] and a < 0 else 0 for i, a in enumerate(amounts)]
    pos_total = apply_rate(Money(sum(positive), currency), rate).amount
    neg_total = apply_rate(Money(sum(negative), currency), rate).amount
    pos = _split(pos_total, positive, currency)
    neg = _split(neg_total, negative, currency)
    return [p - n for p, n in zip(pos, neg, strict=True)]


def amount_off(
    amounts: Sequence[int], amount: int, currency: str, eligible: Sequence[bool] | None = None
) -> list[int]:
    """Per-line discounts for ``amount`` off the period, capped at its positive lines."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    ok = list(eligible) if eligible is not None else [True] * len(amounts)
    positive = [a if ok[i] and a > 0 else 0 for i, a in enumerate(amounts)]
    return _split(min(amount, sum(positive)), positive, currency)
