"""Customer use cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from paystead.customers import repository as repo
from paystead.customers.repository import Customer
from paystead.events import recorders
from paystead.ids import new_id
from paystead.platform.db import Database
from paystead.platform.idempotency import Idempotency, NoIdempotency


class CustomerService:
    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    async def create(
        self,
        *,
        email: str,
        name: str,
        phone: str | None = None,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency | None = None,
    ) -> Customer:
        idem = idem or NoIdempotency()
        customer = Customer(
            id=new_id("cus"),
            email=email,
            name=name,
            phone=phone,
            metadata=metadata or {},
            created_at=self.clock(),
        )
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, customer.id)
            if resumed is not None:
                customer = await repo.get(conn, resumed)
            else:
                await repo.insert(conn, customer)
                await recorders.customer_created(conn, customer)
            await idem.complete(conn, customer)
        return customer

    async def get(self, customer_id: str) -> Customer:
        async with self.db.transaction() as conn:
            return await repo.get(conn, customer_id)
