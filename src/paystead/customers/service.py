"""Customer use cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from paystead.billing import customer_details as details
from paystead.billing.clocks import get_clock
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
        address: dict[str, Any] | None = None,
        tax_id: str | None = None,
        payment_method: str | None = None,
        locale: str | None = None,
        test_clock: str | None = None,
    ) -> Customer:
        idem = idem or NoIdempotency()
        address = details.validate_address(address)
        customer = Customer(
            address=address,
            tax_id=details.validate_tax_id(tax_id, address),
            payment_method=details.validate_payment_method(payment_method),
            locale=details.validate_locale(locale),
            test_clock_id=test_clock,
            id=new_id("cus"),
            email=email,
            name=name,
            phone=phone,
            metadata=metadata or {},
            created_at=self.clock(),
        )
        async with self.db.transaction() as conn:
            if test_clock is not None:  # billing/clocks.py: NotFound naming test_clock
                await get_clock(conn, test_clock, param="test_clock")
            resumed = await idem.begin(conn, customer.id)
            if resumed is not None:
                customer = await repo.get(conn, resumed)
            else:
                await repo.insert(conn, customer)
                await recorders.customer_created(conn, customer)
            await idem.complete(conn, customer)
        return customer

    async def update(self, customer_id: str, changes: dict[str, Any]) -> Customer:
        """Change the fields in ``changes`` (name, phone, metadata, address, tax_id,
        payment_method, locale); ``None`` clears an optional one."""
        values = dict(changes)
        async with self.db.transaction() as conn:
            current = await repo.get(conn, customer_id)
            if "address" in values:
                values["address"] = details.validate_address(values["address"])
            if "tax_id" in values or "address" in values:
                address = values.get("address", current.address)
                tax_id = values.get("tax_id", current.tax_id)
                values["tax_id"] = details.validate_tax_id(tax_id, address)
            if "payment_method" in values:
                values["payment_method"] = details.validate_payment_method(values["payment_method"])
            if "locale" in values:
                values["locale"] = details.validate_locale(values["locale"])
            return await repo.update_billing_details(conn, customer_id, values)

    async def get(self, customer_id: str) -> Customer:
        async with self.db.transaction() as conn:
            return await repo.get(conn, customer_id)
