"""Invoice totals always add up: per-line tax, sums, credit-note allocation (property tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paystead.billing.credit_notes import plan_lines
from paystead.billing.invoice_service import apply_tax, seller_from_settings
from paystead.billing.invoices import (
    Invoice,
    InvoiceLine,
    InvoiceTotalsBroken,
    check_totals,
    check_transition,
    with_totals,
)
from paystead.billing.tax.gst import GstTax
from paystead.errors import IllegalTransition

NOW = datetime(2026, 5, 1, tzinfo=UTC)
SELLER = seller_from_settings(gstin="27AAPFU0939F1ZV", name="Acme", address="Pune", country="IN")
RATES = [Decimal(r) for r in ("0", "0.25", "3", "5", "12", "18", "28")]
BUYERS = [
    {"address": {"country": "IN", "state_code": "27"}},
    {"address": {"country": "IN", "state_code": "KA"}},
    {"address": {"country": "US"}},
]

line_strategy = st.builds(
    lambda amount, disc_pct, rate, inclusive, qty: InvoiceLine(
        id="il",
        description="x",
        quantity=qty,
        amount=amount,
        discount_amount=(amount * disc_pct // 100) if amount > 0 else 0,
        tax_rate=rate,
        tax_behavior="inclusive" if inclusive else "exclusive",
    ),
    st.integers(min_value=-(10**9), max_value=10**10),
    st.integers(min_value=0, max_value=100),
    st.sampled_from(RATES),
    st.booleans(),
    st.integers(min_value=0, max_value=1000),
)


def invoice(lines: list[InvoiceLine]) -> Invoice:
    return Invoice(
        id="in_x",
        customer_id="cus_x",
        currency="INR",
        status="draft",
        created_at=NOW,
        lines=tuple(replace(x, id=f"il_{i}") for i, x in enumerate(lines)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(line_strategy, min_size=0, max_size=12), st.sampled_from(BUYERS))
def test_totals_add_up_for_random_lines(lines: list[InvoiceLine], buyer: dict[str, object]) -> None:
    taxed = check_totals(apply_tax(invoice(lines), GstTax(), SELLER, buyer))
    assert taxed.total == sum(x.taxable_amount + x.tax_amount for x in taxed.lines)
    assert taxed.tax == sum(t.amount for t in taxed.tax_lines)
    for line in taxed.lines:
        cgst = [t.amount for t in line.tax_lines if t.type == "CGST"]
        sgst = [t.amount for t in line.tax_lines if t.type == "SGST"]
        assert cgst == sgst
    assert taxed.amount_due == max(taxed.total, 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(line_strategy, min_size=1, max_size=8),
    st.sampled_from(BUYERS),
    st.integers(min_value=1, max_value=10**12),
)
def test_credit_notes_split_exactly_and_proportionally(
    lines: list[InvoiceLine], buyer: dict[str, object], wanted: int
) -> None:
    taxed = apply_tax(invoice(lines), GstTax(), SELLER, buyer)
    creditable = sum(x.total for x in taxed.lines if x.total > 0)
    if creditable == 0:
        return
    amount = 1 + wanted % creditable
    planned = plan_lines(taxed, amount=amount, lines=None)
    assert sum(x.amount for x in planned) == amount
    for credit in planned:
        assert credit.taxable_amount + credit.tax_amount == credit.amount
        original = next(x for x in taxed.lines if x.id == credit.invoice_line_id)
        assert 0 <= credit.amount <= original.total
        # proportional: the credited tax is within a paisa per tax line of exact
        for t, o in zip(credit.tax_lines, original.tax_lines, strict=True):
            exact = Fraction(o.amount * credit.amount, original.total)
            assert abs(t.amount - exact) < 1


def test_a_hand_computed_invoice() -> None:
    # Two lines to a Karnataka buyer from Maharashtra (IGST 18 %):
    #   ₹499.00 x 3 seats less ₹100.00 discount = 139700 taxable -> IGST 25146
    #   ₹1,180.00 inclusive -> taxable 100000, IGST 18000
    lines = [
        InvoiceLine("a", "Seats", 3, 149700, discount_amount=10000, tax_rate=Decimal(18)),
        InvoiceLine("b", "Setup", 1, 118000, tax_rate=Decimal(18), tax_behavior="inclusive"),
    ]
    taxed = check_totals(apply_tax(invoice(lines), GstTax(), SELLER, BUYERS[1]))
    assert taxed.subtotal == 267700
    assert taxed.total_discount == 10000
    assert taxed.total_excluding_tax == 239700
    assert taxed.tax == 25146 + 18000
    assert taxed.total == 239700 + 43146
    assert [(t.type, t.amount) for t in taxed.tax_lines] == [("IGST", 43146)]
    assert taxed.place_of_supply == "29-Karnataka"


def test_broken_totals_are_caught() -> None:
    taxed = apply_tax(
        invoice([InvoiceLine("a", "x", 1, 1000, tax_rate=Decimal(18))]), GstTax(), SELLER, BUYERS[0]
    )
    with pytest.raises(InvoiceTotalsBroken):
        check_totals(replace(taxed, total=taxed.total + 1))
    with pytest.raises(InvoiceTotalsBroken):
        check_totals(replace(taxed, amount_due=0))
    assert check_totals(with_totals(taxed)) == taxed


def test_transitions_are_enforced() -> None:
    check_transition("in_x", "draft", "open")
    check_transition("in_x", "open", "paid")
    check_transition("in_x", "uncollectible", "paid")
    for current, target in [
        ("paid", "void"),
        ("void", "open"),
        ("open", "draft"),
        ("paid", "open"),
    ]:
        with pytest.raises(IllegalTransition):
            check_transition("in_x", current, target)
