"""The ECB euro foreign exchange reference rates CSV, parsed (no I/O).

Two shapes of the same file, both "units of the currency per 1 EUR":

- ``eurofxref.csv`` (today's rates)::

      Date, USD, JPY, BGN, ..., ZAR,
      03 June 2021, 1.2187, 133.81, 1.9558, ..., 16.5612,

- ``eurofxref-hist.csv`` (every day since 1999)::

      Date,USD,JPY,BGN,...,ZAR,
      2021-06-03,1.2187,133.81,1.9558,...,16.5612,

Cells are padded with spaces, rows end with a trailing comma, and a currency without a
rate that day (withdrawn, or not yet quoted) reads ``N/A`` or is empty: it is skipped,
never read as zero. Codes that are not ISO 4217 currencies are refused.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from paystead.errors import InvalidInput, UnknownCurrency
from paystead.money import currency


@dataclass(frozen=True, slots=True)
class EcbRate:
    day: date
    quote: str
    #: Units of ``quote`` per 1 EUR.
    rate: Decimal


def _day(text: str, line: int) -> date:
    for fmt in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInput(f"line {line}: {text!r} is not a date", param="Date")


@dataclass(frozen=True, slots=True)
class EcbFile:
    rates: list[EcbRate]
    #: Columns left out: codes that are not current ISO 4217 currencies.
    skipped: tuple[str, ...]


def parse(text: str) -> EcbFile:
    """Every rate in the file; raises :class:`InvalidInput` naming the line and column."""
    rows = [
        [cell.strip() for cell in row] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))
    ]
    rows = [row for row in rows if any(row)]
    if not rows or not rows[0] or rows[0][0] != "Date":
        raise InvalidInput("not an ECB reference rates file: the header starts with 'Date'")
    header = rows[0]
    codes: list[str | None] = [None]
    skipped = []
    for code in header[1:]:
        if not code:
            codes.append(None)  # the trailing comma
            continue
        if not (len(code) == 3 and code.isascii() and code.isalpha()):
            raise InvalidInput(f"header: {code!r} is not a currency code", param=code)
        try:
            codes.append(currency(code).code)
        except UnknownCurrency:
            codes.append(None)
            skipped.append(code)
    found = []
    for line, row in enumerate(rows[1:], start=2):
        day = _day(row[0], line)
        for column, cell in zip(codes[1:], row[1:], strict=False):
            if column is None or cell in ("", "N/A"):
                continue
            code = column
            try:
                rate = Decimal(cell)
            except InvalidOperation:
                raise InvalidInput(
                    f"line {line}: {code}: {cell!r} is not a number", param=code
                ) from None
            if not rate.is_finite() or rate <= 0:
                raise InvalidInput(f"line {line}: {code}: a rate must be positive", param=code)
            found.append(EcbRate(day, code, rate))
    return EcbFile(found, tuple(skipped))
