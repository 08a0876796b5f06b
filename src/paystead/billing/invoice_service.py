"""Invoice use cases: drafts, finalization (number, tax, credit balance, charge), payment.

Finalizing is one transaction: lock the draft, compute tax from the customer's billing
details as they are now (snapshotted on the invoice), take the next gapless number,
use the customer's credit balance, set ``open`` (or ``paid`` when nothing is due) and
record the events. A ``charge_automatically`` invoice with an amount due is then
charged like dunning retries are (:meth:`InvoiceService.pay`):

1. **transaction A**: compare-and-set the next attempt number and ``charge_started_at``
   on the open invoice (a second ``pay`` meanwhile finds it set and charges nothing);
2. **the charge**, outside any transaction, through ``PaymentService.create`` with the
   customer's default payment method and the idempotency claim ``{invoice}:attempt:{n}``
   (so a retried attempt can never charge twice, and the ledger records the payment
   through the payments core);
3. **transaction B**: ``paid`` with ``amount_paid``, or stays ``open`` with
   ``attempt_count`` and ``last_payment_error`` (``invoice.payment_failed``).

Tax, totals and rounding: ``billing/invoices.py``, ``billing/tax/``, ``docs/billing.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing import balance, invoice_store
from paystead.billing.catalog import TAX_BEHAVIORS
from paystead.billing.catalog_store import get_price, get_product
from paystead.billing.invoices import (
    COLLECTION_METHODS,
    LINE_KINDS,
    STATUSES,
    Invoice,
    InvoiceLine,
    check_totals,
    check_transition,
    with_totals,
)
from paystead.billing.numbering import next_number
from paystead.billing.reactivation import invoice_paid
from paystead.billing.tax.base import Party, TaxableItem, TaxEngine
from paystead.billing.tax.gstin import STATES, gst_state_code, is_valid_gstin, validate_gstin
from paystead.errors import (
    Conflict,
    GatewayError,
    IdempotencyKeyInUse,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.money import MAX_AMOUNT, Money
from paystead.money import currency as currency_info
from paystead.payments.model import Payment, PaymentStatus
from paystead.payments.service import CreatePayment, PaymentService
from paystead.platform.db import Database
from paystead.platform.idempotency import (
    Idempotency,
    IdempotencyClaim,
    NoIdempotency,
    ReplayStoredResponse,
    StoredResponse,
)
from paystead.platform.schema import customers, invoices, payments

#: A charge attempt left ``charge_started_at`` set this long ago died with its process.
CHARGE_LOCK = timedelta(minutes=10)
DEFAULT_DAYS_UNTIL_DUE = 30
#: Payment states that may still become a capture: an invoice waits for their answer.
_UNSETTLED = frozenset(
    s.value
    for s in (
        PaymentStatus.REQUIRES_CONFIRMATION,
        PaymentStatus.PROCESSING,
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.REQUIRES_CAPTURE,
    )
)
#: The idempotency "API key" internal charges are claimed under.
BILLING_CLAIMANT = "billing"


@dataclass(frozen=True)
class DraftLine:
    """One line of a draft invoice. ``amount`` is the line's gross in minor units
    (negative for proration credits); with ``price_id`` the tax rate, code and behaviour
    come from the price's product unless given here."""

    description: str
    quantity: int
    amount: int
    price_id: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    discount_amount: int = 0
    kind: str = "subscription"
    tax_rate: Decimal | None = None
    tax_code: str | None = None
    tax_behavior: str | None = None


@dataclass(frozen=True)
class Seller:
    name: str
    address: str
    party: Party

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "tax_id": self.party.tax_id,
            "country": self.party.country,
            "state_code": self.party.state_code,
        }


