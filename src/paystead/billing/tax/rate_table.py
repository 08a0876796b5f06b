"""A simple rate-table engine for sellers outside India (no I/O).

``rates`` maps a buyer country (ISO 3166 alpha-2) to a percent. Rules:

* buyer in the seller's country -> the table's rate for it (``domestic``);
* buyer in another country of ``reverse_charge_countries`` (the EU by default) with a
  tax id -> no tax, ``reverse_charge`` set, notation "Reverse charge";
* buyer in another listed country without a tax id -> that country's rate
  (``domestic`` of the buyer, as EU OSS B2C supplies of services are);
* anything else -> no tax (``outside_scope``).

Tax per line: exclusive ``round(net x rate / 100)``; inclusive ``taxable =
round(gross x 100 / (100 + rate))``, ``tax = gross - taxable``; half away from zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from paystead.billing.tax.base import LineTax, Party, TaxableItem, TaxLine, TaxResult, round_half_up

EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
REVERSE_CHARGE_NOTATION = "Reverse charge"


def _line(item: TaxableItem, rate: Decimal, name: str) -> LineTax:
    r = Fraction(rate)
    if item.behavior == "inclusive":
        taxable = round_half_up(item.amount * Fraction(100) / (100 + r))
        tax = item.amount - taxable
    else:
        taxable = item.amount
        tax = round_half_up(taxable * r / 100)
    return LineTax(
        taxable, (TaxLine(name, rate.normalize() if rate else Decimal(0), tax, taxable),)
    )


class RateTableTax:
    def __init__(
        self,
        rates: Mapping[str, Decimal],
        *,
        tax_name: str = "VAT",
        reverse_charge_countries: frozenset[str] = EU,
    ):
        self.rates = {k.upper(): v for k, v in rates.items()}
        self.tax_name = tax_name
        self.reverse_charge_countries = reverse_charge_countries

    def compute(
        self, *, seller: Party, buyer: Party, currency: str, items: Sequence[TaxableItem]
    ) -> TaxResult:
        seller_country = (seller.country or "").upper()
        buyer_country = (buyer.country or seller_country).upper()
        cross_border = buyer_country != seller_country
        if (
            cross_border
            and buyer.tax_id
            and buyer_country in self.reverse_charge_countries
            and seller_country in self.reverse_charge_countries
        ):
            return TaxResult(
                lines=tuple(_line(i, Decimal(0), self.tax_name) for i in items),
                place_of_supply=buyer_country,
                supply_type="reverse_charge",
                notation=REVERSE_CHARGE_NOTATION,
                reverse_charge=True,
            )
        rate = self.rates.get(buyer_country)
        if rate is None:
            return TaxResult(
                lines=tuple(LineTax(i.amount, ()) for i in items),
                place_of_supply=buyer_country or None,
                supply_type="outside_scope",
            )
        return TaxResult(
            lines=tuple(_line(i, rate, self.tax_name) for i in items),
            place_of_supply=buyer_country,
            supply_type="domestic",
        )
