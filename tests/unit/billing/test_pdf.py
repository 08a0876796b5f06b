"""Invoice PDFs: the text a customer reads, extracted from the PDF with pypdf."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from paystead.billing.pdf.render import (
    LUT_EXPORT_NOTATION,
    TEMPLATES,
    DocumentLine,
    InvoiceDocument,
    Party,
    TaxLine,
    UnknownTemplate,
    format_money,
    render_html,
    render_pdf,
)
from paystead.billing.pdf.words import amount_in_words, indian_words

SELLER = Party("Paystead Labs Pvt Ltd", "12 MG Road\nBengaluru 560001", "29AABCU9603R1ZM", "29")
BUYER_KA = Party("Kaveri Traders", "4 Residency Road\nBengaluru", "29AAGCR4375J1ZU", "29")
BUYER_MH = Party("Sahyadri Retail LLP", "Andheri East\nMumbai", "27AAPFU0939F1ZV", "27")


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def intra_state_invoice() -> InvoiceDocument:
    # 1,00,000.00 taxable at 18 % intra-state: CGST 9 % = 9,000.00 and SGST 9 % = 9,000.00.
    cgst = TaxLine("CGST", Decimal("9"), 900_000)
    sgst = TaxLine("SGST", Decimal("9"), 900_000)
    line = DocumentLine(
        "Growth plan",
        1,
        10_000_000,
        10_000_000,
        hsn_sac="998314",
        tax_lines=(cgst, sgst),
        period_start=date(2026, 11, 1),
        period_end=date(2026, 12, 1),
        kind="subscription",
    )
    return InvoiceDocument(
        number="INV/2026-27/0042",
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 11, 15),
        seller=SELLER,
        buyer=BUYER_KA,
        currency="INR",
        lines=[line],
        tax_lines=[cgst, sgst],
        subtotal=10_000_000,
        tax_total=1_800_000,
        total=11_800_000,
        place_of_supply="29",
        plan="Growth",
        period_start=date(2026, 11, 1),
        period_end=date(2026, 12, 1),
    )


def test_saas_invoice_states_gst_amounts_indian_grouping_and_words() -> None:
    text = text_of(render_pdf(intra_state_invoice(), "saas"))
    assert "Tax Invoice" in text
    assert "INV/2026-27/0042" in text
    assert "29AABCU9603R1ZM" in text and "29AAGCR4375J1ZU" in text
    assert "Karnataka (29)" in text  # place of supply with its state code
    assert "998314" in text
    assert "CGST @ 9%" in text and "SGST @ 9%" in text
    assert "9,000.00" in text  # each half of the 18 %
    assert "₹1,18,000.00" in text  # Indian grouping, not 118,000.00
    assert "Rupees One Lakh Eighteen Thousand Only" in text
    assert "IGST" not in text


def test_retail_invoice_inter_state_igst_with_hsn_quantity_and_unit_price() -> None:
    # 3 x 1,250.50 = 3,751.50 taxable, IGST 12 % = 450.18; total 4,201.68.
    igst = TaxLine("IGST", Decimal("12"), 45_018)
    line = DocumentLine(
        "Cotton kurta", 3, 125_050, 375_150, hsn_sac="6205", unit="PCS", tax_lines=(igst,)
    )
    doc = replace(
        intra_state_invoice(),
        buyer=BUYER_MH,
        place_of_supply="27",
        lines=[line],
        tax_lines=[igst],
        subtotal=375_150,
        tax_total=45_018,
        total=420_168,
        extra={"order_number": "ORD-7781"},
    )
    text = text_of(render_pdf(doc, "retail"))
    assert "Maharashtra (27)" in text and "27AAPFU0939F1ZV" in text
    assert "6205" in text and "PCS" in text and "1,250.50" in text and "3,751.50" in text
    assert "IGST @ 12%" in text and "450.18" in text
    assert "CGST" not in text
    assert "₹4,201.68" in text
    assert "Rupees Four Thousand Two Hundred One and Sixty-Eight Paise Only" in text
    assert "ORD-7781" in text


def test_services_export_is_zero_rated_under_lut() -> None:
    # Export of services: IGST 0 %, the LUT notation; 12.5 hours x 80.00 USD.
    igst = TaxLine("IGST", Decimal("0"), 0)
    line = DocumentLine(
        "Architecture review",
        Decimal("12.5"),
        8_000,
        100_000,
        hsn_sac="998311",
        unit="HRS",
        milestone="Phase 1 handover",
        tax_lines=(igst,),
    )
    buyer = Party("Acme Inc", "1 Market St\nSan Francisco, USA", None, "96", country="US")
    doc = replace(
        intra_state_invoice(),
        buyer=buyer,
        currency="USD",
        locale="en_US",
        place_of_supply="96",
        supply_notation=f"{LUT_EXPORT_NOTATION} (ARN AD290326000123X)",
        lines=[line],
        tax_lines=[igst],
        subtotal=100_000,
        tax_total=0,
        total=100_000,
        extra={"project": "Ledger migration"},
    )
    text = text_of(render_pdf(doc, "services"))
    assert "export under Letter of Undertaking (LUT) without payment of integrated tax" in text
    assert "AD290326000123X" in text
    assert "Phase 1 handover" in text and "998311" in text and "12.5 hrs" in text
    assert "IGST @ 0%" in text and "$1,000.00" in text
    assert "Ledger migration" in text
    assert "Rupees" not in text  # no words for USD


def test_credit_note_names_the_invoice_it_is_against() -> None:
    doc = replace(
        intra_state_invoice(),
        kind="credit_note",
        number="CN/2026-27/0003",
        reference_number="INV/2026-27/0042",
        reference_date=date(2026, 11, 1),
        reason="Plan downgrade",
    )
    text = text_of(render_pdf(doc, "saas"))
    assert "Credit Note" in text and "Tax Invoice" not in text
    assert "CN/2026-27/0003" in text
    assert "Credit Note against Invoice No. INV/2026-27/0042" in text
    assert "Plan downgrade" in text
    assert "Total credit" in text and "₹1,18,000.00" in text


def test_custom_template_directory_is_searched_first(tmp_path: Path) -> None:
    (tmp_path / "acme.html").write_text(
        '{% extends "base.html" %}{% block lines %}<p>ACME LAYOUT '
        "{% for line in doc.lines %}{{ line.description }} {{ amount(line.taxable_value) }}"
        "{% endfor %}</p>{% endblock %}"
    )
    (tmp_path / "saas.html").write_text("<p>OVERRIDE {{ doc.number }} {{ money(doc.total) }}</p>")
    doc = intra_state_invoice()
    text = text_of(render_pdf(doc, "acme", templates_dir=tmp_path))
    assert "ACME LAYOUT Growth plan 1,00,000.00" in text
    assert "29AABCU9603R1ZM" in text  # the base blocks still render
    assert render_html(doc, "saas", templates_dir=tmp_path).strip() == (
        "<p>OVERRIDE INV/2026-27/0042 ₹1,18,000.00</p>"
    )
    assert "OVERRIDE" not in render_html(doc, "saas")


@pytest.mark.parametrize("name", ["nope", "../base", "base", "", "Saas"])
def test_unknown_template_is_refused_naming_the_parameter(name: str) -> None:
    with pytest.raises(UnknownTemplate) as caught:
        render_html(intra_state_invoice(), name)
    assert caught.value.param == "template"


def test_every_shipped_template_renders() -> None:
    for name in TEMPLATES:
        assert "INV/2026-27/0042" in render_html(intra_state_invoice(), name)


def test_indian_words_and_money() -> None:
    assert indian_words(0) == "Zero"
    assert indian_words(100_000) == "One Lakh"
    assert indian_words(10_000_000) == "One Crore"
    assert indian_words(12_34_56_789) == (
        "Twelve Crore Thirty-Four Lakh Fifty-Six Thousand Seven Hundred Eighty-Nine"
    )
    assert indian_words(1_000_00_00_000) == "One Thousand Crore"
    assert amount_in_words(101, "INR") == "Rupee One and One Paisa Only"
    assert amount_in_words(-5_000, "INR") == "Minus Rupees Fifty Only"
    assert amount_in_words(5_000, "EUR") is None
    assert format_money(1_234_567_89, "INR", "en_IN") == "₹12,34,567.89"
    assert format_money(1_234_567_89, "USD", "en_US") == "$1,234,567.89"
    assert format_money(1_234_567, "JPY", "ja_JP") == "￥1,234,567"
    assert format_money(10_000_000, "INR", "en-IN") == "₹1,00,000.00"
    # A locale Babel does not know falls back to en_IN rather than failing the document.
    assert format_money(10_000_000, "INR", "xx_NOPE") == "₹1,00,000.00"
    assert format_money(10_000_000, "INR", "") == "₹1,00,000.00"
