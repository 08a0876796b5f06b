"""Request and response bodies. Inputs and outputs are separate classes, always.

Amounts are strict JSON integers in minor units: ``10.5``, ``"10"`` and ``true`` are
refused, as are zero, negatives and anything above 2**53 - 1. Unknown fields are
refused too, so a misspelt parameter never passes silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from paystead.customers.repository import Customer
from paystead.errors import UnknownCurrency
from paystead.money import MAX_AMOUNT, currency
from paystead.payments.model import Payment, PaymentStatus, Refund, RefundStatus


def _currency_code(value: str) -> str:
    try:
        return currency(value).code
    except UnknownCurrency:
        raise ValueError(f"{value!r} is not an ISO 4217 currency with minor units") from None


PositiveAmount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT)]
CurrencyCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency_code)]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z]+_\w+$")]
Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=40)],
        Annotated[str, StringConstraints(max_length=500)],
    ],
    Field(max_length=50),
]
StrictBool = Annotated[bool, Field(strict=True)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


#: Latest unix second accepted (year 9999), so a datetime can always be built.
LAST_SECOND = 253402300799
UnixTime = Annotated[int, Field(strict=True, ge=0, le=LAST_SECOND)]


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def at(ts: int | None) -> datetime | None:
    """A unix second from a request as an aware UTC datetime (``None`` stays ``None``)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def with_unix_times(row: dict[str, Any], object_name: str) -> dict[str, Any]:
    """A stored row as the API shows it: typed by ``object``, datetimes as unix seconds."""
    return {
        "object": object_name,
        **{k: unix(v) if isinstance(v, datetime) else v for k, v in row.items()},
    }


# -- customers ----------------------------------------------------------------------


class AddressIn(Input):
    """Billing address (billing/customer_details.py validates it further)."""

    line1: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: Annotated[str, StringConstraints(max_length=100)] | None = None
    state_code: Annotated[str, StringConstraints(max_length=10)] | None = Field(
        default=None, description="GST state code (29) or ISO 3166-2 subdivision (KA)"
    )
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Annotated[str, StringConstraints(min_length=2, max_length=2)] = Field(
        description="ISO 3166 alpha-2"
    )


class CustomerCreate(Input):
    email: EmailStr
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")] | None = Field(
        default=None, description="E.164, e.g. +919876543210"
    )
    metadata: Metadata = Field(default_factory=dict)
    # -- billing details (billing/, migration 0010) --
    address: AddressIn | None = None
    tax_id: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="GSTIN for Indian customers (check character verified)"
    )
    payment_method: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="Default payment method invoices and renewals charge"
    )
    locale: Annotated[str, StringConstraints(max_length=16)] | None = None
    # -- test clocks (billing/clocks.py, migration 0011) --
    test_clock: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None, description="A test clock id: the customer lives on its time"
    )


