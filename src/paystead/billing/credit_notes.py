"""Credit notes against finalized invoices, with their own gapless series (``CN/26-27/00001``).

A credit note credits either a gross ``amount`` (tax included), spread over the
invoice's lines in proportion to their totals, or given ``lines`` ({line, amount}).
Each line's credit is split between its taxable value and its tax lines in
proportion (``money.allocate``, largest remainder, so no paisa is lost and the tax
reversal is proportional). The total of an invoice's credit notes never exceeds its
total (checked under the invoice's row lock).

Outcomes:

* ``reduce_amount_due`` (open/uncollectible invoices): lowers ``amount_due`` (the
  invoice becomes ``paid`` when nothing is left due); at most the amount due;
* ``credit_balance``: adds the amount to the customer's credit balance;
* ``refund`` (paid invoices): refunds the invoice's payment through the payments core
  (idempotency claim ``{credit_note}:refund``); if the gateway refuses, the credit note
  stays with ``status`` ``refund_failed`` and the error is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing import balance, invoice_store
from paystead.billing.invoice_service import invoice_object
from paystead.billing.invoices import Invoice, check_totals, with_totals
from paystead.billing.numbering import next_number
from paystead.billing.reactivation import invoice_paid
from paystead.billing.tax.base import TaxLine
from paystead.errors import AmountExceedsRemaining, Conflict, InvalidInput, NotFound, PaysteadError
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.money import MAX_AMOUNT, Money, allocate
from paystead.payments.service import CreateRefund, PaymentService
from paystead.platform.db import Database
from paystead.platform.idempotency import (
    Idempotency,
    IdempotencyClaim,
    NoIdempotency,
    StoredResponse,
)
from paystead.platform.schema import credit_notes

OUTCOMES = ("reduce_amount_due", "credit_balance", "refund")


@dataclass(frozen=True)
class CreditNoteLine:
    invoice_line_id: str
    description: str
    #: Gross credited on this line (taxable + tax).
    amount: int
    taxable_amount: int
    tax_lines: tuple[TaxLine, ...]

    @property
    def tax_amount(self) -> int:
        return sum(t.amount for t in self.tax_lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice_line": self.invoice_line_id,
            "description": self.description,
            "amount": self.amount,
            "taxable_amount": self.taxable_amount,
            "tax_amount": self.tax_amount,
            "tax_lines": [t.to_json() for t in self.tax_lines],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CreditNoteLine:
        return cls(
            invoice_line_id=d["invoice_line"],
            description=d["description"],
            amount=int(d["amount"]),
            taxable_amount=int(d["taxable_amount"]),
            tax_lines=tuple(TaxLine.from_json(t) for t in d["tax_lines"]),
        )


@dataclass(frozen=True)
class CreditNote:
    id: str
    number: str
    invoice_id: str
    customer_id: str
    currency: str
    status: str
    outcome: str
    lines: tuple[CreditNoteLine, ...]
    subtotal: int
    tax: int
    total: int
    created_at: datetime
    reason: str | None = None
    memo: str | None = None
    refund_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def tax_lines(self) -> tuple[TaxLine, ...]:
        summed: dict[tuple[str, Any], list[int]] = {}
        for line in self.lines:
            for t in line.tax_lines:
                acc = summed.setdefault((t.type, t.rate), [0, 0])
                acc[0] += t.amount
                acc[1] += t.taxable_amount
        return tuple(TaxLine(k[0], k[1], v[0], v[1]) for k, v in summed.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "credit_note",
            "number": self.number,
            "invoice": self.invoice_id,
            "customer": self.customer_id,
            "currency": self.currency,
            "status": self.status,
            "outcome": self.outcome,
            "reason": self.reason,
            "memo": self.memo,
            "subtotal": self.subtotal,
            "tax": self.tax,
            "total": self.total,
            "refund": self.refund_id,
            "lines": [x.to_json() for x in self.lines],
            "tax_lines": [t.to_json() for t in self.tax_lines],
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class CreditLineRequest:
    line: str
    amount: int


def _from_row(m: Any) -> CreditNote:
    return CreditNote(
        id=m["id"],
        number=m["number"],
        invoice_id=m["invoice_id"],
        customer_id=m["customer_id"],
        currency=m["currency"],
        status=m["status"],
        outcome=m["outcome"],
        reason=m["reason"],
        memo=m["memo"],
        lines=tuple(CreditNoteLine.from_json(x) for x in m["lines"]),
        subtotal=m["subtotal"],
        tax=m["tax"],
        total=m["total"],
        refund_id=m["refund_id"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
    )


def split_line_credit(invoice: Invoice, line_id: str, amount: int, currency: str) -> CreditNoteLine:
    """Credit ``amount`` (gross) of one invoice line: taxable and tax lines in proportion."""
    line = next((x for x in invoice.lines if x.id == line_id), None)
    if line is None:
        raise InvalidInput(f"invoice {invoice.id} has no line {line_id!r}", param="lines")
    if line.total <= 0 or amount > line.total:
        raise AmountExceedsRemaining(
            f"line {line_id} can be credited at most {max(line.total, 0)}", param="lines"
        )
    weights = [line.taxable_amount] + [t.amount for t in line.tax_lines]
    if any(w < 0 for w in weights) or sum(weights) == 0:  # pragma: no cover - total > 0
        weights = [1] + [0] * len(line.tax_lines)
    parts = allocate(Money(amount, currency), weights)
    tax_lines = tuple(
        TaxLine(t.type, t.rate, p.amount, parts[0].amount)
        for t, p in zip(line.tax_lines, parts[1:], strict=True)
    )
    return CreditNoteLine(line.id, line.description, amount, parts[0].amount, tax_lines)


def plan_lines(
    invoice: Invoice,
    *,
    amount: int | None,
    lines: Sequence[CreditLineRequest] | None,
) -> tuple[CreditNoteLine, ...]:
    if (amount is None) == (not lines):
        raise InvalidInput("give either amount or lines", param="amount")
    if amount is not None:
        if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
            raise InvalidInput(
                "amount must be a positive integer", code="amount_invalid", param="amount"
            )
        positive = [x for x in invoice.lines if x.total > 0]
        if not positive:
            raise AmountExceedsRemaining("the invoice has nothing to credit", param="amount")
        if amount > sum(x.total for x in positive):
            raise AmountExceedsRemaining("amount exceeds the invoice total", param="amount")
        shares = allocate(Money(amount, invoice.currency), [x.total for x in positive])
        return tuple(
            split_line_credit(invoice, x.id, s.amount, invoice.currency)
            for x, s in zip(positive, shares, strict=True)
            if s.amount > 0
        )
    assert lines is not None
    planned = []
    for i, req in enumerate(lines):
        if type(req.amount) is not int or not 0 < req.amount <= MAX_AMOUNT:
            raise InvalidInput("amount must be a positive integer", param=f"lines[{i}].amount")
        planned.append(split_line_credit(invoice, req.line, req.amount, invoice.currency))
    return tuple(planned)


class CreditNoteService:
    def __init__(
        self,
        db: Database,
        payments: PaymentService,
        clock: Callable[[], datetime],
        *,
        series: str = "CN",
        idempotency_lock: timedelta = timedelta(seconds=60),
    ):
        self.db = db
        self.payments = payments
        self.clock = clock
        self.series = series
        self.idempotency_lock = idempotency_lock

    async def create(
        self,
        *,
        invoice_id: str,
        outcome: str,
        amount: int | None = None,
        lines: Sequence[CreditLineRequest] | None = None,
        reason: str | None = None,
        memo: str | None = None,
        metadata: dict[str, Any] | None = None,
        now: datetime | None = None,
        idem: Idempotency | None = None,
    ) -> CreditNote:
        idem = idem or NoIdempotency()
        now = now or self.clock()
        if outcome not in OUTCOMES:
            raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", param="outcome")
        async with self.db.transaction() as conn:
            cn_id = new_id("cn")
            resumed = await idem.begin(conn, cn_id)
            if resumed is not None:
                note = await self._get(conn, resumed)
                await idem.complete(conn, note)
                return note
            invoice = await invoice_store.get(conn, invoice_id, lock=True, param="invoice")
            if invoice.status not in ("open", "paid", "uncollectible"):
                raise Conflict(
                    f"invoice {invoice.id} is {invoice.status}: only finalized invoices take credit notes",
                    code="invoice_not_finalized",
                    param="invoice",
                )
            planned = plan_lines(invoice, amount=amount, lines=lines)
            total = sum(x.amount for x in planned)
            remaining = invoice.total - invoice.credit_notes_total
            if total > remaining:
                raise AmountExceedsRemaining(
                    f"credit notes may total at most {invoice.total}; {remaining} remains",
                    param="amount" if amount is not None else "lines",
                )
            if outcome == "reduce_amount_due" and (
                invoice.status == "paid" or total > invoice.amount_due
            ):
                raise AmountExceedsRemaining(
                    f"at most the amount due ({invoice.amount_due}) can be reduced",
                    param="outcome",
                )
            if outcome == "refund" and (invoice.status != "paid" or invoice.payment_id is None):
                raise Conflict(
                    "only an invoice paid by a charge can be refunded",
                    code="not_refundable",
                    param="outcome",
                )
            number = await next_number(conn, self.series, now)
            note = CreditNote(
                id=cn_id,
                number=number,
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                currency=invoice.currency,
                status="issued",
                outcome=outcome,
                lines=planned,
                subtotal=sum(x.taxable_amount for x in planned),
                tax=sum(x.tax_amount for x in planned),
                total=total,
                reason=reason,
                memo=memo,
                metadata=metadata or {},
                created_at=now,
            )
            await conn.execute(
                credit_notes.insert().values(
                    id=note.id,
                    number=note.number,
                    invoice_id=note.invoice_id,
                    customer_id=note.customer_id,
                    currency=note.currency,
                    status=note.status,
                    outcome=note.outcome,
                    reason=note.reason,
                    memo=note.memo,
                    lines=[x.to_json() for x in note.lines],
                    subtotal=note.subtotal,
                    tax=note.tax,
                    total=note.total,
                    refund_id=None,
                    metadata=note.metadata,
                    created_at=now,
                )
            )
            updated = replace(invoice, credit_notes_total=invoice.credit_notes_total + total)
            if outcome == "reduce_amount_due":
                updated = with_totals(
                    replace(updated, amount_credited=invoice.amount_credited + total)
                )
                if updated.amount_due == 0:
                    updated = replace(updated, status="paid", paid_at=now)
            check_totals(updated)
            await invoice_store.update(conn, updated, now=now)
            if outcome == "credit_balance":
                await balance.apply(
                    conn,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    amount=total,
                    type="credit_note",
                    at=now,
                    source_key=f"{note.id}:credit",
                    description=f"Credit note {number}",
                    invoice_id=invoice.id,
                    credit_note_id=note.id,
                )
            await record(conn, catalog.CREDIT_NOTE_CREATED, note.to_json(), at=now)
            if updated.status == "paid" and invoice.status != "paid":
                await invoice_paid(conn, updated, invoice_object(updated), at=now)
            if outcome != "refund":
                await idem.complete(conn, note)
                return note
        return await self._refund(note, invoice.payment_id, idem)

    async def _refund(
        self, note: CreditNote, payment_id: str | None, idem: Idempotency
    ) -> CreditNote:
        assert payment_id is not None
        claim = IdempotencyClaim(
            api_key_id="billing",
            key=f"{note.id}:refund",
            fingerprint=note.id,
            render=lambda r: StoredResponse(200, r.id.encode()),
            lock_timeout=self.idempotency_lock,
            now=self.clock,
        )
        failure: PaysteadError | None = None
        refund_id = None
        try:
            refund = await self.payments.refund(
                CreateRefund(payment_id=payment_id, amount=note.total, reason="credit_note"), claim
            )
            refund_id = refund.id
        except PaysteadError as exc:
            failure = exc
        async with self.db.transaction() as conn:
            status = "issued" if failure is None else "refund_failed"
            await conn.execute(
                credit_notes.update()
                .where(credit_notes.c.id == note.id)
                .values(refund_id=refund_id, status=status)
            )
            note = replace(note, refund_id=refund_id, status=status)
            if failure is None:
                await idem.complete(conn, note)
        if failure is not None:
            raise failure
        return note

    async def _get(self, conn: AsyncConnection, credit_note_id: str) -> CreditNote:
        row = (
            await conn.execute(sa.select(credit_notes).where(credit_notes.c.id == credit_note_id))
        ).first()
        if row is None:
            raise NotFound("credit_note", credit_note_id)
        return _from_row(row._mapping)

    async def get(self, credit_note_id: str) -> CreditNote:
        async with self.db.transaction() as conn:
            return await self._get(conn, credit_note_id)

    async def list(self, *, invoice: str | None = None, limit: int = 100) -> list[CreditNote]:
        query = sa.select(credit_notes).order_by(credit_notes.c.id.desc()).limit(limit)
        if invoice is not None:
            query = query.where(credit_notes.c.invoice_id == invoice)
        async with self.db.transaction() as conn:
            return [_from_row(r._mapping) for r in await conn.execute(query)]
