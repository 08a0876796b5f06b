"""The billing catalog: products, prices, tiers, and what a quantity costs (no I/O).

A :class:`Product` carries the tax facts (SAC/HSN ``tax_code``, ``tax_rate`` in
percent); a :class:`Price` belongs to one product and one currency and says how a
quantity turns into an amount: ``per_unit`` (``unit_amount`` x quantity, optionally
after ``transform_quantity`` for package pricing) or ``tiered`` (``graduated``: each
unit priced by the tier it falls in; ``volume``: every unit at the tier the total
quantity reaches; each tier may add a ``flat_amount``). :func:`amount_for_quantity`
is the one place that computes it, in integer minor units: no rounding ever happens
here except the documented ``transform_quantity.round`` of the *quantity*.

Validation raises :class:`~paystead.errors.InvalidInput` naming the field, so the API
answers 422 with ``param``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from paystead.errors import InvalidInput
from paystead.money import MAX_AMOUNT, currency

Interval = Literal["day", "week", "month", "year"]
UsageType = Literal["licensed", "metered"]
TaxBehavior = Literal["exclusive", "inclusive"]
BillingScheme = Literal["per_unit", "tiered"]
TiersMode = Literal["graduated", "volume"]

INTERVALS = ("day", "week", "month", "year")
USAGE_TYPES = ("licensed", "metered")
TAX_BEHAVIORS = ("exclusive", "inclusive")
BILLING_SCHEMES = ("per_unit", "tiered")
TIERS_MODES = ("graduated", "volume")

#: GST slabs (percent) accepted for a product taxed in India; other jurisdictions may
#: use any rate from 0 to 100 (``validate_tax_rate(..., jurisdiction=None)``).
GST_SLABS = tuple(Decimal(s) for s in ("0", "0.25", "3", "5", "12", "18", "28"))


@dataclass(frozen=True)
class Recurring:
    interval: str = "month"
    interval_count: int = 1
    usage_type: str = "licensed"
    #: The meter key billed for ``metered`` prices (billing/usage.py aggregates it).
    meter: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "interval_count": self.interval_count,
            "usage_type": self.usage_type,
            "meter": self.meter,
        }


@dataclass(frozen=True)
class Tier:
    #: Upper bound of the tier, inclusive; ``None`` is "inf" (the last tier).
    up_to: int | None
    unit_amount: int = 0
    flat_amount: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "up_to": "inf" if self.up_to is None else self.up_to,
            "unit_amount": self.unit_amount,
            "flat_amount": self.flat_amount,
        }


@dataclass(frozen=True)
class TransformQuantity:
    """Package pricing: bill ``ceil`` (round "up") or ``floor`` ("down") of quantity / divide_by."""

    divide_by: int
    round: str = "up"

    def to_json(self) -> dict[str, Any]:
        return {"divide_by": self.divide_by, "round": self.round}


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    #: SAC (services) or HSN (goods) code: 4, 6 or 8 digits.
    tax_code: str | None
    #: Percent, e.g. Decimal("18").
    tax_rate: Decimal
    created_at: datetime
    active: bool = True
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Price:
    id: str
    product_id: str
    currency: str
    created_at: datetime
    unit_amount: int | None = None
    recurring: Recurring | None = None
    tax_behavior: str = "exclusive"
    billing_scheme: str = "per_unit"
    tiers_mode: str | None = None
    tiers: tuple[Tier, ...] = ()
    transform_quantity: TransformQuantity | None = None
    active: bool = True
    nickname: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return "recurring" if self.recurring is not None else "one_time"


def _require_amount(value: object, param: str) -> int:
    if type(value) is not int or value < 0 or value > MAX_AMOUNT:
        raise InvalidInput(
            f"{param} must be a non-negative integer in minor units",
            code="amount_invalid",
            param=param,
        )
    return value


def validate_tax_code(code: str | None) -> str | None:
    if code is None:
        return None
    if not isinstance(code, str) or not code.isdigit() or len(code) not in (4, 6, 8):
        raise InvalidInput("tax_code must be a SAC/HSN code of 4, 6 or 8 digits", param="tax_code")
    return code


def validate_tax_rate(rate: object, *, india: bool = True) -> Decimal:
    """A percent as a decimal string; a GST slab when ``india``, else any 0..100."""
    try:
        value = Decimal(str(rate)) if isinstance(rate, (str, int, Decimal)) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value > 100:
        raise InvalidInput("tax_rate must be a percent between 0 and 100", param="tax_rate")
    if india and value not in GST_SLABS:
        slabs = ", ".join(str(s) for s in GST_SLABS)
        raise InvalidInput(f"tax_rate must be a GST slab ({slabs})", param="tax_rate")
    return value.normalize() if value != 0 else Decimal(0)


def validate_price(price: Price) -> Price:
    """Check a price's internal consistency; raises InvalidInput naming the field."""
    currency(price.currency)  # UnknownCurrency names `currency`
    if price.tax_behavior not in TAX_BEHAVIORS:
        raise InvalidInput("tax_behavior must be exclusive or inclusive", param="tax_behavior")
    if price.billing_scheme not in BILLING_SCHEMES:
        raise InvalidInput("billing_scheme must be per_unit or tiered", param="billing_scheme")
    if price.recurring is not None:
        r = price.recurring
        if r.interval not in INTERVALS:
            raise InvalidInput(
                "recurring.interval must be day, week, month or year", param="recurring.interval"
            )
        if type(r.interval_count) is not int or not 1 <= r.interval_count <= 365:
            raise InvalidInput(
                "recurring.interval_count must be 1..365", param="recurring.interval_count"
            )
        if r.usage_type not in USAGE_TYPES:
            raise InvalidInput(
                "recurring.usage_type must be licensed or metered", param="recurring.usage_type"
            )
        if r.usage_type == "metered" and not r.meter:
            raise InvalidInput("a metered price needs recurring.meter", param="recurring.meter")
    if price.billing_scheme == "per_unit":
        if price.unit_amount is None:
            raise InvalidInput("unit_amount is required for per_unit prices", param="unit_amount")
        _require_amount(price.unit_amount, "unit_amount")
        if price.tiers:
            raise InvalidInput("tiers are only allowed with billing_scheme tiered", param="tiers")
    else:
        if price.tiers_mode not in TIERS_MODES:
            raise InvalidInput("tiers_mode must be graduated or volume", param="tiers_mode")
        validate_tiers(price.tiers)
        if price.transform_quantity is not None:
            raise InvalidInput(
                "transform_quantity is only allowed with per_unit prices",
                param="transform_quantity",
            )
    tq = price.transform_quantity
    if tq is not None:
        if type(tq.divide_by) is not int or tq.divide_by < 1:
            raise InvalidInput(
                "transform_quantity.divide_by must be a positive integer",
                param="transform_quantity.divide_by",
            )
        if tq.round not in ("up", "down"):
            raise InvalidInput(
                "transform_quantity.round must be up or down", param="transform_quantity.round"
            )
    return price


