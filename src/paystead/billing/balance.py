"""Customer credit balance: prepaid credit per customer and currency.

``customer_balances`` holds the running balance (positive: credit the customer holds;
never negative, a CHECK says so); every change is a row in
``customer_balance_transactions`` written in the same transaction, with its
``ending_balance``. A change's ``source_key`` (e.g. ``"inv_...:applied"``) is unique, so
the same cause never moves the balance twice, however many times it is retried.

Invoices use the credit at finalization, before charging (``invoice_service``); credit
notes and invoices whose total is negative (proration credits) add to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.customers import repository as customers
from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.money import Money
from paystead.money import currency as currency_info
from paystead.platform.db import Database, insert_ignoring_conflicts
from paystead.platform.idempotency import Idempotency, NoIdempotency
from paystead.platform.schema import customer_balance_transactions as txns
from paystead.platform.schema import customer_balances as balances

TYPES = ("adjustment", "applied_to_invoice", "credit_note", "invoice_credit", "unapplied")


@dataclass(frozen=True)
class BalanceTransaction:
    id: str
    customer_id: str
    currency: str
    amount: int
    ending_balance: int
    type: str
    created_at: datetime
    description: str | None = None
    invoice_id: str | None = None
    credit_note_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["object"] = "customer_balance_transaction"
        data["customer"] = data.pop("customer_id")
        data["invoice"] = data.pop("invoice_id")
        data["credit_note"] = data.pop("credit_note_id")
        data["created_at"] = self.created_at.isoformat()
        return data


def _txn(m: Any) -> BalanceTransaction:
    return BalanceTransaction(
        id=m["id"],
        customer_id=m["customer_id"],
        currency=m["currency"],
        amount=m["amount"],
        ending_balance=m["ending_balance"],
        type=m["type"],
        description=m["description"],
        invoice_id=m["invoice_id"],
        credit_note_id=m["credit_note_id"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
    )


async def current(
    conn: AsyncConnection, customer_id: str, currency: str, *, lock: bool = False
) -> int:
    query = sa.select(balances.c.balance).where(
        balances.c.customer_id == customer_id, balances.c.currency == currency
    )
    if lock:
        query = query.with_for_update()
    value = (await conn.execute(query)).scalar()
    return int(value or 0)


async def apply(
    conn: AsyncConnection,
    *,
    customer_id: str,
    currency: str,
    amount: int,
    type: str,
    at: datetime,
    source_key: str | None = None,
    description: str | None = None,
    invoice_id: str | None = None,
    credit_note_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> BalanceTransaction:
    """Move the balance by ``amount`` (signed) in the caller's transaction.

    A ``source_key`` seen before returns the earlier transaction and changes nothing.
    Using more credit than there is raises Conflict (the CHECK would too).
    """
    if type not in TYPES:
        raise ValueError(f"unknown balance transaction type {type!r}")
    if amount == 0:
        raise InvalidInput("amount must not be zero", code="amount_invalid", param="amount")
    Money(amount, currency)  # range and currency checks
    txn_id = new_id("cbtxn")
    inserted = (
        await conn.execute(
            insert_ignoring_conflicts(
                conn.dialect.name,
                txns,
                {
                    "id": txn_id,
                    "customer_id": customer_id,
                    "currency": currency,
                    "amount": amount,
                    "ending_balance": 0,
                    "type": type,
                    "description": description,
                    "invoice_id": invoice_id,
                    "credit_note_id": credit_note_id,
                    "source_key": source_key,
                    "metadata": metadata or {},
                    "created_at": at,
                },
            ).returning(txns.c.id)
        )
    ).scalar()
    if inserted is None:
        row = (await conn.execute(sa.select(txns).where(txns.c.source_key == source_key))).one()
        return _txn(row._mapping)
    await conn.execute(
        insert_ignoring_conflicts(
            conn.dialect.name,
            balances,
            {"customer_id": customer_id, "currency": currency, "balance": 0},
        )
    )
    ending = (
        await conn.execute(
            balances.update()
            .where(
                balances.c.customer_id == customer_id,
                balances.c.currency == currency,
                balances.c.balance + amount >= 0,
            )
            .values(balance=balances.c.balance + amount)
            .returning(balances.c.balance)
        )
    ).scalar()
    if ending is None:
        raise Conflict(
            f"the customer's {currency} credit balance is smaller than {-amount}",
            code="balance_insufficient",
            param="amount",
        )
    await conn.execute(txns.update().where(txns.c.id == txn_id).values(ending_balance=int(ending)))
    row = (await conn.execute(sa.select(txns).where(txns.c.id == txn_id))).one()
    txn = _txn(row._mapping)
    await record(conn, catalog.CUSTOMER_BALANCE_TRANSACTION_CREATED, txn.to_json(), at=at)
    return txn


class BalanceService:
    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    async def adjust(
        self,
        *,
        customer_id: str,
        amount: int,
        currency: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency | None = None,
    ) -> BalanceTransaction:
        """A manual adjustment or prepaid credit (positive adds credit)."""
        idem = idem or NoIdempotency()
        code = currency_info(currency).code
        async with self.db.transaction() as conn:
            key = new_id("cbtxn")
            resumed = await idem.begin(conn, key)
            if resumed is not None:
                row = (
                    await conn.execute(sa.select(txns).where(txns.c.source_key == resumed))
                ).first()
                if row is None:
                    raise NotFound("customer_balance_transaction", resumed)
                txn = _txn(row._mapping)
            else:
                await customers.ensure_exists(conn, customer_id, param="customer")
                txn = await apply(
                    conn,
                    customer_id=customer_id,
                    currency=code,
                    amount=amount,
                    type="adjustment",
                    at=self.clock(),
                    source_key=key,
                    description=description,
                    metadata=metadata,
                )
            await idem.complete(conn, txn)
        return txn

    async def balance(self, customer_id: str, currency: str) -> int:
        async with self.db.transaction() as conn:
            return await current(conn, customer_id, currency_info(currency).code)

    async def list(self, customer_id: str, *, limit: int = 100) -> list[BalanceTransaction]:
        async with self.db.transaction() as conn:
            await customers.ensure_exists(conn, customer_id, param="customer")
            rows = await conn.execute(
                sa.select(txns)
                .where(txns.c.customer_id == customer_id)
                .order_by(txns.c.id.desc())
                .limit(limit)
            )
            return [_txn(r._mapping) for r in rows]
