"""Invoices in the database (one row each, lines as JSON), inside the caller's transaction."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing.invoices import Invoice, InvoiceLine
from paystead.billing.tax.base import TaxLine
from paystead.errors import NotFound
from paystead.platform.db import insert_ignoring_conflicts
from paystead.platform.schema import invoices

_SCALARS = [f.name for f in fields(Invoice) if f.name not in ("lines",) and f.name in invoices.c]


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def line_to_json(line: InvoiceLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "description": line.description,
        "quantity": line.quantity,
        "amount": line.amount,
        "kind": line.kind,
        "price_id": line.price_id,
        "period_start": line.period_start.isoformat() if line.period_start else None,
        "period_end": line.period_end.isoformat() if line.period_end else None,
        "discount_amount": line.discount_amount,
        "tax_rate": str(line.tax_rate),
        "tax_code": line.tax_code,
        "tax_behavior": line.tax_behavior,
        "taxable_amount": line.taxable_amount,
        "tax_amount": line.tax_amount,
        "tax_lines": [t.to_json() for t in line.tax_lines],
    }


def line_from_json(data: dict[str, Any]) -> InvoiceLine:
    return InvoiceLine(
        id=data["id"],
        description=data["description"],
        quantity=int(data["quantity"]),
        amount=int(data["amount"]),
        kind=data["kind"],
        price_id=data.get("price_id"),
        period_start=_dt(data.get("period_start")),
        period_end=_dt(data.get("period_end")),
        discount_amount=int(data.get("discount_amount", 0)),
        tax_rate=Decimal(data.get("tax_rate", "0")),
        tax_code=data.get("tax_code"),
        tax_behavior=data.get("tax_behavior", "exclusive"),
        taxable_amount=int(data.get("taxable_amount", 0)),
        tax_amount=int(data.get("tax_amount", 0)),
        tax_lines=tuple(TaxLine.from_json(t) for t in data.get("tax_lines", [])),
    )


def _values(invoice: Invoice) -> dict[str, Any]:
    values = {name: getattr(invoice, name) for name in _SCALARS}
    values["lines"] = [line_to_json(x) for x in invoice.lines]
    return values


def from_row(m: Any) -> Invoice:
    kwargs = {name: m[name] for name in _SCALARS}
    kwargs["lines"] = tuple(line_from_json(x) for x in m["lines"])
    kwargs["metadata"] = m["metadata"] or {}
    kwargs["customer_snapshot"] = m["customer_snapshot"] or {}
    kwargs["seller_snapshot"] = m["seller_snapshot"] or {}
    return Invoice(**kwargs)


async def insert(conn: AsyncConnection, invoice: Invoice, *, now: datetime) -> bool:
    """Insert; False when an invoice with the same ``source_key`` exists already."""
    values = _values(invoice) | {"updated_at": now}
    if invoice.source_key is None:
        await conn.execute(invoices.insert().values(values))
        return True
    inserted = await conn.execute(
        insert_ignoring_conflicts(conn.dialect.name, invoices, values).returning(invoices.c.id)
    )
    return inserted.scalar() is not None


async def update(conn: AsyncConnection, invoice: Invoice, *, now: datetime) -> None:
    values = _values(invoice) | {"updated_at": now}
    values.pop("id")
    await conn.execute(invoices.update().where(invoices.c.id == invoice.id).values(values))


async def get(
    conn: AsyncConnection, invoice_id: str, *, lock: bool = False, param: str | None = None
) -> Invoice:
    query = sa.select(invoices).where(invoices.c.id == invoice_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("invoice", invoice_id, param=param)
    return from_row(row._mapping)


async def get_by_source_key(conn: AsyncConnection, source_key: str) -> Invoice:
    row = (await conn.execute(sa.select(invoices).where(invoices.c.source_key == source_key))).one()
    return from_row(row._mapping)


async def list_invoices(
    conn: AsyncConnection,
    *,
    customer: str | None,
    subscription: str | None,
    status: str | None,
    limit: int,
    starting_after: str | None,
) -> tuple[list[Invoice], bool]:
    """Newest first; ids are time-ordered, so the cursor is the last id seen."""
    query = sa.select(invoices).order_by(invoices.c.id.desc()).limit(limit + 1)
    if customer is not None:
        query = query.where(invoices.c.customer_id == customer)
    if subscription is not None:
        query = query.where(invoices.c.subscription_id == subscription)
    if status is not None:
        query = query.where(invoices.c.status == status)
    if starting_after is not None:
        query = query.where(invoices.c.id < starting_after)
    rows = (await conn.execute(query)).all()
    return [from_row(r._mapping) for r in rows[:limit]], len(rows) > limit
