"""Invoice and credit-note documents rendered to HTML and PDF.

The billing service maps its Invoice (or CreditNote) to an :class:`InvoiceDocument`:
a plain, already-computed picture of the document (every amount an int in minor
units, every tax amount final). This module only presents it: a Jinja2 template
renders the HTML and WeasyPrint prints the same HTML to PDF. No tax is computed here.

Templates: ``saas``, ``retail`` and ``services`` ship in ``billing/pdf/templates``;
each extends ``base.html``, a GST tax invoice (CGST Rules, rule 46) with seller and
buyer GSTIN, place of supply, SAC/HSN per line, taxable value, tax per rate and type,
totals and the amount in words. A directory given as ``templates_dir`` (from the
setting ``PAYSTEAD_INVOICE_TEMPLATES_DIR``) is searched first, so a file there named
``saas.html`` replaces the shipped one and ``acme.html`` adds a template ``acme``.
The template contract is in ``docs/invoice_pdfs.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import jinja2
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

from paystead.billing.pdf.words import amount_in_words
from paystead.billing.tax.gstin import STATES
from paystead.errors import InvalidInput
from paystead.money import Money

#: The shipped templates.
TEMPLATES = ("saas", "retail", "services")

#: The notation a zero-rated export under a Letter of Undertaking carries (IGST Act s.16,
#: CGST Rules r.96A); the LUT's ARN is appended when known.
LUT_EXPORT_NOTATION = (
    "Supply meant for export under Letter of Undertaking (LUT) without payment of integrated tax"
)

#: GST state names by code, for printing; "96" is the place of supply of an export.
GST_STATES = {**STATES, "96": "Other Country"}


class UnknownTemplate(InvalidInput):
    code = "template_invalid"

    def __init__(self, name: str):
        super().__init__(f"no invoice template named {name!r}", param="template")


@dataclass(frozen=True)
class Party:
    """Seller or buyer as printed: ``address`` may hold several lines (newlines)."""

    name: str
    address: str = ""
    gstin: str | None = None
    #: Two-digit GST state code ("29"); for a GSTIN holder its first two digits.
    state_code: str | None = None
    country: str = "IN"
    email: str | None = None

    @property
    def state_name(self) -> str | None:
        return GST_STATES.get(self.state_code) if self.state_code else None


@dataclass(frozen=True)
class TaxLine:
    """One tax at one rate: ``type`` "CGST" | "SGST" | "IGST" | "VAT" | ...;
    ``rate`` in percent (``Decimal("9")``); ``amount`` in minor units."""

    type: str
    rate: Decimal
    amount: int
    #: The taxable value this tax was computed on, when stated per rate.
    taxable_amount: int | None = None


@dataclass(frozen=True)
class DocumentLine:
    description: str
    #: Units, hours or days; a Decimal allows 7.5 hours.
    quantity: Decimal | int
    #: Amount per unit in minor units, before discount and tax.
    unit_amount: int
    #: Taxable value of the line (after discount, excluding tax) in minor units.
    taxable_value: int
    #: SAC (services) or HSN (goods) code.
    hsn_sac: str | None = None
    #: Unit quantity code as printed: "NOS", "HRS", "DAYS", "MON", ...
    unit: str = "NOS"
    discount: int = 0
    tax_lines: Sequence[TaxLine] = ()
    period_start: date | None = None
    period_end: date | None = None
    #: For services: the milestone or phase this line bills.
    milestone: str | None = None
    #: subscription | proration | usage | one_off (as on the invoice line).
    kind: str = "one_off"

    @property
    def tax_amount(self) -> int:
        return sum(t.amount for t in self.tax_lines)

    @property
    def total(self) -> int:
        return self.taxable_value + self.tax_amount


@dataclass(frozen=True)
class InvoiceDocument:
    number: str
    issue_date: date
    seller: Party
    buyer: Party
    currency: str
    lines: Sequence[DocumentLine]
    #: Taxes summed per type and rate, as the totals block prints them.
    tax_lines: Sequence[TaxLine]
    #: Sum of the lines' taxable values.
    subtotal: int
    #: Sum of the tax lines.
    tax_total: int
    #: subtotal + tax_total.
    total: int
    kind: Literal["invoice", "credit_note"] = "invoice"
    due_date: date | None = None
    #: Place of supply as a GST state code ("29"); its name is looked up.
    place_of_supply: str | None = None
    #: Printed under the title, e.g. :data:`LUT_EXPORT_NOTATION` for a zero-rated export.
    supply_notation: str | None = None
    reverse_charge: bool = False
    #: Credit notes: the invoice they are issued against, its date, and why.
    reference_number: str | None = None
    reference_date: date | None = None
    reason: str | None = None
    amount_paid: int = 0
    #: None means total - amount_paid.
    amount_due: int | None = None
    discount_total: int = 0
    #: None: computed for INR (Indian numbering); other currencies print no words.
    amount_in_words: str | None = None
    locale: str = "en_IN"
    period_start: date | None = None
    period_end: date | None = None
    plan: str | None = None
    notes: str | None = None
    #: Anything a custom template needs (PO number, project name, ...).
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return "Credit Note" if self.kind == "credit_note" else "Tax Invoice"

    @property
    def place_of_supply_name(self) -> str | None:
        return GST_STATES.get(self.place_of_supply) if self.place_of_supply else None

    @property
    def due(self) -> int:
        return self.total - self.amount_paid if self.amount_due is None else self.amount_due

    @property
    def words(self) -> str | None:
        if self.amount_in_words is not None:
            return self.amount_in_words
        return amount_in_words(self.total, self.currency)


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    """A Babel locale from "en_IN" or "en-IN"; one Babel does not know falls back to en_IN
    (a customer's stored locale must never make a document fail)."""
    try:
        return Locale.parse(name.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse("en_IN")


def format_money(minor: int, currency: str, locale: str) -> str:
    """``minor`` units of ``currency`` for people, with Babel: INR in en_IN is ₹1,00,000.00."""
    major = Money(minor, currency).to_decimal()
    return str(format_currency(major, currency, locale=_locale(locale)))


def format_amount(minor: int, currency: str, locale: str) -> str:
    """Like :func:`format_money` without the symbol (for table cells): 1,00,000.00."""
    babel_locale = _locale(locale)
    pattern = babel_locale.currency_formats["standard"].pattern
    bare = pattern.split(";")[0].replace("\u00a4", "").replace("\xa0", "").strip()
    major = Money(minor, currency).to_decimal()
    return str(
        format_currency(major, currency, format=bare, locale=babel_locale, currency_digits=True)
    )


def format_rate(rate: Decimal) -> str:
    """A percent rate without trailing zeros: 9%, 2.5%, 0%."""
    text = format(rate.normalize(), "f") if rate else "0"
    return f"{text}%"


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _package_template(name: str) -> str | None:
    path = resources.files("paystead.billing.pdf").joinpath("templates", name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


@lru_cache(maxsize=8)
def _environment(templates_dir: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        loaders.append(jinja2.FileSystemLoader(templates_dir))
    loaders.append(jinja2.FunctionLoader(_package_template))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["rate"] = format_rate
    env.filters["state"] = lambda code: GST_STATES.get(code, code) if code else ""
    return env


def render_html(
    doc: InvoiceDocument, template: str = "saas", *, templates_dir: str | Path | None = None
) -> str:
    """The document as HTML through ``template`` (``templates_dir`` searched first)."""
    if not isinstance(template, str) or not _NAME.fullmatch(template) or template == "base":
        raise UnknownTemplate(str(template))
    env = _environment(str(templates_dir) if templates_dir else None)
    try:
        tpl = env.get_template(f"{template}.html")
    except jinja2.TemplateNotFound:
        raise UnknownTemplate(template) from None

    def money(minor: int) -> str:
        return format_money(minor, doc.currency, doc.locale)

    def amount(minor: int) -> str:
        return format_amount(minor, doc.currency, doc.locale)

    return tpl.render(doc=doc, money=money, amount=amount)


def render_pdf(
    doc: InvoiceDocument, template: str = "saas", *, templates_dir: str | Path | None = None
) -> bytes:
    """The same HTML printed to PDF by WeasyPrint."""
    html = render_html(doc, template, templates_dir=templates_dir)
    from weasyprint import HTML

    pdf = HTML(string=html).write_pdf()
    assert pdf is not None
    return bytes(pdf)
