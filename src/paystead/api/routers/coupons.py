"""/v1/coupons and /v1/promotion_codes (billing/coupons.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    PageLimit,
    ServicesDep,
    StartingAfter,
    idempotency,
    json_response,
    respond,
)
from paystead.api.schemas import at
from paystead.api.schemas_usage import (
    CouponCreate,
    CouponList,
    CouponOut,
    PromotionCodeCreate,
    PromotionCodeList,
    PromotionCodeOut,
)
from paystead.billing.coupons import Coupon, PromotionCode
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/coupons", tags=["coupons"])
codes_router = APIRouter(prefix="/v1/promotion_codes", tags=["coupons"])


def _coupon_created(coupon: Coupon) -> StoredResponse:
    return json_response(201, CouponOut.of(coupon))


def _code_created(code: PromotionCode) -> StoredResponse:
    return json_response(201, PromotionCodeOut.of(code))


@router.post("", status_code=201, response_model=CouponOut)
async def create_coupon(
    body: CouponCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    idem = idempotency(request, services, api_key, idempotency_key, body, _coupon_created)
    coupon = await services.coupons.create_coupon(
        name=body.name,
        percent_off=str(body.percent_off) if body.percent_off is not None else None,
        amount_off=body.amount_off,
        currency=body.currency,
        duration=body.duration,
        duration_in_periods=body.duration_in_periods,
        redeem_by=at(body.redeem_by),
        max_redemptions=body.max_redemptions,
        applies_to_products=body.applies_to_products,
        idem=idem,
    )
    return respond(idem, lambda: _coupon_created(coupon))


@router.get("", response_model=CouponList)
async def list_coupons(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: StartingAfter = None,
) -> CouponList:
    found = await services.coupons.list_coupons(limit=limit + 1, starting_after=starting_after)
    return CouponList(data=[CouponOut.of(c) for c in found[:limit]], has_more=len(found) > limit)


@router.get("/{coupon_id}", response_model=CouponOut)
async def get_coupon(coupon_id: str, services: ServicesDep, api_key: CurrentKey) -> CouponOut:
    return CouponOut.of(await services.coupons.get_coupon(coupon_id))


@codes_router.post("", status_code=201, response_model=PromotionCodeOut)
async def create_promotion_code(
    body: PromotionCodeCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    idem = idempotency(request, services, api_key, idempotency_key, body, _code_created)
    code = await services.coupons.create_promotion_code(
        code=body.code,
        coupon_id=body.coupon,
        active=body.active,
        expires_at=at(body.expires_at),
        max_redemptions=body.max_redemptions,
        first_time_transaction=body.first_time_transaction,
        idem=idem,
    )
    return respond(idem, lambda: _code_created(code))


@codes_router.get("", response_model=PromotionCodeList)
async def list_promotion_codes(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: StartingAfter = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    coupon: Annotated[str | None, Query(max_length=40)] = None,
) -> PromotionCodeList:
    """Filter by ``code`` (any case) or ``coupon``."""
    found = await services.coupons.list_promotion_codes(
        code=code, coupon_id=coupon, limit=limit + 1, starting_after=starting_after
    )
    return PromotionCodeList(
        data=[PromotionCodeOut.of(p) for p in found[:limit]], has_more=len(found) > limit
    )


@codes_router.get("/{promotion_code_id}", response_model=PromotionCodeOut)
async def get_promotion_code(
    promotion_code_id: str, services: ServicesDep, api_key: CurrentKey
) -> PromotionCodeOut:
    return PromotionCodeOut.of(await services.coupons.get_promotion_code(promotion_code_id))