def validate_tiers(tiers: tuple[Tier, ...]) -> None:
    """Ascending ``up_to`` bounds, each tier starting right after the previous (so no
    gaps and no overlaps by construction), the last one ``inf``."""
    if not tiers:
        raise InvalidInput("tiered prices need at least one tier", param="tiers")
    previous = 0
    for i, tier in enumerate(tiers):
        _require_amount(tier.unit_amount, "tiers")
        _require_amount(tier.flat_amount, "tiers")
        last = i == len(tiers) - 1
        if tier.up_to is None:
            if not last:
                raise InvalidInput("only the last tier may have up_to 'inf'", param="tiers")
            continue
        if type(tier.up_to) is not int or tier.up_to <= previous:
            raise InvalidInput(
                "tiers must have strictly ascending positive up_to bounds", param="tiers"
            )
        previous = tier.up_to
    if tiers[-1].up_to is not None:
        raise InvalidInput("the last tier must have up_to 'inf'", param="tiers")


def billable_quantity(price: Price, quantity: int) -> int:
    tq = price.transform_quantity
    if tq is None:
        return quantity
    whole, rest = divmod(quantity, tq.divide_by)
    return whole + 1 if rest and tq.round == "up" else whole


def amount_for_quantity(price: Price, quantity: int) -> int:
    """What ``quantity`` units cost at ``price``, in minor units (exact integers).

    per_unit: ``unit_amount * billable_quantity`` (package pricing divides first).
    tiered graduated: sum over tiers of the units in that tier x its unit_amount, plus
    the flat_amount of every tier the quantity reaches (a quantity of 0 costs 0).
    tiered volume: the tier the whole quantity falls in: quantity x unit_amount +
    flat_amount (a quantity of 0 costs 0).
    """
    if type(quantity) is not int or quantity < 0:
        raise InvalidInput("quantity must be a non-negative integer", param="quantity")
    if price.billing_scheme == "per_unit":
        return int(price.unit_amount or 0) * billable_quantity(price, quantity)
    if quantity == 0:
        return 0
    if price.tiers_mode == "volume":
        for tier in price.tiers:
            if tier.up_to is None or quantity <= tier.up_to:
                return quantity * tier.unit_amount + tier.flat_amount
        raise InvalidInput("quantity beyond the last tier", param="quantity")  # pragma: no cover
    total = 0
    lower = 0
    for tier in price.tiers:
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = upper - lower
        if units <= 0:
            break
        total += units * tier.unit_amount + tier.flat_amount
        lower = upper
    return total
