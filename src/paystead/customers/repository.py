"""Customers in the database, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import NotFound
from paystead.platform.schema import customers


@dataclass
class Customer:
    id: str
    email: str
    name: str
    created_at: datetime
    phone: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # -- billing details (migration 0010, billing/customer_details.py) --
    address: dict[str, Any] | None = None
    tax_id: str | None = None
    #: The default payment method invoices and renewals charge.
    payment_method: str | None = None
    locale: str | None = None
    #: The test clock the customer lives on (billing/clocks.py, migration 0011).
    test_clock_id: str | None = None


async def insert(conn: AsyncConnection, customer: Customer) -> None:
    await conn.execute(
        customers.insert().values(
            id=customer.id,
            email=customer.email,
            name=customer.name,
            phone=customer.phone,
            metadata=customer.metadata,
            created_at=customer.created_at,
            address=customer.address,
            tax_id=customer.tax_id,
            payment_method=customer.payment_method,
            locale=customer.locale,
            test_clock_id=customer.test_clock_id,
        )
    )


async def get(conn: AsyncConnection, customer_id: str) -> Customer:
    row = (await conn.execute(sa.select(customers).where(customers.c.id == customer_id))).first()
    if row is None:
        raise NotFound("customer", customer_id)
    m = row._mapping
    return Customer(
        id=m["id"],
        email=m["email"],
        name=m["name"],
        phone=m["phone"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
        address=m["address"],
        tax_id=m["tax_id"],
        payment_method=m["payment_method"],
        locale=m["locale"],
        test_clock_id=m["test_clock_id"],
    )


async def ensure_exists(conn: AsyncConnection, customer_id: str, *, param: str) -> None:
    found = await conn.execute(sa.select(customers.c.id).where(customers.c.id == customer_id))
    if found.first() is None:
        raise NotFound("customer", customer_id, param=param)


async def update_billing_details(
    conn: AsyncConnection, customer_id: str, values: dict[str, Any]
) -> Customer:
    """Change a customer's name, phone, metadata or billing details (only the keys given)."""
    await get(conn, customer_id)
    if values:
        await conn.execute(customers.update().where(customers.c.id == customer_id).values(values))
    return await get(conn, customer_id)