class CustomerUpdate(Input):
    """``POST /v1/customers/{id}``: only the fields sent change; null clears one."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")] | None = None
    metadata: Metadata | None = None
    address: AddressIn | None = None
    tax_id: Annotated[str, StringConstraints(max_length=32)] | None = None
    payment_method: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    locale: Annotated[str, StringConstraints(max_length=16)] | None = None


class CustomerOut(Output):
    id: str
    object: Literal["customer"] = "customer"
    email: str
    name: str
    phone: str | None
    metadata: dict[str, Any]
    created: int
    address: dict[str, Any] | None = None
    tax_id: str | None = None
    payment_method: str | None = None
    locale: str | None = None
    test_clock: str | None = None

    @classmethod
    def of(cls, c: Customer) -> CustomerOut:
        return cls(
            id=c.id,
            email=c.email,
            name=c.name,
            phone=c.phone,
            metadata=c.metadata,
            created=unix(c.created_at),
            address=c.address,
            tax_id=c.tax_id,
            payment_method=c.payment_method,
            locale=c.locale,
            test_clock=c.test_clock_id,
        )


# -- payments -----------------------------------------------------------------------


class PaymentCreate(Input):
    amount: PositiveAmount = Field(description="In the currency's minor unit: 50000 = ₹500.00")
    currency: CurrencyCode
    payment_method: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    capture_method: Literal["automatic", "manual"] = "automatic"
    confirm: StrictBool = Field(
        default=True, description="false leaves the payment in requires_confirmation"
    )
    customer: ObjectId | None = None
    gateway: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class CaptureRequest(Input):
    amount: PositiveAmount | None = Field(
        default=None, description="Capture less than authorized (once); default: all"
    )


class EmptyRequest(Input):
    pass


CheckoutValue = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ConfirmRequest(Input):
    """Empty to confirm a ``requires_confirmation`` payment; for a ``requires_action``
    Razorpay payment, what Checkout's handler returned."""

    razorpay_payment_id: CheckoutValue | None = None
    razorpay_order_id: CheckoutValue | None = None
    razorpay_signature: CheckoutValue | None = None

    def action_params(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PaymentOut(Output):
    id: str
    object: Literal["payment"] = "payment"
    amount: int
    currency: str
    status: PaymentStatus
    capture_method: str
    amount_captured: int
    amount_refunded: int
    amount_refund_pending: int
    customer: str | None
    payment_method: str
    gateway: str
    gateway_reference: str | None
    failure_code: str | None
    failure_message: str | None
    description: str | None
    metadata: dict[str, Any]
    created: int
    updated: int
    next_action: dict[str, Any] | None = Field(
        default=None,
        description="While requires_action: what the front end must open, e.g. "
        '{"type": "razorpay_checkout", "razorpay_checkout": {"key_id", "order_id", '
        '"amount", "currency"}}',
    )
    attempts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Every gateway tried: the routing decision (reason, candidates' "
        "evidence and estimates) and the gateway's answer",
    )

    @classmethod
    def of(cls, p: Payment) -> PaymentOut:
        return cls(
            id=p.id,
            amount=p.amount,
            currency=p.currency,
            status=p.status,
            capture_method=p.capture_method.value,
            amount_captured=p.amount_captured,
            amount_refunded=p.amount_refunded,
            amount_refund_pending=p.amount_refund_pending,
            customer=p.customer_id,
            payment_method=p.payment_method,
            gateway=p.gateway,
            gateway_reference=p.gateway_reference,
            failure_code=p.failure_code,
            failure_message=p.failure_message,
            description=p.description,
            metadata=p.metadata,
            created=unix(p.created_at),
            updated=unix(p.updated_at),
            next_action=p.next_action if p.status is PaymentStatus.REQUIRES_ACTION else None,
            attempts=p.attempts,
        )


class PaymentList(Output):
    object: Literal["list"] = "list"
    data: list[PaymentOut]
    has_more: bool
    url: str = "/v1/payments"


# -- refunds ------------------------------------------------------------------------


class RefundCreate(Input):
    payment: ObjectId
    amount: PositiveAmount | None = Field(default=None, description="Default: all that is left")
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    metadata: Metadata = Field(default_factory=dict)


class RefundOut(Output):
    id: str
    object: Literal["refund"] = "refund"
    payment: str
    amount: int
    currency: str
    status: RefundStatus
    reason: str | None
    gateway_reference: str | None
    failure_code: str | None
    failure_message: str | None
    metadata: dict[str, Any]
    created: int

    @classmethod
    def of(cls, r: Refund) -> RefundOut:
        return cls(
            id=r.id,
            payment=r.payment_id,
            amount=r.amount,
            currency=r.currency,
            status=r.status,
            reason=r.reason,
            gateway_reference=r.gateway_reference,
            failure_code=r.failure_code,
            failure_message=r.failure_message,
            metadata=r.metadata,
            created=unix(r.created_at),
        )


# -- ledger -------------------------------------------------------------------------


class LedgerAccountOut(Output):
    id: int
    object: Literal["ledger_account"] = "ledger_account"
    code: str
    currency: str
    type: str
    balance: int = Field(description="Signed sum of postings: debits positive")
    normal_balance: int = Field(description="The balance on the account's normal side")


class PostingOut(Output):
    account: str
    account_type: str
    amount: int = Field(description="Signed: debit positive, credit negative")
    direction: Literal["debit", "credit"]
    currency: str


class JournalEntryOut(Output):
    id: str
    object: Literal["journal_entry"] = "journal_entry"
    kind: str
    reference: str
    payment: str | None
    description: str | None
    created: int
    postings: list[PostingOut]


class LedgerList(Output):
    object: Literal["list"] = "list"
    data: list[LedgerAccountOut] | list[JournalEntryOut]
    has_more: bool = False


class MismatchOut(Output):
    kind: str
    subject: str
    expected: int
    actual: int


class LedgerCheckOut(Output):
    object: Literal["ledger_check"] = "ledger_check"
    ok: bool
    mismatches: list[MismatchOut]
