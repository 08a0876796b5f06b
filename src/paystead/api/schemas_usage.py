"""Request and response bodies for meters, meter events, coupons and promotion codes.

Times are unix seconds, as everywhere in the API. ``percent_off`` is a decimal string
(``"12.5"``) or an integer, never a JSON float, so no binary rounding reaches a discount.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints

from paystead.api.schemas import (
    CurrencyCode,
    Input,
    ObjectId,
    Output,
    StrictBool,
    UnixTime,
)
from paystead.billing.coupons import Coupon, PromotionCode
from paystead.billing.usage import MAX_GRACE, Meter, MeterEvent
from paystead.money import MAX_AMOUNT

#: PostgreSQL text cannot hold NUL characters: refuse them as input, not as a 500.
NO_NUL = r"^[^\x00]*$"
MAX_GRACE_SECONDS = int(MAX_GRACE.total_seconds())
MeterKey = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
]


def _unix(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


# -- meters -------------------------------------------------------------------------


class MeterCreate(Input):
    key: MeterKey = Field(description="What meter events name, e.g. api_calls")
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    aggregation: Literal["sum", "count", "max", "last", "unique_count"]
    grace_seconds: Annotated[int, Field(strict=True, ge=0, le=MAX_GRACE_SECONDS)] | None = Field(
        default=None,
        description="How late an event may arrive (default PAYSTEAD_METER_EVENT_GRACE_HOURS)",
    )


class MeterOut(Output):
    id: str
    object: Literal["meter"] = "meter"
    key: str
    display_name: str
    aggregation: str
    grace_seconds: int
    created: int

    @classmethod
    def of(cls, m: Meter) -> MeterOut:
        return cls(
            id=m.id,
            key=m.key,
            display_name=m.display_name,
            aggregation=m.aggregation.value,
            grace_seconds=int(m.grace.total_seconds()),
            created=int(m.created_at.timestamp()),
        )


class MeterList(Output):
    object: Literal["list"] = "list"
    data: list[MeterOut]
    has_more: bool = False
    url: str = "/v1/meters"


class MeterSummaryOut(Output):
    object: Literal["meter_summary"] = "meter_summary"
    meter: str
    customer: str
    aggregation: str
    start: int
    end: int
    value: int


class MeterEventCreate(Input):
    customer: ObjectId
    meter: MeterKey = Field(description="The meter's key")
    value: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)] = 1
    timestamp: UnixTime | None = Field(default=None, description="When it happened (default now)")
    identifier: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)] = (
        Field(description="Unique per customer and meter: a repeated identifier counts once")
    )
    unique_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)] | None
    ) = Field(
        default=None, description="What unique_count meters count distinct (default the value)"
    )


class MeterEventOut(Output):
    id: str
    object: Literal["meter_event"] = "meter_event"
    customer: str
    meter: str
    value: int
    unique_key: str | None
    timestamp: int
    identifier: str
    created: int

    @classmethod
    def of(cls, e: MeterEvent) -> MeterEventOut:
        return cls(
            id=e.id,
            customer=e.customer_id,
            meter=e.meter_key,
            value=e.value,
            unique_key=e.unique_key,
            timestamp=int(e.timestamp.timestamp()),
            identifier=e.identifier,
            created=int(e.created_at.timestamp()),
        )


# -- coupons ------------------------------------------------------------------------


def _percent_text(value: object) -> object:
    """A decimal string or an integer, as text; a JSON float (binary) is refused."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('percent_off must be a decimal string such as "12.5", or an integer')
    return str(value)


PercentOff = Annotated[
    str,
    BeforeValidator(_percent_text),
    StringConstraints(max_length=12, pattern=r"^-?\d+(\.\d+)?$"),
]


class CouponCreate(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)] | None = (
        None
    )
    percent_off: PercentOff | None = Field(
        default=None, description='Percent as a decimal string, e.g. "12.5" (0 < p <= 100)'
    )
    amount_off: Annotated[int, Field(strict=True)] | None = Field(
        default=None, description="Minor units off each period, in currency"
    )
    currency: CurrencyCode | None = None
    duration: Literal["once", "repeating", "forever"]
    duration_in_periods: Annotated[int, Field(strict=True, ge=1, le=1200)] | None = None
    redeem_by: UnixTime | None = None
    max_redemptions: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] | None = None
    applies_to_products: Annotated[list[ObjectId], Field(min_length=1, max_length=100)] | None = (
        None
    )


class CouponOut(Output):
    id: str
    object: Literal["coupon"] = "coupon"
    name: str | None
    percent_off: str | None
    amount_off: int | None
    currency: str | None
    duration: str
    duration_in_periods: int | None
    redeem_by: int | None
    max_redemptions: int | None
    times_redeemed: int
    applies_to_products: list[str] | None
    created: int

    @classmethod
    def of(cls, c: Coupon) -> CouponOut:
        return cls(
            id=c.id,
            name=c.name,
            percent_off=str(c.percent_off) if c.percent_off is not None else None,
            amount_off=c.amount_off,
            currency=c.currency,
            duration=c.duration.value,
            duration_in_periods=c.duration_in_periods,
            redeem_by=_unix(c.redeem_by),
            max_redemptions=c.max_redemptions,
            times_redeemed=c.times_redeemed,
            applies_to_products=list(c.applies_to_products) if c.applies_to_products else None,
            created=int(c.created_at.timestamp()),
        )


class CouponList(Output):
    object: Literal["list"] = "list"
    data: list[CouponOut]
    has_more: bool
    url: str = "/v1/coupons"


class PromotionCodeCreate(Input):
    code: Annotated[
        str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    ]
    coupon: ObjectId
    active: StrictBool = True
    expires_at: UnixTime | None = None
    max_redemptions: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] | None = None
    first_time_transaction: StrictBool = False


class PromotionCodeOut(Output):
    id: str
    object: Literal["promotion_code"] = "promotion_code"
    code: str
    coupon: str
    active: bool
    expires_at: int | None
    max_redemptions: int | None
    times_redeemed: int
    first_time_transaction: bool
    created: int

    @classmethod
    def of(cls, p: PromotionCode) -> PromotionCodeOut:
        return cls(
            id=p.id,
            code=p.code,
            coupon=p.coupon_id,
            active=p.active,
            expires_at=_unix(p.expires_at),
            max_redemptions=p.max_redemptions,
            times_redeemed=p.times_redeemed,
            first_time_transaction=p.first_time_transaction,
            created=int(p.created_at.timestamp()),
        )


class PromotionCodeList(Output):
    object: Literal["list"] = "list"
    data: list[PromotionCodeOut]
    has_more: bool
    url: str = "/v1/promotion_codes"
