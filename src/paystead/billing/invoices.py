"""Invoices as domain objects: lines, tax lines, totals and the state machine (no I/O).

States::

    draft ──finalize──▶ open ──pay──▶ paid
      │                  ├──void──▶ void
      └──delete/void──▶ void   └──mark_uncollectible──▶ uncollectible ──pay──▶ paid
                                                         └──void──▶ void

Totals (all integer minor units in the invoice currency):

* ``subtotal`` = sum of line ``amount`` (before discounts; inclusive lines include tax)
* ``total_discount`` = sum of line ``discount_amount``
* ``total_excluding_tax`` = sum of line ``taxable_amount``
* ``tax`` = sum of line ``tax_amount`` (= sum of every line's tax lines)
* ``total`` = ``total_excluding_tax + tax`` = ``subtotal - total_discount + exclusive tax``
* ``amount_due`` = ``max(total, 0) - applied_balance - amount_credited - amount_paid``

:func:`check_totals` asserts these identities; every code path that builds or changes
an invoice calls it, so a lost paisa is a bug that fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from paystead.billing.tax.base import TaxLine
from paystead.errors import IllegalTransition, PaysteadError

STATUSES = ("draft", "open", "paid", "void", "uncollectible")
LINE_KINDS = ("subscription", "proration", "usage", "one_off")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")

_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("open", "paid", "void"),
    "open": ("paid", "void", "uncollectible"),
    "uncollectible": ("paid", "void"),
    "paid": (),
    "void": (),
}


class InvoiceTotalsBroken(PaysteadError):
    code = "invoice_totals_broken"
    title = "Invoice totals do not add up"


def check_transition(invoice_id: str, current: str, target: str) -> None:
    if target not in _TRANSITIONS.get(current, ()):
        raise IllegalTransition(
            f"invoice {invoice_id} is {current}; it cannot become {target}", param="status"
        )


@dataclass(frozen=True)
class InvoiceLine:
    id: str
    description: str
    quantity: int
    #: Gross amount of the line in minor units before discount (negative for credits).
    amount: int
    kind: str = "one_off"
    price_id: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    discount_amount: int = 0
    tax_rate: Decimal = Decimal(0)
    tax_code: str | None = None
    tax_behavior: str = "exclusive"
    #: Filled by the tax engine at finalization (and for previews on drafts).
    taxable_amount: int = 0
    tax_amount: int = 0
    tax_lines: tuple[TaxLine, ...] = ()

    @property
    def net_amount(self) -> int:
        """Amount after discount: the tax base (exclusive) or the gross (inclusive)."""
        return self.amount - self.discount_amount

    @property
    def unit_amount(self) -> int | None:
        """The amount per unit when it divides exactly (display only)."""
        if self.quantity and self.amount % self.quantity == 0:
            return self.amount // self.quantity
        return None

    @property
    def total(self) -> int:
        return self.taxable_amount + self.tax_amount


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    currency: str
    status: str
    created_at: datetime
    lines: tuple[InvoiceLine, ...] = ()
    number: str | None = None
    subscription_id: str | None = None
    collection_method: str = "charge_automatically"
    days_until_due: int | None = None
    due_date: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    source_key: str | None = None
    subtotal: int = 0
    total_discount: int = 0
    total_excluding_tax: int = 0
    tax: int = 0
    total: int = 0
    starting_balance: int = 0
    applied_balance: int = 0
    ending_balance: int = 0
    amount_credited: int = 0
    amount_paid: int = 0
    amount_due: int = 0
    attempt_count: int = 0
    last_payment_error: str | None = None
    payment_id: str | None = None
    charge_started_at: datetime | None = None
    credit_notes_total: int = 0
    place_of_supply: str | None = None
    supply_type: str | None = None
    supply_notation: str | None = None
    reverse_charge: bool = False
    #: Buyer details as they were at finalization (an invoice never changes after).
    customer_snapshot: dict[str, Any] = field(default_factory=dict)
    seller_snapshot: dict[str, Any] = field(default_factory=dict)
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    marked_uncollectible_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def tax_lines(self) -> tuple[TaxLine, ...]:
        """The invoice's tax summed by (type, rate), in first-seen order."""
        summed: dict[tuple[str, Decimal], list[int]] = {}
        for line in self.lines:
            for t in line.tax_lines:
                acc = summed.setdefault((t.type, t.rate), [0, 0])
                acc[0] += t.amount
                acc[1] += t.taxable_amount
        return tuple(
            TaxLine(type=k[0], rate=k[1], amount=v[0], taxable_amount=v[1])
            for k, v in summed.items()
        )


def with_totals(invoice: Invoice) -> Invoice:
    """Recompute the totals from the lines (after lines or tax changed)."""
    subtotal = sum(line.amount for line in invoice.lines)
    discount = sum(line.discount_amount for line in invoice.lines)
    taxable = sum(line.taxable_amount for line in invoice.lines)
    tax = sum(line.tax_amount for line in invoice.lines)
    total = taxable + tax
    due = max(total, 0) - invoice.applied_balance - invoice.amount_credited - invoice.amount_paid
    return replace(
        invoice,
        subtotal=subtotal,
        total_discount=discount,
        total_excluding_tax=taxable,
        tax=tax,
        total=total,
        amount_due=max(due, 0),
    )


def check_totals(invoice: Invoice) -> Invoice:
    """Raise InvoiceTotalsBroken unless every identity in the module docstring holds."""
    problems = []
    for line in invoice.lines:
        if line.tax_amount != sum(t.amount for t in line.tax_lines):
            problems.append(f"line {line.id}: tax lines do not sum to the line tax")
        if line.tax_behavior == "inclusive":
            if line.taxable_amount + line.tax_amount != line.net_amount:
                problems.append(f"line {line.id}: inclusive taxable + tax != amount - discount")
        elif line.taxable_amount != line.net_amount:
            problems.append(f"line {line.id}: exclusive taxable != amount - discount")
    if invoice.subtotal != sum(line.amount for line in invoice.lines):
        problems.append("subtotal")
    if invoice.tax != sum(t.amount for t in invoice.tax_lines):
        problems.append("tax != sum of tax lines")
    if invoice.total != invoice.total_excluding_tax + invoice.tax:
        problems.append("total != total_excluding_tax + tax")
    exclusive_tax = sum(x.tax_amount for x in invoice.lines if x.tax_behavior != "inclusive")
    if invoice.total != invoice.subtotal - invoice.total_discount + exclusive_tax:
        problems.append("total != subtotal - discount + exclusive tax")
    settled = invoice.applied_balance + invoice.amount_credited + invoice.amount_paid
    balanced = invoice.amount_due >= 0 and invoice.amount_due + settled == max(invoice.total, 0)
    if not balanced and invoice.status != "void":
        problems.append("amount_due + settled != total")
    if problems:
        raise InvoiceTotalsBroken(f"invoice {invoice.id}: " + "; ".join(problems))
    return invoice
