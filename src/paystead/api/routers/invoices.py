"""/v1/invoices, /v1/credit_notes and /v1/customers/{id}/balance_transactions."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    PageLimit,
    ServicesDep,
    idempotency,
    json_response,
    respond,
)
from paystead.api.schemas_billing import (
    BalanceTransactionCreate,
    BalanceTransactionList,
    BalanceTransactionOut,
    CreditNoteCreate,
    CreditNoteList,
    CreditNoteOut,
    InvoiceCreate,
    InvoiceList,
    InvoiceOut,
    decimal_rate,
)
from paystead.billing.balance import BalanceTransaction
from paystead.billing.catalog import amount_for_quantity
from paystead.billing.credit_notes import CreditLineRequest, CreditNote
from paystead.billing.documents import credit_note_document, invoice_document
from paystead.billing.invoice_service import DraftLine
from paystead.billing.invoices import STATUSES, Invoice
from paystead.billing.pdf.render import render_pdf
from paystead.errors import InvalidInput
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/invoices", tags=["billing"])
credit_notes_router = APIRouter(prefix="/v1/credit_notes", tags=["billing"])
balance_router = APIRouter(prefix="/v1/customers", tags=["billing"])


@router.post("", status_code=201, response_model=InvoiceOut)
async def create_invoice(
    body: InvoiceCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A draft one-off invoice from ``items`` (a price, a unit amount or a whole amount
    each); ``POST /v1/invoices/{id}/finalize`` numbers, taxes and (when automatic)
    charges it."""
    idem = idempotency(request, services, api_key, idempotency_key, body, _created)
    lines = []
    for i, item in enumerate(body.items):
        given = [x for x in (item.price, item.unit_amount, item.amount) if x is not None]
        if len(given) != 1:
            raise InvalidInput(
                "give exactly one of price, unit_amount or amount", param=f"items[{i}]"
            )
        amount = item.amount
        description = item.description
        if item.unit_amount is not None:
            amount = item.unit_amount * item.quantity
        if item.price is not None:
            price = await services.catalog.get_price(item.price)
            amount = amount_for_quantity(price, item.quantity)
            description = description or price.nickname or "Item"
        assert amount is not None
        lines.append(
            DraftLine(
                description=description or "Item",
                quantity=item.quantity,
                amount=amount,
                price_id=item.price,
                discount_amount=item.discount_amount,
                kind="one_off",
                tax_rate=decimal_rate(item.tax_rate),
                tax_code=item.tax_code,
                tax_behavior=item.tax_behavior,
            )
        )
    now = services.clock()
    invoice = await services.invoices.create_draft(
        customer_id=body.customer,
        currency=body.currency,
        lines=lines,
        collection_method=body.collection_method,
        days_until_due=body.days_until_due,
        metadata=body.metadata,
        now=now,
        idem=idem,
    )
    return respond(idem, lambda: _created(invoice))


def _created(invoice: Invoice) -> StoredResponse:
    return json_response(201, InvoiceOut.of(invoice))


@router.get("", response_model=InvoiceList)
async def list_invoices(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: Annotated[str | None, Query(max_length=40)] = None,
    customer: Annotated[str | None, Query(max_length=40)] = None,
    subscription: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> InvoiceList:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", param="status")
    found, has_more = await services.invoices.list(
        customer=customer,
        subscription=subscription,
        status=status,
        limit=limit,
        starting_after=starting_after,
    )
    return InvoiceList(data=[InvoiceOut.of(i) for i in found], has_more=has_more)


@router.get("/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(invoice_id: str, services: ServicesDep, api_key: CurrentKey) -> InvoiceOut:
    return InvoiceOut.of(await services.invoices.get(invoice_id))


@router.post("/{invoice_id}/finalize", response_model=InvoiceOut)
async def finalize_invoice(
    invoice_id: str, services: ServicesDep, api_key: CurrentKey
) -> InvoiceOut:
    return InvoiceOut.of(await services.invoices.finalize(invoice_id, now=services.clock()))


@router.post("/{invoice_id}/pay", response_model=InvoiceOut)
async def pay_invoice(invoice_id: str, services: ServicesDep, api_key: CurrentKey) -> InvoiceOut:
    """One more charge of the customer's default payment method; a paid invoice is
    returned unchanged (never charged twice)."""
    return InvoiceOut.of(await services.invoices.pay(invoice_id, now=services.clock()))


@router.post("/{invoice_id}/void", response_model=InvoiceOut)
async def void_invoice(invoice_id: str, services: ServicesDep, api_key: CurrentKey) -> InvoiceOut:
    return InvoiceOut.of(await services.invoices.void(invoice_id, now=services.clock()))


@router.post("/{invoice_id}/mark_uncollectible", response_model=InvoiceOut)
async def mark_uncollectible(
    invoice_id: str, services: ServicesDep, api_key: CurrentKey
) -> InvoiceOut:
    return InvoiceOut.of(
        await services.invoices.mark_uncollectible(invoice_id, now=services.clock())
    )


Template = Annotated[str, Query(max_length=40, description="saas, retail or services")]


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}.pdf"'},
    )


