"""GST and rate-table tax with amounts computed by hand, GSTIN check characters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paystead.billing.tax.base import Party, TaxableItem
from paystead.billing.tax.gst import LUT_NOTATION, GstTax
from paystead.billing.tax.gstin import (
    check_character,
    gst_state_code,
    is_valid_gstin,
    validate_gstin,
)
from paystead.billing.tax.rate_table import RateTableTax
from paystead.errors import InvalidInput

SELLER = Party(country="IN", state_code="27", tax_id="27AAPFU0939F1ZV")  # Maharashtra
GST = GstTax()
R18 = Decimal("18")


def one(buyer: Party, amount: int, rate: Decimal = R18, behavior: str = "exclusive"):  # type: ignore[no-untyped-def]
    result = GST.compute(
        seller=SELLER, buyer=buyer, currency="INR", items=[TaxableItem(amount, rate, behavior)]
    )
    return result, result.lines[0]


def lines(line) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    return [(t.type, str(t.rate), t.amount) for t in line.tax_lines]


def test_gstin_check_character() -> None:
    assert is_valid_gstin("27AAPFU0939F1ZV")
    assert check_character("27AAPFU0939F1Z") == "V"
    assert not is_valid_gstin("27AAPFU0939F1ZA")  # wrong check character
    assert not is_valid_gstin("99AAPFU0939F1ZV")  # no such state
    assert not is_valid_gstin("27AAPFU0939F1Z")  # too short
    # A GSTIN built for Karnataka from the same PAN validates with its own check char.
    ka = "29AAPFU0939F1Z"
    assert is_valid_gstin(ka + check_character(ka))
    with pytest.raises(InvalidInput) as err:
        validate_gstin("27AAPFU0939F1ZW")
    assert err.value.param == "tax_id"


def test_state_codes_from_digits_or_iso() -> None:
    assert gst_state_code("29") == "29"
    assert gst_state_code("KA") == "29"
    assert gst_state_code("IN-MH") == "27"
    assert gst_state_code("ZZ") is None


def test_intra_state_splits_into_equal_cgst_and_sgst() -> None:
    # ₹1,000.00 at 18 % in Maharashtra: CGST 9 % = ₹90.00, SGST 9 % = ₹90.00.
    result, line = one(Party("IN", "27"), 100000)
    assert result.supply_type == "intra_state"
    assert result.place_of_supply == "27-Maharashtra"
    assert lines(line) == [("CGST", "9", 9000), ("SGST", "9", 9000)]
    assert line.taxable_amount == 100000


def test_inter_state_is_igst_at_the_full_rate() -> None:
    # ₹1,000.00 to Karnataka: IGST 18 % = ₹180.00.
    result, line = one(Party("IN", "29"), 100000)
    assert result.supply_type == "inter_state"
    assert result.place_of_supply == "29-Karnataka"
    assert lines(line) == [("IGST", "18", 18000)]


def test_buyer_gstin_state_decides_place_of_supply() -> None:
    from paystead.billing.invoice_service import buyer_party

    gstin = "29AAPFU0939F1Z" + check_character("29AAPFU0939F1Z")
    # Registered in Karnataka, address on record in Maharashtra: the GSTIN's state wins.
    buyer = buyer_party({"tax_id": gstin, "address": {"country": "IN", "state_code": "27"}})
    assert buyer.state_code == "29"
    result, line = one(buyer, 100000)
    assert result.supply_type == "inter_state" and lines(line) == [("IGST", "18", 18000)]
    # Unregistered: the address decides (ISO code accepted).
    assert buyer_party({"address": {"country": "IN", "state_code": "KA"}}).state_code == "29"
    # No state at all: treated as a local (intra-state) sale.
    assert one(buyer_party({}), 100)[0].supply_type == "intra_state"


def test_export_is_zero_rated_under_lut() -> None:
    result, line = one(Party("US"), 100000)
    assert result.supply_type == "export"
    assert result.notation == LUT_NOTATION
    assert "LETTER OF UNDERTAKING WITHOUT PAYMENT OF INTEGRATED TAX" in LUT_NOTATION
    assert lines(line) == [("IGST", "0", 0)]
    assert line.taxable_amount == 100000


def test_inclusive_inter_state_backs_out_the_tax() -> None:
    # ₹1,180.00 inclusive of 18 %: taxable = 118000 x 100 / 118 = 100000, IGST 18000.
    _, line = one(Party("IN", "29"), 118000, behavior="inclusive")
    assert line.taxable_amount == 100000
    assert lines(line) == [("IGST", "18", 18000)]
    # ₹999.00 inclusive: 99900 x 100 / 118 = 84661.016... -> 84661; tax 15239.
    _, odd = one(Party("IN", "29"), 99900, behavior="inclusive")
    assert (odd.taxable_amount, odd.tax_amount) == (84661, 15239)


def test_inclusive_intra_state_keeps_cgst_equal_to_sgst() -> None:
    # ₹999.00 inclusive, 9 % + 9 %: half = 99900 x 9 / 118 = 7619.49 -> 7619 each;
    # tax 15238, taxable 99900 - 15238 = 84662 (taxable + tax = gross exactly).
    _, line = one(Party("IN", "27"), 99900, behavior="inclusive")
    assert lines(line) == [("CGST", "9", 7619), ("SGST", "9", 7619)]
    assert line.taxable_amount == 84662
    assert line.taxable_amount + line.tax_amount == 99900


def test_rounding_edge_cases() -> None:
    # ₹0.01 at 18 % intra: 1 x 9 % = 0.09 -> 0 each. Inter: 0.18 -> 0.
    _, tiny = one(Party("IN", "27"), 1)
    assert lines(tiny) == [("CGST", "9", 0), ("SGST", "9", 0)]
    # ₹0.03 inter: 0.54 paise -> 1 (half up). ₹0.25 at 18 % IGST = 4.5 -> 5 (half up).
    assert lines(one(Party("IN", "29"), 3)[1]) == [("IGST", "18", 1)]
    assert lines(one(Party("IN", "29"), 25)[1]) == [("IGST", "18", 5)]
    # ₹0.50 at 18 % intra: 50 x 9 % = 4.5 -> 5 each, tax 10.
    assert lines(one(Party("IN", "27"), 50)[1]) == [("CGST", "9", 5), ("SGST", "9", 5)]
    # A credit line's tax is the exact negation of the charge's (half away from zero).
    assert lines(one(Party("IN", "27"), -50)[1]) == [("CGST", "9", -5), ("SGST", "9", -5)]
    # 0.25 % slab: ₹1,000.00 x 0.125 % = 125 paise each.
    assert lines(one(Party("IN", "27"), 100000, Decimal("0.25"))[1]) == [
        ("CGST", "0.125", 125),
        ("SGST", "0.125", 125),
    ]


def test_rate_table_vat_and_reverse_charge() -> None:
    engine = RateTableTax({"DE": Decimal("19"), "FR": Decimal("20")})
    seller = Party("DE")
    domestic = engine.compute(
        seller=seller, buyer=Party("DE"), currency="EUR", items=[TaxableItem(10000, Decimal(0))]
    )
    assert [(t.type, t.amount) for t in domestic.lines[0].tax_lines] == [("VAT", 1900)]
    b2b = engine.compute(
        seller=seller,
        buyer=Party("FR", tax_id="FR12345678901"),
        currency="EUR",
        items=[TaxableItem(10000, Decimal(0))],
    )
    assert b2b.reverse_charge and b2b.notation == "Reverse charge"
    assert b2b.lines[0].tax_amount == 0
    b2c = engine.compute(
        seller=seller, buyer=Party("FR"), currency="EUR", items=[TaxableItem(10000, Decimal(0))]
    )
    assert b2c.lines[0].tax_amount == 2000
    outside = engine.compute(
        seller=seller, buyer=Party("US"), currency="EUR", items=[TaxableItem(10000, Decimal(0))]
    )
    assert outside.supply_type == "outside_scope" and outside.lines[0].tax_amount == 0
