"""The tax engine's protocol and value types (no I/O).

An engine sees the seller, the buyer and each line's net amount, rate and behaviour,
and answers the place of supply, the supply type, an optional notation and, per line,
the taxable amount and its tax lines. Invoices store the answer; nothing else in
billing knows which jurisdiction's rules produced it, so an engine can be replaced
(``wiring.py`` picks one from the settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol


@dataclass(frozen=True)
class TaxLine:
    #: "CGST", "SGST", "IGST", "VAT", ...
    type: str
    #: Percent, e.g. Decimal("9").
    rate: Decimal
    amount: int
    taxable_amount: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "rate": str(self.rate),
            "amount": self.amount,
            "taxable_amount": self.taxable_amount,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaxLine:
        return cls(
            type=data["type"],
            rate=Decimal(data["rate"]),
            amount=int(data["amount"]),
            taxable_amount=int(data.get("taxable_amount", 0)),
        )


@dataclass(frozen=True)
class Party:
    """Where a seller or buyer is, for tax: ISO country, state (GST code), tax id."""

    country: str | None
    state_code: str | None = None
    tax_id: str | None = None


@dataclass(frozen=True)
class TaxableItem:
    #: Line amount after discount, minor units (negative for credits).
    amount: int
    #: Percent.
    rate: Decimal
    behavior: str = "exclusive"
    tax_code: str | None = None


@dataclass(frozen=True)
class LineTax:
    taxable_amount: int
    tax_lines: tuple[TaxLine, ...]

    @property
    def tax_amount(self) -> int:
        return sum(t.amount for t in self.tax_lines)


@dataclass(frozen=True)
class TaxResult:
    lines: tuple[LineTax, ...]
    #: e.g. "29-Karnataka", or a country code outside India.
    place_of_supply: str | None
    #: intra_state | inter_state | export | domestic | reverse_charge | outside_scope
    supply_type: str
    notation: str | None = None
    reverse_charge: bool = False


class TaxEngine(Protocol):
    def compute(
        self, *, seller: Party, buyer: Party, currency: str, items: Sequence[TaxableItem]
    ) -> TaxResult: ...


def round_half_up(value: Fraction) -> int:
    """An exact fraction rounded half away from zero to an integer (symmetric, so a
    credit line's tax is exactly the negation of the charge's)."""
    sign = -1 if value < 0 else 1
    whole, rest = divmod(abs(value.numerator), value.denominator)
    return sign * (whole + 1 if 2 * rest >= value.denominator else whole)


def pct(rate: Decimal) -> Fraction:
    """Percent as an exact fraction of one."""
    return Fraction(rate) / 100
