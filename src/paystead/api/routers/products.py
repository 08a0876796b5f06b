"""/v1/products and /v1/prices (billing catalog)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    PageLimit,
    ServicesDep,
    idempotency,
    json_response,
    respond,
)
from paystead.api.schemas_billing import (
    PriceCreate,
    PriceList,
    PriceOut,
    PriceUpdate,
    ProductCreate,
    ProductList,
    ProductOut,
)
from paystead.billing.catalog import Price, Product, Recurring, Tier, TransformQuantity
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/products", tags=["billing"])
prices_router = APIRouter(prefix="/v1/prices", tags=["billing"])


def _product_created(product: Product) -> StoredResponse:
    return json_response(201, ProductOut.of(product))


def _price_created(price: Price) -> StoredResponse:
    return json_response(201, PriceOut.of(price))


@router.post("", status_code=201, response_model=ProductOut)
async def create_product(
    body: ProductCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    idem = idempotency(request, services, api_key, idempotency_key, body, _product_created)
    product = await services.catalog.create_product(
        name=body.name,
        description=body.description,
        tax_code=body.tax_code,
        tax_rate=body.tax_rate,
        metadata=body.metadata,
        idem=idem,
    )
    return respond(idem, lambda: _product_created(product))


@router.get("", response_model=ProductList)
async def list_products(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 100,
) -> ProductList:
    found = await services.catalog.list_products(limit=limit)
    return ProductList(data=[ProductOut.of(p) for p in found])


@router.get("/{product_id}", response_model=ProductOut)
async def get_product(product_id: str, services: ServicesDep, api_key: CurrentKey) -> ProductOut:
    return ProductOut.of(await services.catalog.get_product(product_id))


@prices_router.post("", status_code=201, response_model=PriceOut)
async def create_price(
    body: PriceCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    idem = idempotency(request, services, api_key, idempotency_key, body, _price_created)
    draft = Price(
        id="",
        product_id=body.product,
        currency=body.currency,
        created_at=services.clock(),
        unit_amount=body.unit_amount,
        recurring=Recurring(**body.recurring.model_dump()) if body.recurring else None,
        tax_behavior=body.tax_behavior,
        billing_scheme=body.billing_scheme,
        tiers_mode=body.tiers_mode,
        tiers=tuple(
            Tier(
                up_to=None if t.up_to == "inf" else t.up_to,
                unit_amount=t.unit_amount,
                flat_amount=t.flat_amount,
            )
            for t in body.tiers or []
        ),
        transform_quantity=(
            TransformQuantity(**body.transform_quantity.model_dump())
            if body.transform_quantity
            else None
        ),
        nickname=body.nickname,
        metadata=body.metadata,
    )
    price = await services.catalog.create_price(draft, idem)
    return respond(idem, lambda: _price_created(price))


@prices_router.get("", response_model=PriceList)
async def list_prices(
    services: ServicesDep,
    api_key: CurrentKey,
    product: Annotated[str | None, Query(max_length=40)] = None,
    active: bool | None = None,
    limit: PageLimit = 100,
) -> PriceList:
    found = await services.catalog.list_prices(product=product, active=active, limit=limit)
    return PriceList(data=[PriceOut.of(p) for p in found])


@prices_router.get("/{price_id}", response_model=PriceOut)
async def get_price(price_id: str, services: ServicesDep, api_key: CurrentKey) -> PriceOut:
    return PriceOut.of(await services.catalog.get_price(price_id))


@prices_router.post("/{price_id}", response_model=PriceOut)
async def update_price(
    price_id: str, body: PriceUpdate, services: ServicesDep, api_key: CurrentKey
) -> PriceOut:
    """Only ``active`` can change: invoices point at prices as they were."""
    return PriceOut.of(await services.catalog.set_price_active(price_id, body.active))
