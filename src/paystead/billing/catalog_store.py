"""Products and prices in the database, and their use cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing.catalog import (
    Price,
    Product,
    Recurring,
    Tier,
    TransformQuantity,
    validate_price,
    validate_tax_code,
    validate_tax_rate,
)
from paystead.errors import NotFound
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.platform.db import Database
from paystead.platform.idempotency import Idempotency, NoIdempotency
from paystead.platform.schema import prices, products


def product_object(p: Product) -> dict[str, Any]:
    return {
        "id": p.id,
        "object": "product",
        "name": p.name,
        "description": p.description,
        "tax_code": p.tax_code,
        "tax_rate": str(p.tax_rate),
        "active": p.active,
        "metadata": p.metadata,
        "created_at": p.created_at.isoformat(),
    }


def price_object(p: Price) -> dict[str, Any]:
    return {
        "id": p.id,
        "object": "price",
        "product": p.product_id,
        "currency": p.currency,
        "unit_amount": p.unit_amount,
        "recurring": p.recurring.to_json() if p.recurring else None,
        "tax_behavior": p.tax_behavior,
        "billing_scheme": p.billing_scheme,
        "tiers_mode": p.tiers_mode,
        "tiers": [t.to_json() for t in p.tiers] or None,
        "transform_quantity": p.transform_quantity.to_json() if p.transform_quantity else None,
        "active": p.active,
        "metadata": p.metadata,
        "created_at": p.created_at.isoformat(),
    }


def _product(m: Any) -> Product:
    return Product(
        id=m["id"],
        name=m["name"],
        description=m["description"],
        tax_code=m["tax_code"],
        tax_rate=Decimal(m["tax_rate"]),
        active=bool(m["active"]),
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
    )


def _price(m: Any) -> Price:
    r = m["recurring"]
    tq = m["transform_quantity"]
    return Price(
        id=m["id"],
        product_id=m["product_id"],
        currency=m["currency"],
        unit_amount=m["unit_amount"],
        recurring=Recurring(**r) if r else None,
        tax_behavior=m["tax_behavior"],
        billing_scheme=m["billing_scheme"],
        tiers_mode=m["tiers_mode"],
        tiers=tuple(
            Tier(
                up_to=None if t["up_to"] == "inf" else int(t["up_to"]),
                unit_amount=int(t["unit_amount"]),
                flat_amount=int(t["flat_amount"]),
            )
            for t in (m["tiers"] or [])
        ),
        transform_quantity=TransformQuantity(**tq) if tq else None,
        active=bool(m["active"]),
        nickname=m["nickname"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
    )


async def get_product(
    conn: AsyncConnection, product_id: str, *, param: str | None = None
) -> Product:
    row = (await conn.execute(sa.select(products).where(products.c.id == product_id))).first()
    if row is None:
        raise NotFound("product", product_id, param=param)
    return _product(row._mapping)


async def get_price(conn: AsyncConnection, price_id: str, *, param: str | None = None) -> Price:
    row = (await conn.execute(sa.select(prices).where(prices.c.id == price_id))).first()
    if row is None:
        raise NotFound("price", price_id, param=param)
    return _price(row._mapping)


class CatalogStore:
    def __init__(self, db: Database, clock: Callable[[], datetime], *, india: bool = True):
        self.db = db
        self.clock = clock
        #: Whether product tax rates must be GST slabs (the seller is GST-registered).
        self.india = india

    async def create_product(
        self,
        *,
        name: str,
        tax_rate: object = "0",
        tax_code: str | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency | None = None,
    ) -> Product:
        idem = idem or NoIdempotency()
        product = Product(
            id=new_id("prod"),
            name=name,
            description=description,
            tax_code=validate_tax_code(tax_code),
            tax_rate=validate_tax_rate(tax_rate, india=self.india),
            metadata=metadata or {},
            created_at=self.clock(),
        )
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, product.id)
            if resumed is not None:
                product = await get_product(conn, resumed)
            else:
                await conn.execute(
                    products.insert().values(
                        id=product.id,
                        name=product.name,
                        description=product.description,
                        tax_code=product.tax_code,
                        tax_rate=str(product.tax_rate),
                        active=True,
                        metadata=product.metadata,
                        created_at=product.created_at,
                    )
                )
                await record(
                    conn, catalog.PRODUCT_CREATED, product_object(product), at=product.created_at
                )
            await idem.complete(conn, product)
        return product

    async def create_price(self, price: Price, idem: Idempotency | None = None) -> Price:
        """Insert ``price`` (its id and created_at are assigned here)."""
        idem = idem or NoIdempotency()
        price = validate_price(replace(price, id=new_id("price"), created_at=self.clock()))
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, price.id)
            if resumed is not None:
                price = await get_price(conn, resumed)
            else:
                await get_product(conn, price.product_id, param="product")
                await conn.execute(
                    prices.insert().values(
                        id=price.id,
                        product_id=price.product_id,
                        currency=price.currency.upper(),
                        unit_amount=price.unit_amount,
                        recurring=price.recurring.to_json() if price.recurring else None,
                        tax_behavior=price.tax_behavior,
                        billing_scheme=price.billing_scheme,
                        tiers_mode=price.tiers_mode,
                        tiers=[t.to_json() for t in price.tiers] or None,
                        transform_quantity=(
                            price.transform_quantity.to_json() if price.transform_quantity else None
                        ),
                        active=price.active,
                        nickname=price.nickname,
                        metadata=price.metadata,
                        created_at=price.created_at,
                    )
                )
                price = replace(price, currency=price.currency.upper())
                await record(conn, catalog.PRICE_CREATED, price_object(price), at=price.created_at)
            await idem.complete(conn, price)
        return price

    async def set_price_active(self, price_id: str, active: bool) -> Price:
        """The only change a price allows (invoices point at prices as they were)."""
        async with self.db.transaction() as conn:
            await get_price(conn, price_id)
            await conn.execute(prices.update().where(prices.c.id == price_id).values(active=active))
            return await get_price(conn, price_id)

    async def set_product_active(self, product_id: str, active: bool) -> Product:
        async with self.db.transaction() as conn:
            await get_product(conn, product_id)
            await conn.execute(
                products.update().where(products.c.id == product_id).values(active=active)
            )
            return await get_product(conn, product_id)

    async def get_price(self, price_id: str) -> Price:
        async with self.db.transaction() as conn:
            return await get_price(conn, price_id)

    async def get_product(self, product_id: str) -> Product:
        async with self.db.transaction() as conn:
            return await get_product(conn, product_id)

    async def list_prices(
        self, *, product: str | None = None, active: bool | None = None, limit: int = 100
    ) -> list[Price]:
        query = sa.select(prices).order_by(prices.c.id.desc()).limit(limit)
        if product is not None:
            query = query.where(prices.c.product_id == product)
        if active is not None:
            query = query.where(prices.c.active == active)
        async with self.db.transaction() as conn:
            return [_price(r._mapping) for r in await conn.execute(query)]

    async def list_products(self, *, limit: int = 100) -> list[Product]:
        query = sa.select(products).order_by(products.c.id.desc()).limit(limit)
        async with self.db.transaction() as conn:
            return [_product(r._mapping) for r in await conn.execute(query)]
