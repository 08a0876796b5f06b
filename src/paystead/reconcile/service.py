"""Reconciliation: a gateway's settlement report against our payments, refunds and ledger.

Each report line that is a payment or a refund is looked up by the gateway's reference
(and, for Razorpay payments, the order):

* ``matched``: ours, succeeded, same amount and currency;
* ``amount_mismatch``: ours, but another amount, currency or status;
* ``missing_ours``: the gateway settled it, we have no such object;
* ``missing_gateway``: our succeeded payment or refund at that gateway, created within
  the report's time span, that the report does not list (judged only when the report
  carries times);
* ``other``: adjustments, transfers, disputes, payouts: listed, never matched.

**Fees.** A capture posts the fee the gateway reported then (Razorpay's ``fee``,
Stripe's balance transaction fee when expanded). The settlement's fee is the final one:
for each matched payment line, the difference between it and what is already posted to
``processing_fees`` for that payment is posted as a balanced ``settlement.fee`` entry
(Dr ``processing_fees`` / Cr ``gateway_clearing:<gateway>``, reversed when negative)
with reference ``<gateway>:<line id>``: unique per settlement line, and a re-import
finds the difference already posted and posts nothing. Each entry is its own short
transaction (the balance rows it touches are the busiest in the system).

The run and every line's outcome are stored (``reconciliation_runs``,
``reconciliation_items``); ``GET /v1/reconciliation_runs/{id}`` lists the
discrepancies, and ``paystead reconcile FILE --gateway razorpay`` prints the summary.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import InvalidInput, NotFound
from paystead.events import catalog, outbox
from paystead.ids import new_id
from paystead.ledger.model import JournalEntry, gateway_clearing, processing_fees, transfer
from paystead.ledger.store import LedgerStore
from paystead.money import Money
from paystead.payments import repository as repo
from paystead.payments.model import PaymentStatus, RefundStatus
from paystead.platform.db import Database
from paystead.platform.schema import (
    journal_entries,
    ledger_accounts,
    payments,
    postings,
    reconciliation_items,
    reconciliation_runs,
    refunds,
)
from paystead.reconcile.reports import GATEWAYS, SettlementLine, parse

MATCHED = "matched"
AMOUNT_MISMATCH = "amount_mismatch"
MISSING_OURS = "missing_ours"
MISSING_GATEWAY = "missing_gateway"
OTHER = "other"
OUTCOMES = (MATCHED, AMOUNT_MISMATCH, MISSING_OURS, MISSING_GATEWAY, OTHER)
FEE_ENTRY = "settlement.fee"


@dataclass(frozen=True, slots=True)
class Item:
    outcome: str
    object_type: str
    line_id: str | None = None
    gateway_reference: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    currency: str | None = None
    expected_amount: int | None = None
    reported_amount: int | None = None
    fee: int | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    gateway: str
    source: str
    source_sha256: str
    summary: dict[str, Any]
    created_at: datetime
    items: list[Item] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Fee:
    entry: JournalEntry
    currency: str
    amount: int


def fee_entry(gateway: str, line_id: str, payment_id: str, difference: Money) -> JournalEntry:
    """The settlement's fee beyond what the capture posted (negative: less)."""
    fees, clearing = (
        processing_fees(difference.currency),
        gateway_clearing(gateway, difference.currency),
    )
    amount = difference.amount
    legs = transfer(fees, clearing, amount) if amount > 0 else transfer(clearing, fees, -amount)
    reference = f"{gateway}:{line_id}"
    if len(reference) > 64:
        reference = f"{gateway}:sha256:" + hashlib.sha256(line_id.encode()).hexdigest()[:40]
    return JournalEntry(
        kind=FEE_ENTRY,
        reference=reference,
        postings=legs,
        payment_id=payment_id,
        description=f"settlement fee adjustment {difference} ({gateway} {line_id})",
    )