@router.get("/{invoice_id}/pdf", response_class=Response)
async def invoice_pdf(
    invoice_id: str, services: ServicesDep, api_key: CurrentKey, template: Template = "saas"
) -> Response:
    """The invoice as a PDF through one of the templates (``docs/billing.md``)."""
    invoice = await services.invoices.get(invoice_id)
    data = await run_in_threadpool(
        partial(render_pdf, templates_dir=services.settings.invoice_templates_dir),
        invoice_document(invoice),
        template,
    )
    return _pdf(data, (invoice.number or invoice.id).replace("/", "-"))


# -- credit notes ---------------------------------------------------------------------


def _note_created(note: CreditNote) -> StoredResponse:
    return json_response(201, CreditNoteOut.of(note))


@credit_notes_router.post("", status_code=201, response_model=CreditNoteOut)
async def create_credit_note(
    body: CreditNoteCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    idem = idempotency(request, services, api_key, idempotency_key, body, _note_created)
    note = await services.credit_notes.create(
        invoice_id=body.invoice,
        outcome=body.outcome,
        amount=body.amount,
        lines=[CreditLineRequest(x.line, x.amount) for x in body.lines] if body.lines else None,
        reason=body.reason,
        memo=body.memo,
        metadata=body.metadata,
        now=services.clock(),
        idem=idem,
    )
    return respond(idem, lambda: _note_created(note))


@credit_notes_router.get("", response_model=CreditNoteList)
async def list_credit_notes(
    services: ServicesDep,
    api_key: CurrentKey,
    invoice: Annotated[str | None, Query(max_length=40)] = None,
    limit: PageLimit = 100,
) -> CreditNoteList:
    found = await services.credit_notes.list(invoice=invoice, limit=limit)
    return CreditNoteList(data=[CreditNoteOut.of(n) for n in found])


@credit_notes_router.get("/{credit_note_id}", response_model=CreditNoteOut)
async def get_credit_note(
    credit_note_id: str, services: ServicesDep, api_key: CurrentKey
) -> CreditNoteOut:
    return CreditNoteOut.of(await services.credit_notes.get(credit_note_id))


@credit_notes_router.get("/{credit_note_id}/pdf", response_class=Response)
async def credit_note_pdf(
    credit_note_id: str, services: ServicesDep, api_key: CurrentKey, template: Template = "saas"
) -> Response:
    note = await services.credit_notes.get(credit_note_id)
    invoice = await services.invoices.get(note.invoice_id)
    data = await run_in_threadpool(
        partial(render_pdf, templates_dir=services.settings.invoice_templates_dir),
        credit_note_document(note, invoice),
        template,
    )
    return _pdf(data, note.number.replace("/", "-"))


# -- customer balance -----------------------------------------------------------------


def _txn_created(txn: BalanceTransaction) -> StoredResponse:
    return json_response(201, BalanceTransactionOut.of(txn))


@balance_router.post(
    "/{customer_id}/balance_transactions", status_code=201, response_model=BalanceTransactionOut
)
async def create_balance_transaction(
    customer_id: str,
    body: BalanceTransactionCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Prepaid credit (positive) or a manual adjustment; used by invoices at finalization."""
    idem = idempotency(request, services, api_key, idempotency_key, body, _txn_created)
    txn = await services.balances.adjust(
        customer_id=customer_id,
        amount=body.amount,
        currency=body.currency,
        description=body.description,
        metadata=body.metadata,
        idem=idem,
    )
    return respond(idem, lambda: _txn_created(txn))


@balance_router.get("/{customer_id}/balance_transactions", response_model=BalanceTransactionList)
async def list_balance_transactions(
    customer_id: str, services: ServicesDep, api_key: CurrentKey
) -> BalanceTransactionList:
    found = await services.balances.list(customer_id)
    return BalanceTransactionList(data=[BalanceTransactionOut.of(t) for t in found])