def invoice_object(inv: Invoice) -> dict[str, Any]:
    """The invoice as the API and events show it."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": inv.id,
        "object": "invoice",
        "number": inv.number,
        "customer": inv.customer_id,
        "subscription": inv.subscription_id,
        "currency": inv.currency,
        "status": inv.status,
        "collection_method": inv.collection_method,
        "period_start": iso(inv.period_start),
        "period_end": iso(inv.period_end),
        "due_date": iso(inv.due_date),
        "subtotal": inv.subtotal,
        "total_discount": inv.total_discount,
        "total_excluding_tax": inv.total_excluding_tax,
        "tax": inv.tax,
        "total": inv.total,
        "starting_balance": inv.starting_balance,
        "applied_balance": inv.applied_balance,
        "ending_balance": inv.ending_balance,
        "amount_credited": inv.amount_credited,
        "credit_notes_total": inv.credit_notes_total,
        "amount_paid": inv.amount_paid,
        "amount_due": inv.amount_due,
        "attempt_count": inv.attempt_count,
        "last_payment_error": inv.last_payment_error,
        "payment": inv.payment_id,
        "place_of_supply": inv.place_of_supply,
        "supply_type": inv.supply_type,
        "supply_notation": inv.supply_notation,
        "reverse_charge": inv.reverse_charge,
        "customer_details": inv.customer_snapshot,
        "seller": inv.seller_snapshot,
        "tax_lines": [t.to_json() for t in inv.tax_lines],
        "lines": [
            {
                "id": x.id,
                "description": x.description,
                "kind": x.kind,
                "price": x.price_id,
                "quantity": x.quantity,
                "unit_amount": x.unit_amount,
                "amount": x.amount,
                "discount_amount": x.discount_amount,
                "taxable_amount": x.taxable_amount,
                "tax_amount": x.tax_amount,
                "tax_rate": str(x.tax_rate),
                "tax_code": x.tax_code,
                "tax_behavior": x.tax_behavior,
                "period_start": iso(x.period_start),
                "period_end": iso(x.period_end),
                "tax_lines": [t.to_json() for t in x.tax_lines],
            }
            for x in inv.lines
        ],
        "metadata": inv.metadata,
        "source_key": inv.source_key,
        "created_at": inv.created_at.isoformat(),
        "finalized_at": iso(inv.finalized_at),
        "paid_at": iso(inv.paid_at),
        "voided_at": iso(inv.voided_at),
        "marked_uncollectible_at": iso(inv.marked_uncollectible_at),
    }


async def customer_billing(
    conn: AsyncConnection, customer_id: str, *, param: str | None = None
) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(
                customers.c.id,
                customers.c.name,
                customers.c.email,
                customers.c.address,
                customers.c.tax_id,
                customers.c.payment_method,
                customers.c.locale,
            ).where(customers.c.id == customer_id)
        )
    ).first()
    if row is None:
        raise NotFound("customer", customer_id, param=param)
    return dict(row._mapping)


def buyer_party(details: dict[str, Any]) -> Party:
    """Tax location of a buyer: the GSTIN's state when it has one, else the address."""
    address = details.get("address") or {}
    tax_id = details.get("tax_id")
    country = (address.get("country") or "").upper() or None
    if tax_id and is_valid_gstin(tax_id):
        return Party(country=country or "IN", state_code=tax_id[:2], tax_id=tax_id)
    state = address.get("state_code")
    state_code = gst_state_code(state) if (country or "IN") == "IN" else state
    return Party(country=country, state_code=state_code, tax_id=tax_id)


def seller_from_settings(*, gstin: str | None, name: str, address: str, country: str) -> Seller:
    if gstin:
        gstin = validate_gstin(gstin, param="PAYSTEAD_SELLER_GSTIN")
        state = gstin[:2]
        return Seller(
            name,
            address,
            Party(country="IN", state_code=state if state in STATES else None, tax_id=gstin),
        )
    return Seller(name, address, Party(country=country.upper(), tax_id=None))


def apply_tax(
    invoice: Invoice, engine: TaxEngine, seller: Seller, buyer: dict[str, Any]
) -> Invoice:
    """Tax every line with ``engine`` and recompute the totals."""
    result = engine.compute(
        seller=seller.party,
        buyer=buyer_party(buyer),
        currency=invoice.currency,
        items=[
            TaxableItem(x.net_amount, x.tax_rate, x.tax_behavior, x.tax_code) for x in invoice.lines
        ],
    )
    lines = tuple(
        replace(x, taxable_amount=t.taxable_amount, tax_amount=t.tax_amount, tax_lines=t.tax_lines)
        for x, t in zip(invoice.lines, result.lines, strict=True)
    )
    snapshot = {
        "name": buyer.get("name"),
        "email": buyer.get("email"),
        "address": buyer.get("address"),
        "tax_id": buyer.get("tax_id"),
        "locale": buyer.get("locale"),
    }
    return with_totals(
        replace(
            invoice,
            lines=lines,
            place_of_supply=result.place_of_supply,
            supply_type=result.supply_type,
            supply_notation=result.notation,
            reverse_charge=result.reverse_charge,
            customer_snapshot=snapshot,
            seller_snapshot=seller.snapshot(),
        )
    )


