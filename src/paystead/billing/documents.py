"""Invoices and credit notes as printable documents (``billing/pdf/render.py``)."""

from __future__ import annotations

from datetime import date, datetime

from paystead.billing.credit_notes import CreditNote
from paystead.billing.invoices import Invoice
from paystead.billing.numbering import IST
from paystead.billing.pdf.render import DocumentLine, InvoiceDocument, Party, TaxLine
from paystead.billing.tax.base import TaxLine as OurTaxLine


def _day(at: datetime | None) -> date | None:
    return at.astimezone(IST).date() if at else None


def _tax(lines: tuple[OurTaxLine, ...]) -> list[TaxLine]:
    return [TaxLine(t.type, t.rate, t.amount, t.taxable_amount) for t in lines]


def _state(label: str | None) -> str | None:
    """ "29-Karnataka" -> "29" (what the templates look up)."""
    return label[:2] if label and label[:2].isdigit() else None


def _seller(invoice: Invoice) -> Party:
    s = invoice.seller_snapshot
    return Party(
        name=s.get("name") or "",
        address=s.get("address") or "",
        gstin=s.get("tax_id"),
        state_code=s.get("state_code"),
        country=s.get("country") or "IN",
    )


def _buyer(invoice: Invoice) -> Party:
    c = invoice.customer_snapshot
    address = c.get("address") or {}
    tax_id = c.get("tax_id")
    lines = [
        address.get("line1"),
        address.get("line2"),
        address.get("city"),
        address.get("postal_code"),
    ]
    state = tax_id[:2] if tax_id and tax_id[:2].isdigit() else address.get("state_code")
    return Party(
        name=c.get("name") or invoice.customer_id,
        address="\n".join(x for x in lines if x),
        gstin=tax_id,
        state_code=state,
        country=address.get("country") or "IN",
        email=c.get("email"),
    )


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    issued = invoice.finalized_at or invoice.created_at
    locale = invoice.customer_snapshot.get("locale") or "en_IN"
    return InvoiceDocument(
        number=invoice.number or "DRAFT",
        issue_date=issued.astimezone(IST).date(),
        seller=_seller(invoice),
        buyer=_buyer(invoice),
        currency=invoice.currency,
        lines=[
            DocumentLine(
                description=x.description,
                quantity=x.quantity,
                unit_amount=x.amount // x.quantity if x.quantity else x.amount,
                taxable_value=x.taxable_amount,
                hsn_sac=x.tax_code,
                discount=x.discount_amount,
                tax_lines=_tax(x.tax_lines),
                period_start=_day(x.period_start),
                period_end=_day(x.period_end),
                kind=x.kind,
            )
            for x in invoice.lines
        ],
        tax_lines=_tax(invoice.tax_lines),
        subtotal=invoice.total_excluding_tax,
        tax_total=invoice.tax,
        total=invoice.total,
        kind="invoice",
        due_date=_day(invoice.due_date),
        place_of_supply=_state(invoice.place_of_supply),
        supply_notation=invoice.supply_notation,
        reverse_charge=invoice.reverse_charge,
        amount_paid=invoice.amount_paid + invoice.applied_balance + invoice.amount_credited,
        amount_due=invoice.amount_due,
        discount_total=invoice.total_discount,
        locale=locale,
        period_start=_day(invoice.period_start),
        period_end=_day(invoice.period_end),
    )


def credit_note_document(note: CreditNote, invoice: Invoice) -> InvoiceDocument:
    return InvoiceDocument(
        number=note.number,
        issue_date=note.created_at.astimezone(IST).date(),
        seller=_seller(invoice),
        buyer=_buyer(invoice),
        currency=note.currency,
        lines=[
            DocumentLine(
                description=x.description,
                quantity=1,
                unit_amount=x.taxable_amount,
                taxable_value=x.taxable_amount,
                hsn_sac=next(
                    (i.tax_code for i in invoice.lines if i.id == x.invoice_line_id), None
                ),
                tax_lines=_tax(x.tax_lines),
            )
            for x in note.lines
        ],
        tax_lines=_tax(note.tax_lines),
        subtotal=note.subtotal,
        tax_total=note.tax,
        total=note.total,
        kind="credit_note",
        place_of_supply=_state(invoice.place_of_supply),
        supply_notation=invoice.supply_notation,
        reverse_charge=invoice.reverse_charge,
        reference_number=invoice.number,
        reference_date=_day(invoice.finalized_at),
        reason=note.reason or note.memo,
        amount_due=0,
        locale=invoice.customer_snapshot.get("locale") or "en_IN",
    )
