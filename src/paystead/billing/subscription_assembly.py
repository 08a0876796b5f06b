"""Builds subscriptions, test clocks, the billing run and dunning over the billing core."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paystead.billing.clocks import TestClockService
from paystead.billing.dunning import Dunning
from paystead.billing.invoice_service import InvoiceService
from paystead.billing.run import BillingRun
from paystead.billing.subscription_service import SubscriptionService
from paystead.config import Settings
from paystead.platform.db import Database


@dataclass
class SubscriptionBilling:
    subscriptions: SubscriptionService
    test_clocks: TestClockService
    run: BillingRun
    dunning: Dunning


def build_subscription_billing(
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime],
    *,
    invoices: InvoiceService,
    catalog: Any,
    usage: Any,
    coupons: Any,
) -> SubscriptionBilling:
    dunning = Dunning(
        db,
        invoices,
        retry_days=settings.dunning_retry_days,
        final_action=settings.dunning_final_action,
        clock=clock,
    )
    run = BillingRun(
        db,
        clock,
        invoices=invoices,
        catalog=catalog,
        usage=usage,
        coupons=coupons,
        dunning=dunning,
        upcoming_days=settings.invoice_upcoming_days,
    )
    clocks = TestClockService(db, clock)
    clocks.run_due = run.run_clock
    subscriptions = SubscriptionService(db, clock, catalog=catalog, coupons=coupons, run=run)
    return SubscriptionBilling(subscriptions, clocks, run, dunning)