class ReconciliationService:
    def __init__(self, db: Database, ledger: LedgerStore, clock: Callable[[], datetime]):
        self.db = db
        self.ledger = ledger
        self.clock = clock

    async def run(self, gateway: str, source: str, data: bytes) -> Run:
        if gateway not in GATEWAYS:
            raise InvalidInput(f"unknown gateway {gateway!r}; one of {', '.join(GATEWAYS)}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the report is not UTF-8 text") from exc
        lines = parse(gateway, text)
        async with self.db.transaction() as conn:
            items, fees = await self._match(conn, gateway, lines)
        posted: dict[str, int] = defaultdict(int)
        for fee in fees:
            if await self._post_once(fee.entry):
                posted[fee.currency] += fee.amount
        counts = Counter(item.outcome for item in items)
        summary: dict[str, Any] = {
            "lines": len(lines),
            **{outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
            "fees_posted": dict(posted),
        }
        run = Run(
            id=new_id("rcn"),
            gateway=gateway,
            source=source[-500:],
            source_sha256=hashlib.sha256(data).hexdigest(),
            summary=summary,
            created_at=self.clock(),
            items=items,
        )
        async with self.db.transaction() as conn:
            await conn.execute(
                reconciliation_runs.insert().values(
                    id=run.id,
                    gateway=gateway,
                    source=run.source,
                    source_sha256=run.source_sha256,
                    summary=summary,
                    created_at=run.created_at,
                )
            )
            if items:
                await conn.execute(
                    reconciliation_items.insert(),
                    [{"run_id": run.id, **_item_row(item)} for item in items],
                )
            audited = {"id": run.id, "object": "reconciliation_run", "gateway": gateway, **summary}
            await outbox.record(
                conn, catalog.RECONCILIATION_RUN_COMPLETED, audited, at=run.created_at
            )
        return run

    async def _match(
        self, conn: AsyncConnection, gateway: str, lines: list[SettlementLine]
    ) -> tuple[list[Item], list[_Fee]]:
        items: list[Item] = []
        fees: list[_Fee] = []
        seen_payments: set[str] = set()
        seen_refunds: set[str] = set()
        for line in lines:
            common: dict[str, Any] = {
                "object_type": line.kind,
                "line_id": line.line_id,
                "gateway_reference": line.reference,
                "currency": line.amount.currency,
                "reported_amount": line.amount.amount,
                "fee": line.fee.amount,
            }
            if line.kind == "payment":
                payment_id = await repo.find_payment_id(
                    conn, gateway, order_reference=line.order_reference, reference=line.reference
                )
                if payment_id is None:
                    items.append(Item(MISSING_OURS, **common, detail="no payment of ours"))
                    continue
                seen_payments.add(payment_id)
                payment = await repo.get_payment(conn, payment_id)
                common.update(payment_id=payment.id, expected_amount=payment.amount_captured)
                problem = None
                if payment.currency != line.amount.currency:
                    problem = f"our payment is in {payment.currency}"
                elif payment.status is not PaymentStatus.SUCCEEDED:
                    problem = f"our payment is {payment.status.value}"
                elif payment.amount_captured != line.amount.amount:
                    problem = f"we captured {payment.amount_captured}"
                items.append(
                    Item(AMOUNT_MISMATCH if problem else MATCHED, **common, detail=problem)
                )
                if problem is None:  # a mismatch is for a person to look at first
                    already = await self._fees_posted(conn, gateway, payment.id, payment.currency)
                    difference = line.fee.amount - already
                    if difference:
                        entry = fee_entry(
                            gateway, line.line_id, payment.id, Money(difference, payment.currency)
                        )
                        fees.append(_Fee(entry, payment.currency, difference))
            elif line.kind == "refund":
                refund_id = (
                    await repo.find_refund_id(conn, line.reference) if line.reference else None
                )
                if refund_id is None:
                    items.append(Item(MISSING_OURS, **common, detail="no refund of ours"))
                    continue
                seen_refunds.add(refund_id)
                refund = await repo.get_refund(conn, refund_id)
                common.update(
                    payment_id=refund.payment_id, refund_id=refund.id, expected_amount=refund.amount
                )
                problem = None
                if refund.money != line.amount:
                    problem = f"our refund is {refund.money}"
                elif refund.status is not RefundStatus.SUCCEEDED:
                    problem = f"our refund is {refund.status.value}"
                items.append(
                    Item(AMOUNT_MISMATCH if problem else MATCHED, **common, detail=problem)
                )
            else:
                items.append(Item(OTHER, **common, detail="not a payment or a refund"))
        times = [line.occurred_at for line in lines if line.occurred_at is not None]
        if times:
            items += await self._missing_at_gateway(
                conn, gateway, min(times), max(times), seen_payments, seen_refunds
            )
        return items, fees

    async def _fees_posted(
        self, conn: AsyncConnection, gateway: str, payment_id: str, currency: str
    ) -> int:
        query = (
            sa.select(sa.func.coalesce(sa.func.sum(postings.c.amount), 0))
            .select_from(
                postings.join(journal_entries, postings.c.entry_id == journal_entries.c.id).join(
                    ledger_accounts, postings.c.account_id == ledger_accounts.c.id
                )
            )
            .where(
                journal_entries.c.payment_id == payment_id,
                journal_entries.c.kind.in_(("payment.capture", FEE_ENTRY)),
                ledger_accounts.c.code == processing_fees(currency).code,
                ledger_accounts.c.currency == currency,
            )
        )
        return int((await conn.execute(query)).scalar_one())

    async def _missing_at_gateway(
        self,
        conn: AsyncConnection,
        gateway: str,
        start: datetime,
        end: datetime,
        seen_payments: set[str],
        seen_refunds: set[str],
    ) -> list[Item]:
        found: list[Item] = []
        ours = await conn.execute(
            sa.select(payments.c.id, payments.c.gateway_reference, payments.c.currency)
            .add_columns(payments.c.amount_captured)
            .where(
                payments.c.gateway == gateway,
                payments.c.status == PaymentStatus.SUCCEEDED.value,
                payments.c.created_at >= start,
                payments.c.created_at <= end,
            )
            .order_by(payments.c.id)
        )
        for row in ours:
            if row.id not in seen_payments:
                found.append(
                    Item(
                        MISSING_GATEWAY,
                        "payment",
                        gateway_reference=row.gateway_reference,
                        payment_id=row.id,
                        currency=row.currency,
                        expected_amount=int(row.amount_captured),
                        detail="not in the report",
                    )
                )
        our_refunds = await conn.execute(
            sa.select(refunds)
            .join(payments, refunds.c.payment_id == payments.c.id)
            .where(
                payments.c.gateway == gateway,
                refunds.c.status == RefundStatus.SUCCEEDED.value,
                refunds.c.created_at >= start,
                refunds.c.created_at <= end,
            )
            .order_by(refunds.c.id)
        )
        for row in our_refunds:
            if row.id not in seen_refunds:
                found.append(
                    Item(
                        MISSING_GATEWAY,
                        "refund",
                        gateway_reference=row.gateway_reference,
                        payment_id=row.payment_id,
                        refund_id=row.id,
                        currency=row.currency,
                        expected_amount=int(row.amount),
                        detail="not in the report",
                    )
                )
        return found

    async def _post_once(self, entry: JournalEntry) -> bool:
        """Post ``entry`` unless an entry with its ``(kind, reference)`` exists."""
        async with self.db.transaction() as conn:
            exists = (
                await conn.execute(
                    sa.select(journal_entries.c.id).where(
                        journal_entries.c.kind == entry.kind,
                        journal_entries.c.reference == entry.reference,
                    )
                )
            ).first()
            if exists is not None:
                return False
            await self.ledger.post(conn, entry, at=self.clock())
        return True

    async def get(self, run_id: str, *, discrepancies_only: bool = True) -> Run:
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(reconciliation_runs).where(reconciliation_runs.c.id == run_id)
                )
            ).first()
            if row is None:
                raise NotFound("reconciliation run", run_id)
            query = (
                sa.select(reconciliation_items)
                .where(reconciliation_items.c.run_id == run_id)
                .order_by(reconciliation_items.c.id)
            )
            if discrepancies_only:
                query = query.where(reconciliation_items.c.outcome != MATCHED)
            items = [_item(r) for r in await conn.execute(query)]
        return Run(
            id=row.id,
            gateway=row.gateway,
            source=row.source,
            source_sha256=row.source_sha256,
            summary=dict(row.summary),
            created_at=row.created_at,
            items=items,
        )


_ITEM_FIELDS = (
    "outcome",
    "object_type",
    "line_id",
    "gateway_reference",
    "payment_id",
    "refund_id",
    "currency",
    "expected_amount",
    "reported_amount",
    "fee",
    "detail",
)


def _item_row(item: Item) -> dict[str, Any]:
    row = {name: getattr(item, name) for name in _ITEM_FIELDS}
    for name, limit in (("line_id", 128), ("gateway_reference", 128), ("detail", 500)):
        if row[name] is not None:
            row[name] = str(row[name])[:limit]
    if row["object_type"]:
        row["object_type"] = str(row["object_type"])[:32]
    return row


def _item(row: Any) -> Item:
    m = row._mapping
    return Item(**{name: m[name] for name in _ITEM_FIELDS})
