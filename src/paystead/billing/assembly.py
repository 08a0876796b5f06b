"""Builds the catalog, invoice, credit-note and balance services from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from paystead.billing.balance import BalanceService
from paystead.billing.catalog_store import CatalogStore
from paystead.billing.credit_notes import CreditNoteService
from paystead.billing.invoice_service import InvoiceService, seller_from_settings
from paystead.billing.tax.base import TaxEngine
from paystead.billing.tax.gst import GstTax
from paystead.billing.tax.rate_table import RateTableTax
from paystead.config import Settings
from paystead.payments.service import PaymentService
from paystead.platform.db import Database


@dataclass
class BillingCore:
    catalog: CatalogStore
    invoices: InvoiceService
    credit_notes: CreditNoteService
    balances: BalanceService


def tax_engine(settings: Settings) -> TaxEngine:
    """GST when the seller has a GSTIN, else the rate table (``PAYSTEAD_TAX_RATES``)."""
    if settings.seller_gstin:
        return GstTax()
    return RateTableTax(
        {k: Decimal(v) for k, v in settings.tax_rates.items()}, tax_name=settings.tax_name
    )


def build_billing_core(
    settings: Settings, db: Database, payments: PaymentService, clock: Callable[[], datetime]
) -> BillingCore:
    lock = timedelta(seconds=settings.idempotency_lock_seconds)
    seller = seller_from_settings(
        gstin=settings.seller_gstin,
        name=settings.seller_name,
        address=settings.seller_address,
        country=settings.seller_country,
    )
    return BillingCore(
        catalog=CatalogStore(db, clock, india=bool(settings.seller_gstin)),
        invoices=InvoiceService(
            db,
            payments,
            tax_engine(settings),
            seller,
            clock,
            invoice_series=settings.invoice_series,
            idempotency_lock=lock,
        ),
        credit_notes=CreditNoteService(
            db, payments, clock, series=settings.credit_note_series, idempotency_lock=lock
        ),
        balances=BalanceService(db, clock),
    )
