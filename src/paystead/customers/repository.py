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


async def insert(conn: AsyncConnection, customer: Customer) -> None:
    await conn.execute(
        customers.insert().values(
            id=customer.id,
            email=customer.email,
            name=customer.name,
            phone=customer.phone,
            metadata=customer.metadata,
            created_at=customer.created_at,
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
    )


async def ensure_exists(conn: AsyncConnection, customer_id: str, *, param: str) -> None:
    found = await conn.execute(sa.select(customers.c.id).where(customers.c.id == customer_id))
    if found.first() is None:
        raise NotFound("customer", customer_id, param=param)
