"""Ledger domain: accounts, postings and journal entries, free of any database.

Sign convention: a posting's amount is signed, debit positive and credit negative, so
an entry balances when its postings sum to zero in each currency. An account's balance
is the signed sum of its postings; ``normal_balance`` flips it for credit-normal
accounts (revenue, liabilities) when shown to people.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from paystead.errors import LedgerImbalance


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountType.ASSET, AccountType.EXPENSE)


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account is identified by its code and currency; it never mixes currencies."""

    code: str
    currency: str
    type: AccountType


def gateway_clearing(gateway: str, currency: str) -> AccountRef:
    """Money the gateway holds for us: captured, not yet settled to the bank."""
    return AccountRef(f"gateway_clearing:{gateway}", currency, AccountType.ASSET)


def customer_receivable(currency: str) -> AccountRef:
    """Amounts customers owe (invoiced, not yet paid)."""
    return AccountRef("customer_receivable", currency, AccountType.ASSET)


def merchant_revenue(currency: str) -> AccountRef:
    return AccountRef("merchant_revenue", currency, AccountType.REVENUE)


def refunds_issued(currency: str) -> AccountRef:
    """Contra-revenue: refunds reduce revenue but are kept visible on their own."""
    return AccountRef("refunds", currency, AccountType.EXPENSE)


def processing_fees(currency: str) -> AccountRef:
    """Gateway fees: the processing cost per transaction is read from here."""
    return AccountRef("processing_fees", currency, AccountType.EXPENSE)


@dataclass(frozen=True, slots=True)
class Posting:
    account: AccountRef
    amount: int

    @property
    def currency(self) -> str:
        return self.account.currency


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of postings recording one business event.

    ``(kind, reference)`` names the event (``("payment.capture", "pay_...")``); the
    database keeps it unique so an event is never posted twice.
    """

    kind: str
    reference: str
    postings: tuple[Posting, ...]
    payment_id: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        check_balanced(self.postings)


def check_balanced(postings: tuple[Posting, ...] | list[Posting]) -> None:
    """Raise :class:`LedgerImbalance` unless the postings form a valid entry."""
    if len(postings) < 2:
        raise LedgerImbalance("a journal entry needs at least two postings")
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if type(posting.amount) is not int or posting.amount == 0:
            raise LedgerImbalance(f"posting amount must be a non-zero integer: {posting}")
        totals[posting.currency] += posting.amount
    unbalanced = {cur: total for cur, total in totals.items() if total != 0}
    if unbalanced:
        raise LedgerImbalance(f"postings do not sum to zero: {unbalanced}")


def transfer(debit: AccountRef, credit: AccountRef, amount: int) -> tuple[Posting, Posting]:
    """The two postings that move ``amount`` (> 0) from ``credit`` to ``debit``."""
    if amount <= 0:
        raise LedgerImbalance("transfer amount must be positive")
    if debit.currency != credit.currency:
        raise LedgerImbalance("a transfer stays within one currency")
    return Posting(debit, amount), Posting(credit, -amount)


def normal_balance(account_type: AccountType, signed_balance: int) -> int:
    return signed_balance if account_type.debit_normal else -signed_balance
