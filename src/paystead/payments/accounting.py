"""Which journal entries each payment event posts (pure: no database).

- capture of A with gateway fee F:  Dr gateway clearing A, Cr merchant revenue A;
                                    Dr processing fees F, Cr gateway clearing F
- refund of R:                      Dr refunds R, Cr gateway clearing R

An authorization alone moves no money and posts nothing.
"""

from __future__ import annotations

from paystead.errors import CurrencyMismatch
from paystead.ledger.model import (
    AccountRef,
    JournalEntry,
    gateway_clearing,
    merchant_revenue,
    processing_fees,
    refunds_issued,
    transfer,
)
from paystead.money import Money
from paystead.payments.model import Payment, Refund


def accounts_for(gateway: str, currency: str) -> list[AccountRef]:
    """Every account a payment through ``gateway`` in ``currency`` may touch."""
    return [
        gateway_clearing(gateway, currency),
        merchant_revenue(currency),
        processing_fees(currency),
        refunds_issued(currency),
    ]


def capture_entry(payment: Payment, amount: int, fee: Money | None) -> JournalEntry:
    clearing = gateway_clearing(payment.gateway, payment.currency)
    postings = [*transfer(clearing, merchant_revenue(payment.currency), amount)]
    if fee is not None and fee.currency != payment.currency:
        raise CurrencyMismatch(fee.currency, payment.currency)
    if fee is not None and fee.amount > 0:
        postings += transfer(processing_fees(payment.currency), clearing, fee.amount)
    return JournalEntry(
        kind="payment.capture",
        reference=payment.id,
        postings=tuple(postings),
        payment_id=payment.id,
        description=f"capture {Money(amount, payment.currency)}",
    )


def refund_entry(payment: Payment, refund: Refund) -> JournalEntry:
    return JournalEntry(
        kind="refund",
        reference=refund.id,
        postings=transfer(
            refunds_issued(payment.currency),
            gateway_clearing(payment.gateway, payment.currency),
            refund.amount,
        ),
        payment_id=payment.id,
        description=f"refund {Money(refund.amount, payment.currency)}",
    )
