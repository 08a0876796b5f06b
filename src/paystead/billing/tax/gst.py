"""India GST (no I/O).

* Seller state: the first two digits of ``PAYSTEAD_SELLER_GSTIN``.
* Place of supply (services, section 12 IGST Act as summarised in
  /work/shared/reference/facts.md): the buyer's GSTIN state when registered, else the
  state of the address on record.
* Buyer outside India -> export of services, zero-rated under a Letter of Undertaking:
  no IGST, an ``IGST 0 %`` tax line and the Rule 46 CGST Rules endorsement
  :data:`LUT_NOTATION`.
* Same state -> CGST + SGST at half the rate each; different state (or no state
  known) -> IGST at the full rate. A buyer in India with no state at all is treated as
  inter-state only if a state cannot be found; we default to the seller's state
  (intra-state), which is what an unregistered local sale is.

Rounding (per line, half away from zero to the paisa, exact fractions, no floats):

* exclusive, IGST: ``tax = round(taxable x rate / 100)``
* exclusive, CGST+SGST: ``half = round(taxable x (rate / 2) / 100)``; CGST = SGST =
  half; tax = 2 x half (so the two are always equal)
* inclusive, IGST: ``taxable = round(gross x 100 / (100 + rate))``; ``tax = gross - taxable``
* inclusive, CGST+SGST: ``half = round(gross x (rate / 2) / (100 + rate))``;
  ``tax = 2 x half``; ``taxable = gross - tax`` (so taxable + tax = gross exactly)
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from paystead.billing.tax.base import LineTax, Party, TaxableItem, TaxLine, TaxResult, round_half_up
from paystead.billing.tax.gstin import place_of_supply_label

#: Rule 46 of the CGST Rules 2017 (export under bond/LUT without payment of integrated
#: tax), the SEZ alternative left out since this is an export.
LUT_NOTATION = (
    "SUPPLY MEANT FOR EXPORT UNDER BOND OR LETTER OF UNDERTAKING WITHOUT PAYMENT OF INTEGRATED TAX"
)


def _half(rate: Decimal) -> Decimal:
    return (rate / 2).normalize() if rate else Decimal(0)


def split_intra(item: TaxableItem) -> LineTax:
    rate = Fraction(item.rate)
    half_rate = _half(item.rate)
    if item.behavior == "inclusive":
        half = round_half_up(item.amount * (rate / 2) / (100 + rate))
        taxable = item.amount - 2 * half
    else:
        taxable = item.amount
        half = round_half_up(taxable * (rate / 2) / 100)
    return LineTax(
        taxable_amount=taxable,
        tax_lines=(
            TaxLine("CGST", half_rate, half, taxable),
            TaxLine("SGST", half_rate, half, taxable),
        ),
    )


def igst(item: TaxableItem) -> LineTax:
    rate = Fraction(item.rate)
    if item.behavior == "inclusive":
        taxable = round_half_up(item.amount * Fraction(100) / (100 + rate))
        tax = item.amount - taxable
    else:
        taxable = item.amount
        tax = round_half_up(taxable * rate / 100)
    return LineTax(
        taxable,
        (TaxLine("IGST", item.rate.normalize() if item.rate else Decimal(0), tax, taxable),),
    )


def zero_rated(item: TaxableItem) -> LineTax:
    # An inclusive price exported zero-rated: the whole gross is the taxable value.
    return LineTax(item.amount, (TaxLine("IGST", Decimal(0), 0, item.amount),))


class GstTax:
    """The GST engine for a seller registered in India."""

    def compute(
        self, *, seller: Party, buyer: Party, currency: str, items: Sequence[TaxableItem]
    ) -> TaxResult:
        buyer_country = (buyer.country or "IN").upper()
        if buyer_country != "IN":
            return TaxResult(
                lines=tuple(zero_rated(i) for i in items),
                place_of_supply=f"96-Foreign Country ({buyer_country})",
                supply_type="export",
                notation=LUT_NOTATION,
            )
        seller_state = seller.state_code
        buyer_state = buyer.state_code or seller_state
        if buyer_state is not None and buyer_state == seller_state:
            return TaxResult(
                lines=tuple(split_intra(i) for i in items),
                place_of_supply=place_of_supply_label(buyer_state),
                supply_type="intra_state",
            )
        return TaxResult(
            lines=tuple(igst(i) for i in items),
            place_of_supply=place_of_supply_label(buyer_state) if buyer_state else None,
            supply_type="inter_state",
        )