def _check_amount(value: object, param: str, *, signed: bool = False) -> int:
    if type(value) is not int or abs(value) > MAX_AMOUNT or (value < 0 and not signed):
        raise InvalidInput(
            f"{param} must be an integer in minor units", code="amount_invalid", param=param
        )
    return value


class InvoiceService:
    def __init__(
        self,
        db: Database,
        payments: PaymentService,
        tax: TaxEngine,
        seller: Seller,
        clock: Callable[[], datetime],
        *,
        invoice_series: str = "INV",
        idempotency_lock: timedelta = timedelta(seconds=60),
    ):
        self.db = db
        self.payments = payments
        self.tax = tax
        self.seller = seller
        self.clock = clock
        self.series = invoice_series
        self.idempotency_lock = idempotency_lock

    # -- drafts ----------------------------------------------------------------------

    async def _line(
        self, conn: AsyncConnection, i: int, d: DraftLine, currency: str
    ) -> InvoiceLine:
        param = f"lines[{i}]"
        if type(d.quantity) is not int or d.quantity < 0:
            raise InvalidInput("quantity must be a non-negative integer", param=f"{param}.quantity")
        amount = _check_amount(d.amount, f"{param}.amount", signed=True)
        discount = _check_amount(d.discount_amount, f"{param}.discount_amount")
        if discount and (amount < 0 or discount > amount):
            raise InvalidInput(
                "discount_amount must be between 0 and the line amount",
                param=f"{param}.discount_amount",
            )
        if d.kind not in LINE_KINDS:
            raise InvalidInput(
                f"kind must be one of {', '.join(LINE_KINDS)}", param=f"{param}.kind"
            )
        rate, code, behavior = Decimal(0), None, "exclusive"
        if d.price_id is not None:
            price = await get_price(conn, d.price_id, param=f"{param}.price")
            if price.currency != currency:
                raise InvalidInput(
                    f"price {price.id} is in {price.currency}, the invoice in {currency}",
                    code="currency_mismatch",
                    param=f"{param}.price",
                )
            product = await get_product(conn, price.product_id)
            rate, code, behavior = product.tax_rate, product.tax_code, price.tax_behavior
        if d.tax_rate is not None:
            if not isinstance(d.tax_rate, Decimal) or not (0 <= d.tax_rate <= 100):
                raise InvalidInput("tax_rate must be a percent 0..100", param=f"{param}.tax_rate")
            rate = d.tax_rate
        if d.tax_code is not None:
            code = d.tax_code
        if d.tax_behavior is not None:
            if d.tax_behavior not in TAX_BEHAVIORS:
                raise InvalidInput(
                    "tax_behavior must be exclusive or inclusive", param=f"{param}.tax_behavior"
                )
            behavior = d.tax_behavior
        return InvoiceLine(
            id=new_id("il"),
            description=d.description,
            quantity=d.quantity,
            amount=amount,
            kind=d.kind,
            price_id=d.price_id,
            period_start=d.period_start,
            period_end=d.period_end,
            discount_amount=discount,
            tax_rate=rate,
            tax_code=code,
            tax_behavior=behavior,
        )

    async def create_draft(
        self,
        *,
        customer_id: str,
        currency: str,
        lines: list[DraftLine],
        subscription_id: str | None = None,
        period_start: datetime | None = None,
        period_end: datetime | None = None,
        collection_method: str = "charge_automatically",
        days_until_due: int | None = None,
        source_key: str | None = None,
        now: datetime,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency | None = None,
    ) -> Invoice:
        """A draft with ``lines``, taxed as a preview (finalize taxes it again).

        With ``source_key``, a second call for the same key returns the first invoice
        (the key is unique in the database, so racing callers get the same one)."""
        code = currency_info(currency).code
        if collection_method not in COLLECTION_METHODS:
            raise InvalidInput(
                "collection_method must be charge_automatically or send_invoice",
                param="collection_method",
            )
        if days_until_due is not None and (
            type(days_until_due) is not int or not 0 <= days_until_due <= 365
        ):
            raise InvalidInput("days_until_due must be 0..365", param="days_until_due")
        idem = idem or NoIdempotency()
        async with self.db.transaction() as conn:
            invoice_id = new_id("in")
            resumed = await idem.begin(conn, invoice_id)
            if resumed is not None:
                invoice = await invoice_store.get(conn, resumed)
                await idem.complete(conn, invoice)
                return invoice
            if source_key is not None:
                found = (
                    await conn.execute(
                        sa.select(invoices.c.id).where(invoices.c.source_key == source_key)
                    )
                ).first()
                if found is not None:
                    return await invoice_store.get(conn, found.id)
            buyer = await customer_billing(conn, customer_id, param="customer")
            built = [await self._line(conn, i, d, code) for i, d in enumerate(lines)]
            invoice = Invoice(
                id=invoice_id,
                customer_id=customer_id,
                currency=code,
                status="draft",
                created_at=now,
                lines=tuple(built),
                subscription_id=subscription_id,
                collection_method=collection_method,
                days_until_due=days_until_due,
                period_start=period_start,
                period_end=period_end,
                source_key=source_key,
                metadata=metadata or {},
            )
            invoice = check_totals(apply_tax(invoice, self.tax, self.seller, buyer))
            if not await invoice_store.insert(conn, invoice, now=now):
                assert source_key is not None
                return await invoice_store.get_by_source_key(conn, source_key)
            await record(conn, catalog.INVOICE_CREATED, invoice_object(invoice), at=now)
            await idem.complete(conn, invoice)
        return invoice

    # -- finalization ----------------------------------------------------------------

    async def finalize(self, invoice_id: str, *, now: datetime) -> Invoice:
        """draft -> open (or paid when nothing is due), then charge if automatic.

        Raises IllegalTransition unless the invoice is a draft."""
        async with self.db.transaction() as conn:
            invoice = await invoice_store.get(conn, invoice_id, lock=True)
            check_transition(invoice.id, invoice.status, "open")
            buyer = await customer_billing(conn, invoice.customer_id)
            invoice = apply_tax(invoice, self.tax, self.seller, buyer)
            number = await next_number(conn, self.series, now)
            applied = 0
            starting = await balance.current(conn, invoice.customer_id, invoice.currency, lock=True)
            ending = starting
            if invoice.total > 0 and starting > 0:
                applied = min(starting, invoice.total)
                txn = await balance.apply(
                    conn,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    amount=-applied,
                    type="applied_to_invoice",
                    at=now,
                    source_key=f"{invoice.id}:applied",
                    description=f"Applied to invoice {number}",
                    invoice_id=invoice.id,
                )
                ending = txn.ending_balance
            elif invoice.total < 0:
                txn = await balance.apply(
                    conn,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    amount=-invoice.total,
                    type="invoice_credit",
                    at=now,
                    source_key=f"{invoice.id}:credit",
                    description=f"Credit from invoice {number}",
                    invoice_id=invoice.id,
                )
                ending = txn.ending_balance
            due_date = None
            if invoice.collection_method == "send_invoice":
                days = (
                    invoice.days_until_due
                    if invoice.days_until_due is not None
                    else DEFAULT_DAYS_UNTIL_DUE
                )
                due_date = now + timedelta(days=days)
            invoice = with_totals(
                replace(
                    invoice,
                    number=number,
                    finalized_at=now,
                    due_date=due_date,
                    starting_balance=starting,
                    applied_balance=applied,
                    ending_balance=ending,
                )
            )
            paid = invoice.amount_due == 0
            invoice = check_totals(
                replace(invoice, status="paid" if paid else "open", paid_at=now if paid else None)
            )
            await invoice_store.update(conn, invoice, now=now)
            await record(conn, catalog.INVOICE_FINALIZED, invoice_object(invoice), at=now)
            if paid:
                await invoice_paid(conn, invoice, invoice_object(invoice), at=now)
        if invoice.status == "open" and invoice.collection_method == "charge_automatically":
            return await self._charge(invoice.id, now=now)
        return invoice

    # -- payment ---------------------------------------------------------------------

    async def pay(self, invoice_id: str, *, now: datetime) -> Invoice:
        """One more charge attempt on an open (or uncollectible) invoice.

        A paid invoice is returned as it is (never charged twice); a draft or void one
        raises IllegalTransition; an attempt already at the gateway raises Conflict."""
        async with self.db.transaction() as conn:
            invoice = await invoice_store.get(conn, invoice_id)
        if invoice.status == "paid":
            return invoice
        check_transition(invoice.id, invoice.status, "paid")
        if invoice.status == "draft":
            raise IllegalTransition(f"invoice {invoice.id} is a draft: finalize it", param="status")
        invoice = await self._apply_balance(invoice.id, now=now)
        if invoice.status == "paid":
            return invoice
        return await self._charge(invoice.id, now=now, must_charge=True)

    async def _apply_balance(self, invoice_id: str, *, now: datetime) -> Invoice:
        """Credit the customer gained since finalization pays (part of) an open invoice
        before any charge; ``paid`` when it covers what is due."""
        async with self.db.transaction() as conn:
            invoice = await invoice_store.get(conn, invoice_id, lock=True)
            if invoice.status not in ("open", "uncollectible") or invoice.amount_due <= 0:
                return invoice
            available = await balance.current(
                conn, invoice.customer_id, invoice.currency, lock=True
            )
            if available <= 0:
                return invoice
            applied = min(available, invoice.amount_due)
            # The key follows the invoice's state, which moves in this same transaction.
            await balance.apply(
                conn,
                customer_id=invoice.customer_id,
                currency=invoice.currency,
                amount=-applied,
                type="applied_to_invoice",
                at=now,
                source_key=f"{invoice.id}:applied:{invoice.applied_balance}",
                description=f"Applied to invoice {invoice.number}",
                invoice_id=invoice.id,
            )
            invoice = with_totals(
                replace(invoice, applied_balance=invoice.applied_balance + applied)
            )
            if invoice.amount_due == 0:
                invoice = replace(invoice, status="paid", paid_at=now, last_payment_error=None)
            invoice = check_totals(invoice)
            await invoice_store.update(conn, invoice, now=now)
            if invoice.status == "paid":
                await invoice_paid(conn, invoice, invoice_object(invoice), at=now)
            return invoice

    async def _charge(
        self, invoice_id: str, *, now: datetime, must_charge: bool = False
    ) -> Invoice:
        # Transaction A: take the next attempt number and mark the charge in flight.
        async with self.db.transaction() as conn:
            invoice = await invoice_store.get(conn, invoice_id, lock=True)
            if invoice.status not in ("open", "uncollectible") or invoice.amount_due <= 0:
                return invoice
            if (
                invoice.charge_started_at is not None
                and invoice.charge_started_at > now - CHARGE_LOCK
            ):
                if must_charge:
                    raise Conflict(
                        f"a charge for invoice {invoice.id} is in flight", code="charge_in_flight"
                    )
                return invoice
            if invoice.payment_id is not None:
                # An earlier attempt whose answer was not final when it was recorded
                # (processing, customer action): settle from it, never charge beside it.
                earlier = (
                    await conn.execute(
                        sa.select(payments.c.status, payments.c.amount_captured).where(
                            payments.c.id == invoice.payment_id
                        )
                    )
                ).first()
                if earlier is not None and earlier.status == PaymentStatus.SUCCEEDED.value:
                    settled = check_totals(
                        with_totals(
                            replace(
                                invoice,
                                status="paid",
                                paid_at=now,
                                amount_paid=invoice.amount_paid + int(earlier.amount_captured),
                                last_payment_error=None,
                            )
                        )
                    )
                    await invoice_store.update(conn, settled, now=now)
                    await invoice_paid(conn, settled, invoice_object(settled), at=now)
                    return settled
                if earlier is not None and earlier.status in _UNSETTLED:
                    if must_charge:
                        raise Conflict(
                            f"payment {invoice.payment_id} of invoice {invoice.id} is "
                            f"{earlier.status}; wait for its answer",
                            code="charge_in_flight",
                        )
                    return invoice
            buyer = await customer_billing(conn, invoice.customer_id)
            attempt = invoice.attempt_count + 1
            method = buyer.get("payment_method")
            if not method:
                failed = replace(
                    invoice,
                    attempt_count=attempt,
                    last_payment_error="the customer has no default payment method",
                )
                await invoice_store.update(conn, failed, now=now)
                await record(conn, catalog.INVOICE_PAYMENT_FAILED, invoice_object(failed), at=now)
                return failed
            won = await conn.execute(
                invoices.update()
                .where(
                    invoices.c.id == invoice.id, invoices.c.attempt_count == invoice.attempt_count
                )
                .values(attempt_count=attempt, charge_started_at=now, updated_at=now)
            )
            if won.rowcount != 1:  # pragma: no cover - the row lock makes this unreachable
                return invoice
        # The charge, outside any transaction, under an idempotency claim of our own.
        payment: Payment | None = None
        error: str | None = None
        claim = IdempotencyClaim(
            api_key_id=BILLING_CLAIMANT,
            key=f"{invoice.id}:attempt:{attempt}",
            fingerprint=invoice.id,
            render=lambda p: StoredResponse(200, p.id.encode()),
            lock_timeout=self.idempotency_lock,
            now=self.clock,
        )
        try:
            payment = await self.payments.create(
                CreatePayment(
                    amount=Money(invoice.amount_due, invoice.currency),
                    payment_method=str(method),
                    customer_id=invoice.customer_id,
                    description=f"Invoice {invoice.number}",
                    metadata={"invoice": invoice.id, "invoice_number": invoice.number},
                ),
                claim,
            )
        except ReplayStoredResponse as replayed:
            payment = await self.payments.get(replayed.response.body.decode())
        except IdempotencyKeyInUse:
            error = "a charge attempt is still in flight"
        except (GatewayError, InvalidInput) as exc:
            error = f"{exc.code}: {exc.detail}"
        # Transaction B: record the answer.
        async with self.db.transaction() as conn:
            invoice = await invoice_store.get(conn, invoice_id, lock=True)
            invoice = replace(invoice, charge_started_at=None)
            if payment is not None and payment.status is PaymentStatus.SUCCEEDED:
                invoice = check_totals(
                    with_totals(
                        replace(
                            invoice,
                            status="paid",
                            paid_at=now,
                            payment_id=payment.id,
                            amount_paid=invoice.amount_paid + payment.amount_captured,
                            last_payment_error=None,
                        )
                    )
                )
                await invoice_store.update(conn, invoice, now=now)
                await invoice_paid(conn, invoice, invoice_object(invoice), at=now)
                return invoice
            if payment is not None:
                error = (
                    f"{payment.failure_code}: {payment.failure_message}"
                    if payment.status is PaymentStatus.FAILED
                    else f"payment {payment.id} is {payment.status.value}"
                )
                invoice = replace(invoice, payment_id=payment.id)
            invoice = replace(invoice, last_payment_error=(error or "payment failed")[:500])
            await invoice_store.update(conn, invoice, now=now)
            await record(conn, catalog.INVOICE_PAYMENT_FAILED, invoice_object(invoice), at=now)
            return invoice

    # -- other transitions -----------------------------------------------------------

    async def void(self, invoice_id: str, *, now: datetime) -> Invoice:
        """open/uncollectible/draft -> void; the credit balance it used goes back.
        A voided invoice keeps its number (the series stays gapless)."""
        async with self.db.transaction() as conn:
            invoice = await invoice_store.get(conn, invoice_id, lock=True)
            check_transition(invoice.id, invoice.status, "void")
            if (
                invoice.charge_started_at is not None
                and invoice.charge_started_at > now - CHARGE_LOCK
            ):
                raise Conflict(
                    f"a charge for invoice {invoice.id} is in flight", code="charge_in_flight"
                )
            if invoice.applied_balance > 0:
                await balance.apply(
                    conn,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    amount=invoice.applied_balance,
                    type="unapplied",
                    at=now,
                    source_key=f"{invoice.id}:unapplied",
                    description=f"Invoice {invoice.number} voided",
                    invoice_id=invoice.id,
                )
            invoice = replace(invoice, status="void", voided_at=now, amount_due=0)
            await invoice_store.update(conn, invoice, now=now)
            await record(conn, catalog.INVOICE_VOIDED, invoice_object(invoice), at=now)
        return invoice

    async def mark_uncollectible(self, invoice_id: str, *, now: datetime) -> Invoice:
        async with self.db.transaction() as conn:
            invoice = await invoice_store.get(conn, invoice_id, lock=True)
            check_transition(invoice.id, invoice.status, "uncollectible")
            if invoice.status == "draft":
                raise IllegalTransition(f"invoice {invoice.id} is a draft", param="status")
            invoice = replace(invoice, status="uncollectible", marked_uncollectible_at=now)
            await invoice_store.update(conn, invoice, now=now)
            await record(
                conn, catalog.INVOICE_MARKED_UNCOLLECTIBLE, invoice_object(invoice), at=now
            )
        return invoice

    async def get(self, invoice_id: str) -> Invoice:
        async with self.db.transaction() as conn:
            return await invoice_store.get(conn, invoice_id)

    async def list(
        self,
        *,
        customer: str | None = None,
        subscription: str | None = None,
        status: str | None = None,
        limit: int = 10,
        starting_after: str | None = None,
    ) -> tuple[list[Invoice], bool]:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", param="status")
        async with self.db.transaction() as conn:
            return await invoice_store.list_invoices(
                conn,
                customer=customer,
                subscription=subscription,
                status=status,
                limit=limit,
                starting_after=starting_after,
            )
