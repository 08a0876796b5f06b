"""Request and response bodies for products, prices, invoices, credit notes and
customer balance transactions (billing/, docs/billing.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from paystead.api.schemas import CurrencyCode, Input, Metadata, ObjectId, Output, unix
from paystead.billing.balance import BalanceTransaction
from paystead.billing.catalog import Price, Product
from paystead.billing.credit_notes import CreditNote
from paystead.billing.invoice_service import invoice_object
from paystead.billing.invoices import Invoice
from paystead.money import MAX_AMOUNT

Amount = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)]
SignedAmount = Annotated[int, Field(strict=True, ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
PositiveAmount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT)]
Quantity = Annotated[int, Field(strict=True, ge=0, le=10**9)]
RateString = Annotated[
    str, StringConstraints(min_length=1, max_length=8, pattern=r"^\d{1,3}(\.\d{1,4})?$")
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]

# -- products -----------------------------------------------------------------------


class ProductCreate(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    tax_code: Annotated[str, StringConstraints(max_length=8)] | None = Field(
        default=None, description="SAC (services) or HSN (goods): 4, 6 or 8 digits"
    )
    tax_rate: RateString = Field(
        default="0", description='Percent as a decimal string, e.g. "18" (a GST slab in India)'
    )
    metadata: Metadata = Field(default_factory=dict)


class ProductOut(Output):
    id: str
    object: Literal["product"] = "product"
    name: str
    description: str | None
    tax_code: str | None
    tax_rate: str
    active: bool
    metadata: dict[str, Any]
    created: int

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(
            id=p.id,
            name=p.name,
            description=p.description,
            tax_code=p.tax_code,
            tax_rate=str(p.tax_rate),
            active=p.active,
            metadata=p.metadata,
            created=unix(p.created_at),
        )


class ProductList(Output):
    object: Literal["list"] = "list"
    data: list[ProductOut]
    has_more: bool = False
    url: str = "/v1/products"


# -- prices -------------------------------------------------------------------------


class RecurringIn(Input):
    interval: Literal["day", "week", "month", "year"]
    interval_count: Annotated[int, Field(strict=True, ge=1, le=365)] = 1
    usage_type: Literal["licensed", "metered"] = "licensed"
    meter: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class TierIn(Input):
    up_to: Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT)] | Literal["inf"]
    unit_amount: Amount = 0
    flat_amount: Amount = 0


class TransformQuantityIn(Input):
    divide_by: Annotated[int, Field(strict=True, ge=1, le=10**9)]
    round: Literal["up", "down"] = "up"


class PriceCreate(Input):
    product: ObjectId
    currency: Annotated[str, StringConstraints(min_length=1, max_length=8)]
    unit_amount: Amount | None = None
    recurring: RecurringIn | None = None
    tax_behavior: Literal["exclusive", "inclusive"] = "exclusive"
    billing_scheme: Literal["per_unit", "tiered"] = "per_unit"
    tiers_mode: Literal["graduated", "volume"] | None = None
    tiers: list[TierIn] | None = Field(default=None, max_length=50)
    transform_quantity: TransformQuantityIn | None = None
    nickname: Annotated[str, StringConstraints(max_length=200)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class PriceUpdate(Input):
    """Prices are immutable except ``active``."""

    active: Annotated[bool, Field(strict=True)]


class PriceOut(Output):
    id: str
    object: Literal["price"] = "price"
    product: str
    currency: str
    unit_amount: int | None
    type: str
    recurring: dict[str, Any] | None
    tax_behavior: str
    billing_scheme: str
    tiers_mode: str | None
    tiers: list[dict[str, Any]] | None
    transform_quantity: dict[str, Any] | None
    active: bool
    nickname: str | None
    metadata: dict[str, Any]
    created: int

    @classmethod
    def of(cls, p: Price) -> PriceOut:
        return cls(
            id=p.id,
            product=p.product_id,
            currency=p.currency,
            unit_amount=p.unit_amount,
            type=p.type,
            recurring=p.recurring.to_json() if p.recurring else None,
            tax_behavior=p.tax_behavior,
            billing_scheme=p.billing_scheme,
            tiers_mode=p.tiers_mode,
            tiers=[t.to_json() for t in p.tiers] if p.tiers else None,
            transform_quantity=p.transform_quantity.to_json() if p.transform_quantity else None,
            active=p.active,
            nickname=p.nickname,
            metadata=p.metadata,
            created=unix(p.created_at),
        )


class PriceList(Output):
    object: Literal["list"] = "list"
    data: list[PriceOut]
    has_more: bool = False
    url: str = "/v1/prices"


# -- invoices -----------------------------------------------------------------------


class InvoiceItemIn(Input):
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    price: ObjectId | None = Field(default=None, description="Price the amount comes from")
    quantity: Quantity = 1
    unit_amount: Amount | None = Field(default=None, description="Per unit, without a price")
    amount: SignedAmount | None = Field(default=None, description="Whole line, minor units")
    discount_amount: Amount = 0
    tax_rate: RateString | None = None
    tax_code: Annotated[str, StringConstraints(max_length=8)] | None = None
    tax_behavior: Literal["exclusive", "inclusive"] | None = None


class InvoiceCreate(Input):
    customer: ObjectId
    currency: CurrencyCode
    items: list[InvoiceItemIn] = Field(min_length=1, max_length=250)
    collection_method: Literal["charge_automatically", "send_invoice"] = "charge_automatically"
    days_until_due: Annotated[int, Field(strict=True, ge=0, le=365)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class TaxLineOut(Output):
    type: str
    rate: str
    amount: int
    taxable_amount: int


class InvoiceOut(Output):
    id: str
    object: Literal["invoice"] = "invoice"
    number: str | None
    customer: str
    subscription: str | None
    currency: str
    status: str
    collection_method: str
    period_start: str | None
    period_end: str | None
    due_date: str | None
    subtotal: int
    total_discount: int
    total_excluding_tax: int
    tax: int
    total: int
    starting_balance: int
    applied_balance: int
    ending_balance: int
    amount_credited: int
    credit_notes_total: int
    amount_paid: int
    amount_due: int
    attempt_count: int
    last_payment_error: str | None
    payment: str | None
    place_of_supply: str | None
    supply_type: str | None
    supply_notation: str | None
    reverse_charge: bool
    customer_details: dict[str, Any]
    seller: dict[str, Any]
    tax_lines: list[TaxLineOut]
    lines: list[dict[str, Any]]
    metadata: dict[str, Any]
    created_at: str
    finalized_at: str | None
    paid_at: str | None
    voided_at: str | None
    marked_uncollectible_at: str | None

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls.model_validate(invoice_object(invoice))


class InvoiceList(Output):
    object: Literal["list"] = "list"
    data: list[InvoiceOut]
    has_more: bool
    url: str = "/v1/invoices"


# -- credit notes ---------------------------------------------------------------------


class CreditNoteLineIn(Input):
    line: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    amount: PositiveAmount


class CreditNoteCreate(Input):
    invoice: ObjectId
    outcome: Literal["reduce_amount_due", "credit_balance", "refund"]
    amount: PositiveAmount | None = Field(default=None, description="Gross, tax included")
    lines: list[CreditNoteLineIn] | None = Field(default=None, max_length=250)
    reason: Annotated[str, StringConstraints(max_length=64)] | None = None
    memo: Annotated[str, StringConstraints(max_length=1000)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class CreditNoteOut(Output):
    id: str
    object: Literal["credit_note"] = "credit_note"
    number: str
    invoice: str
    customer: str
    currency: str
    status: str
    outcome: str
    reason: str | None
    memo: str | None
    subtotal: int
    tax: int
    total: int
    refund: str | None
    lines: list[dict[str, Any]]
    tax_lines: list[TaxLineOut]
    metadata: dict[str, Any]
    created_at: str

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteOut:
        return cls.model_validate(note.to_json())


class CreditNoteList(Output):
    object: Literal["list"] = "list"
    data: list[CreditNoteOut]
    has_more: bool = False
    url: str = "/v1/credit_notes"


# -- customer balance -----------------------------------------------------------------


class BalanceTransactionCreate(Input):
    amount: Annotated[int, Field(strict=True, ge=-MAX_AMOUNT, le=MAX_AMOUNT)] = Field(
        description="Positive adds credit (prepaid), negative removes it"
    )
    currency: CurrencyCode
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class BalanceTransactionOut(Output):
    id: str
    object: Literal["customer_balance_transaction"] = "customer_balance_transaction"
    customer: str
    currency: str
    amount: int
    ending_balance: int
    type: str
    description: str | None
    invoice: str | None
    credit_note: str | None
    metadata: dict[str, Any]
    created_at: str

    @classmethod
    def of(cls, txn: BalanceTransaction) -> BalanceTransactionOut:
        return cls.model_validate(txn.to_json())


class BalanceTransactionList(Output):
    object: Literal["list"] = "list"
    data: list[BalanceTransactionOut]
    has_more: bool = False


def decimal_rate(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
