"""Amounts in words with the Indian numbering system (thousand, lakh, crore).

``amount_in_words(12345678, "INR")`` is "Rupees One Lakh Twenty-Three Thousand Four
Hundred Fifty-Six and Seventy-Eight Paise Only": 1 lakh = 1,00,000 and 1 crore =
1,00,00,000; amounts of a hundred crore and more say the crore count in the same
system ("One Thousand Two Hundred Crore"). Only INR has words today; other
currencies return ``None`` and the templates leave the line out.
"""

from __future__ import annotations

from paystead.money import currency as currency_info

_ONES = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
]
_TENS = ["_", "_", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"]

#: Major and minor unit names per currency, singular and plural.
_UNITS = {"INR": (("Rupee", "Rupees"), ("Paisa", "Paise"))}


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds:
        parts.append(f"{_ONES[hundreds]} Hundred")
    if rest:
        parts.append(_below_hundred(rest))
    return " ".join(parts)


def indian_words(n: int) -> str:
    """A non-negative integer in words, grouped as crore, lakh, thousand, hundred."""
    if n < 0:
        raise ValueError("indian_words takes a non-negative integer")
    if n == 0:
        return "Zero"
    crore, rest = divmod(n, 10_000_000)
    lakh, rest = divmod(rest, 100_000)
    thousand, rest = divmod(rest, 1_000)
    parts = []
    if crore:
        parts.append(f"{indian_words(crore)} Crore")
    if lakh:
        parts.append(f"{_below_hundred(lakh)} Lakh")
    if thousand:
        parts.append(f"{_below_hundred(thousand)} Thousand")
    if rest:
        parts.append(_below_thousand(rest))
    return " ".join(parts)


def amount_in_words(minor: int, currency: str) -> str | None:
    """``minor`` units of ``currency`` in words, or ``None`` for a currency without words."""
    code = currency_info(currency).code
    names = _UNITS.get(code)
    if names is None:
        return None
    (major_one, major_many), (minor_one, minor_many) = names
    per_major = currency_info(code).minor_per_major
    major, fraction = divmod(abs(minor), per_major)
    sign = "Minus " if minor < 0 else ""
    text = f"{sign}{major_one if major == 1 else major_many} {indian_words(major)}"
    if fraction:
        text += f" and {indian_words(fraction)} {minor_one if fraction == 1 else minor_many}"
    return text + " Only"
