"""Ledger domain rules: balanced entries per currency, transfers, normal balances."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paystead.errors import LedgerImbalance
from paystead.ledger.model import (
    AccountRef,
    AccountType,
    JournalEntry,
    Posting,
    check_balanced,
    customer_receivable,
    gateway_clearing,
    merchant_revenue,
    normal_balance,
    processing_fees,
    refunds_issued,
    transfer,
)

CASH_INR = AccountRef("cash", "INR", AccountType.ASSET)
REVENUE_INR = AccountRef("revenue", "INR", AccountType.REVENUE)
FEES_INR = AccountRef("fees", "INR", AccountType.EXPENSE)
CASH_USD = AccountRef("cash", "USD", AccountType.ASSET)
REVENUE_USD = AccountRef("revenue", "USD", AccountType.REVENUE)


def _entry(*postings: Posting) -> JournalEntry:
    return JournalEntry(kind="test", reference="ref_1", postings=tuple(postings))


def _refused(postings: list[Posting]) -> None:
    with pytest.raises(LedgerImbalance) as excinfo:
        check_balanced(postings)
    assert excinfo.value.code == "ledger_imbalance"
    with pytest.raises(LedgerImbalance):
        _entry(*postings)


# --------------------------------------------------------------------------- check_balanced


def test_a_balanced_pair_is_accepted() -> None:
    postings = [Posting(CASH_INR, 100), Posting(REVENUE_INR, -100)]
    check_balanced(postings)
    check_balanced(tuple(postings))
    entry = _entry(*postings)
    assert entry.postings == tuple(postings)
    assert entry.payment_id is None


def test_a_balanced_three_way_split_is_accepted() -> None:
    check_balanced([Posting(CASH_INR, 980), Posting(FEES_INR, 20), Posting(REVENUE_INR, -1000)])


@pytest.mark.parametrize("postings", [[], [Posting(CASH_INR, 100)], [Posting(CASH_INR, 0)]])
def test_fewer_than_two_postings_are_refused(postings: list[Posting]) -> None:
    _refused(postings)


def test_a_zero_posting_is_refused_even_if_the_rest_balances() -> None:
    _refused([Posting(CASH_INR, 100), Posting(REVENUE_INR, -100), Posting(FEES_INR, 0)])
    _refused([Posting(CASH_INR, 0), Posting(REVENUE_INR, 0)])


@pytest.mark.parametrize(
    ("debit", "credit"),
    [
        (100.0, -100.0),
        (1, -1.0),
        (Decimal(100), Decimal(-100)),
        (True, -1),  # a bool is not an amount, even though True == 1
        ("100", "-100"),
    ],
)
def test_non_int_postings_are_refused(debit: object, credit: object) -> None:
    _refused([Posting(CASH_INR, debit), Posting(REVENUE_INR, credit)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "postings",
    [
        [Posting(CASH_INR, 100), Posting(REVENUE_INR, -99)],
        [Posting(CASH_INR, 100), Posting(REVENUE_INR, 100)],
        [Posting(CASH_INR, -1), Posting(REVENUE_INR, -1)],
        [Posting(CASH_INR, 1000), Posting(FEES_INR, 20), Posting(REVENUE_INR, -1000)],
    ],
)
def test_unbalanced_postings_are_refused(postings: list[Posting]) -> None:
    _refused(postings)


def test_multi_currency_entry_must_balance_per_currency() -> None:
    # Sums to zero in total (100 - 50 - 50) but INR is +50 and USD is -50.
    _refused([Posting(CASH_INR, 100), Posting(REVENUE_INR, -50), Posting(REVENUE_USD, -50)])
    _refused([Posting(CASH_INR, 100), Posting(REVENUE_USD, -100)])


def test_multi_currency_entry_balanced_per_currency_is_accepted() -> None:
    _entry(
        Posting(CASH_INR, 8300),
        Posting(REVENUE_INR, -8300),
        Posting(CASH_USD, 100),
        Posting(REVENUE_USD, -100),
    )


_currencies = st.sampled_from(["INR", "USD", "JPY"])
_nonzero = st.integers(-(10**12), 10**12).filter(bool)


@st.composite
def balanced_postings(draw: st.DrawFn) -> list[Posting]:
    postings: list[Posting] = []
    for cur in draw(st.lists(_currencies, min_size=1, max_size=3, unique=True)):
        debit = AccountRef("debit", cur, AccountType.ASSET)
        credit = AccountRef("credit", cur, AccountType.REVENUE)
        amounts = draw(st.lists(_nonzero, min_size=1, max_size=5))
        for amount in amounts:
            postings += [Posting(debit, amount), Posting(credit, -amount)]
    return draw(st.permutations(postings))


@given(postings=balanced_postings())
def test_any_per_currency_balanced_set_is_accepted(postings: list[Posting]) -> None:
    check_balanced(postings)
    _entry(*postings)


@given(postings=balanced_postings(), index=st.integers(0, 1000), delta=_nonzero)
def test_disturbing_one_posting_breaks_the_balance(
    postings: list[Posting], index: int, delta: int
) -> None:
    i = index % len(postings)
    changed = postings[i].amount + delta
    disturbed = [*postings[:i], Posting(postings[i].account, changed), *postings[i + 1 :]]
    # A zero posting is refused too, so the result is refused either way.
    _refused(disturbed)


# --------------------------------------------------------------------------- transfer


def test_transfer_debits_positive_and_credits_negative() -> None:
    debit, credit = transfer(CASH_INR, REVENUE_INR, 250)
    assert debit == Posting(CASH_INR, 250)
    assert credit == Posting(REVENUE_INR, -250)
    assert debit.currency == credit.currency == "INR"
    _entry(debit, credit)  # a transfer is itself a balanced entry


@pytest.mark.parametrize("amount", [0, -1, -250])
def test_transfer_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(LedgerImbalance):
        transfer(CASH_INR, REVENUE_INR, amount)


def test_transfer_stays_within_one_currency() -> None:
    with pytest.raises(LedgerImbalance):
        transfer(CASH_INR, REVENUE_USD, 100)


# --------------------------------------------------------------------------- accounts


@pytest.mark.parametrize(
    ("account_type", "debit_normal"),
    [
        (AccountType.ASSET, True),
        (AccountType.EXPENSE, True),
        (AccountType.LIABILITY, False),
        (AccountType.EQUITY, False),
        (AccountType.REVENUE, False),
    ],
)
def test_normal_balance_per_account_type(account_type: AccountType, debit_normal: bool) -> None:
    assert account_type.debit_normal is debit_normal
    sign = 1 if debit_normal else -1
    for signed in (0, 1, -1, 12345, -12345):
        assert normal_balance(account_type, signed) == sign * signed


def test_every_account_type_is_covered() -> None:
    assert {t.value for t in AccountType} == {
        "asset",
        "liability",
        "equity",
        "revenue",
        "expense",
    }


def test_revenue_shows_positive_after_a_sale() -> None:
    debit, credit = transfer(CASH_INR, REVENUE_INR, 500)
    assert normal_balance(CASH_INR.type, debit.amount) == 500
    assert normal_balance(REVENUE_INR.type, credit.amount) == 500


@pytest.mark.parametrize(
    ("account", "code", "account_type"),
    [
        (gateway_clearing("sandbox", "INR"), "gateway_clearing:sandbox", AccountType.ASSET),
        (customer_receivable("INR"), "customer_receivable", AccountType.ASSET),
        (merchant_revenue("INR"), "merchant_revenue", AccountType.REVENUE),
        (refunds_issued("INR"), "refunds", AccountType.EXPENSE),
        (processing_fees("INR"), "processing_fees", AccountType.EXPENSE),
    ],
)
def test_standard_accounts(account: AccountRef, code: str, account_type: AccountType) -> None:
    assert account.code == code
    assert account.currency == "INR"
    assert account.type is account_type


def test_accounts_are_identified_by_code_and_currency() -> None:
    assert gateway_clearing("sandbox", "INR") == gateway_clearing("sandbox", "INR")
    assert gateway_clearing("sandbox", "INR") != gateway_clearing("sandbox", "USD")
    assert gateway_clearing("sandbox", "INR") != gateway_clearing("razorpay", "INR")
